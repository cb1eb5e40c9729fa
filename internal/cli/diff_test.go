package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestDiffExitCodes(t *testing.T) {
	td := filepath.Join("..", "..", "pkg", "render", "testdata", "diff")
	base, head := filepath.Join(td, "base"), filepath.Join(td, "head")
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"changes without --fail-on-change exit 0", []string{"diff", "--base", base, "--head", head}, ExitOK, "newly allowed (1)"},
		{"changes with --fail-on-change exit 2", []string{"diff", "--base", base, "--head", head, "--fail-on-change"}, ExitChanged, "newly denied (1)"},
		{"no change with --fail-on-change exits 0", []string{"diff", "--base", base, "--head", base, "--fail-on-change"}, ExitOK, "no changes"},
		{"-f is the head", []string{"diff", "--base", base, "-f", head, "--fail-on-change"}, ExitChanged, ""},
		{"markdown for pull requests", []string{"diff", "--base", base, "--head", head, "-o", "md"}, ExitOK, "#### Newly allowed"},
		{"grouping by pods", []string{"diff", "--base", base, "--head", head, "--group", "pods"}, ExitOK, "shop/frontend -> shop/postgres"},
		{"--port limits the probes", []string{"diff", "--base", base, "--head", head, "--port", "80/TCP", "--fail-on-change"}, ExitChanged, "pods added (1)"},
		{"no base is bad input", []string{"diff", "--head", head}, ExitInput, ""},
		{"no head is bad input", []string{"diff", "--base", base}, ExitInput, ""},
		{"--base with --base-cluster is bad input", []string{"diff", "--base", base, "--base-cluster", "--head", head}, ExitInput, ""},
		{"an unknown grouping is bad input", []string{"diff", "--base", base, "--head", head, "--group", "nodes"}, ExitInput, ""},
		{"an unknown format is bad input", []string{"diff", "--base", base, "--head", head, "-o", "csv"}, ExitInput, ""},
		{"a bad port is bad input", []string{"diff", "--base", base, "--head", head, "--port", "http"}, ExitInput, ""},
		{"--audit shows what enforcing the staged policies would cut", []string{"diff", "--audit", "-f", filepath.Join("..", "..", "examples", "audit-rollout"), "--fail-on-change"}, ExitChanged, "default/batch -> default/api on 8080/TCP"},
		{"--audit without staged policies changes nothing", []string{"diff", "--audit", "-f", head, "--fail-on-change"}, ExitOK, "no changes"},
		{"--audit with a base is bad input", []string{"diff", "--audit", "--base", base, "-f", head}, ExitInput, ""},
		{"a missing path is bad input", []string{"diff", "--base", filepath.Join(td, "nope"), "--head", head}, ExitInput, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := run(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errs)
			}
			if !strings.Contains(out, tc.out) {
				t.Fatalf("stdout lacks %q:\n%s", tc.out, out)
			}
		})
	}
	_, out, _ := run(t, "diff", "--base", base, "--head", head, "-o", "json")
	var v struct {
		Version int
		Summary struct{ Changed bool }
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Version != 1 || !v.Summary.Changed {
		t.Fatalf("json output: %v %+v\n%s", err, v, out)
	}
}
