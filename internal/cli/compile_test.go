package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompile(t *testing.T) {
	td := filepath.Join("..", "..", "pkg", "dataplane", "testdata")
	seed := filepath.Join(td, "seed.yaml")
	golden, err := os.ReadFile(filepath.Join(td, "seed.nft"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		out, notIn string
		errs       string
	}{
		{"--node prints the node's program (the dataplane's golden file)", []string{"compile", "-f", seed, "--node", "node-a", "--log-group", "0"}, ExitOK, string(golden), "", ""},
		{"the agent's defaults log denials under the deciding account", []string{"compile", "-f", seed, "--node", "node-a"}, ExitOK, `log prefix "nw:d:acct_iso_`, "", ""},
		{"--log-group 0 logs nothing", []string{"compile", "-f", seed, "--node", "node-a", "--log-group", "0"}, ExitOK, "counter acct_", "log prefix", ""},
		{"only the node's pods are subjects", []string{"compile", "-f", seed, "--node", "node-b"}, ExitOK, "10.0.2.10 . 10.0.2.10", "jump in-", ""},
		{"--all-local makes every pod local", []string{"compile", "-f", seed, "--node", "node-b", "--all-local"}, ExitOK, "10.0.1.20 : jump in-", "", ""},
		{"--table names the table", []string{"compile", "-f", seed, "--table", "nw2"}, ExitOK, "table inet nw2 {", "", ""},
		{"pods without addresses are reported", []string{"compile", "-f", filepath.Join("..", "..", "examples", "seed")}, ExitOK, "table inet netwarden", "", "default/db has no IP address"},
		{"a node without pods is reported", []string{"compile", "-f", seed, "--node", "nope"}, ExitOK, "table inet netwarden", "", `no pod has spec.nodeName "nope"`},
		{"no input is bad input", []string{"compile"}, ExitInput, "", "", "no input"},
		{"a bad table name is bad input", []string{"compile", "-f", seed, "--table", "a b"}, ExitInput, "", "", "table name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := run(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errs)
			}
			if !strings.Contains(out, tc.out) || tc.notIn != "" && strings.Contains(out, tc.notIn) {
				t.Fatalf("stdout should contain %q and not %q:\n%s", tc.out, tc.notIn, out)
			}
			if !strings.Contains(errs, tc.errs) {
				t.Fatalf("stderr lacks %q:\n%s", tc.errs, errs)
			}
		})
	}
}
