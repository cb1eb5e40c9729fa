package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// outputCase is a command line and what its output must and must not contain; code is
// the exit code wanted, or -1 for any.
type outputCase struct {
	name string
	args []string
	code int
	want []string
	not  []string
}

func checkOutputs(t *testing.T, cases []outputCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, tc.args...)
			if tc.code >= 0 && code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, errOut)
			}
			all := out + errOut
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%.3000s", w, all)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(all, w) {
					t.Errorf("output has %q:\n%.3000s", w, all)
				}
			}
		})
	}
}

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestLintExitCodes(t *testing.T) {
	dir := t.TempDir()
	clean := filepath.Join("..", "..", "pkg", "analysis", "testdata", "lint", "clean.yaml")
	typo := filepath.Join(dir, "typo.yaml")
	if err := os.WriteFile(typo, []byte(`apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: shop}
spec: {podSelector: {matchLabels: {app: wbe}}, policyTypes: [Ingress, Egress]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"a clean cluster passes", []string{"lint", "-f", clean}, ExitOK, "0 errors, 0 warnings, 0 info"},
		{"warnings do not fail the default gate", []string{"lint", "-f", typo}, ExitOK, "NW201"},
		{"warnings fail --fail-on warning", []string{"lint", "-f", typo, "--fail-on", "warning"}, ExitGate, "did you mean app=web?"},
		{"info findings fail --fail-on info", []string{"lint", "-f", typo, "--fail-on", "info"}, ExitGate, ""},
		{"--fail-on none never fails", []string{"lint", "-f", typo, "--fail-on", "none"}, ExitOK, ""},
		{"a clean cluster passes even --fail-on info", []string{"lint", "-f", clean, "--fail-on", "info"}, ExitOK, ""},
		{"an unknown severity is bad input", []string{"lint", "-f", typo, "--fail-on", "fatal"}, ExitInput, ""},
		{"an unknown format is bad input", []string{"lint", "-f", typo, "-o", "xml"}, ExitInput, ""},
		{"no input is bad input", []string{"lint"}, ExitInput, ""},
		{"SARIF output is JSON", []string{"lint", "-f", typo, "-o", "sarif"}, ExitOK, `"version": "2.1.0"`},
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
	_, out, _ := run(t, "lint", "-f", typo, "-o", "json")
	var v struct {
		Findings []struct{ Rule, Severity string }
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v.Findings) == 0 {
		t.Fatalf("json output: %v\n%s", err, out)
	}
}
