package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

var seedDir = filepath.Join("..", "..", "examples", "seed")

func requireRootForVerify(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: verify builds network namespaces and needs root (run the tests as root)")
	}
}

func TestVerifyExitCodes(t *testing.T) {
	requireRootForVerify(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"the dataplane agrees with the evaluator on the seed", []string{"verify", "-f", seedDir}, ExitOK, "AGREE: real packets did what the evaluator predicts on all 16 probes"},
		{"bridged nodes agree too", []string{"verify", "-f", seedDir, "--mode", "bridge", "--nodes", "3"}, ExitOK, "AGREE"},
		{"without enforcement the packets differ and each difference is explained", []string{"verify", "-f", seedDir, "--no-enforce"}, ExitGate, "default/analytics -> default/db on 5432/TCP (IPv4): packets allowed (connected), evaluator denied"},
		{"a bad mode is bad input", []string{"verify", "-f", seedDir, "--mode", "overlay"}, ExitInput, ""},
		{"a bad family is bad input", []string{"verify", "-f", seedDir, "--ip-family", "5"}, ExitInput, ""},
		{"an unknown format is bad input", []string{"verify", "-f", seedDir, "-o", "yaml"}, ExitInput, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := run(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, stderr)
			}
			if !strings.Contains(out, tc.out) {
				t.Errorf("stdout lacks %q:\n%s", tc.out, out)
			}
		})
	}
}

func TestVerifyJSONHasTheMatrixShapePlusPredicted(t *testing.T) {
	requireRootForVerify(t)
	code, out, stderr := run(t, "verify", "-f", seedDir, "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Ports   []string         `json:"ports"`
		Pods    []string         `json:"pods"`
		Results []map[string]any `json:"results"`
		Agree   bool             `json:"agree"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Pods) != 4 || len(doc.Results) != 16 || !doc.Agree {
		t.Fatalf("pods %v, %d results, agree %v", doc.Pods, len(doc.Results), doc.Agree)
	}
	for _, k := range []string{"from", "to", "port", "allowed", "egress", "ingress", "predicted"} {
		if _, ok := doc.Results[0][k]; !ok {
			t.Errorf("result lacks %q: %v", k, doc.Results[0])
		}
	}
}

// TestVerifyNeedsRoot runs verify in a child process as nobody.
func TestVerifyNeedsRoot(t *testing.T) {
	if os.Getenv("NETWARDEN_VERIFY_CHILD") == "1" {
		code, _, stderr := run(t, "verify", "-f", seedDir)
		os.Stderr.WriteString(stderr)
		os.Exit(code)
	}
	requireRootForVerify(t)
	// The test binary's own directory is private to root: run a copy nobody can execute.
	dir, err := os.MkdirTemp("", "netwarden-verify-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "cli.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestVerifyNeedsRoot$")
	cmd.Env = append(os.Environ(), "NETWARDEN_VERIFY_CHILD=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != ExitRuntime {
		t.Fatalf("child: %v, want exit %d\n%s", err, ExitRuntime, out)
	}
	if !strings.Contains(string(out), "needs root") {
		t.Errorf("message does not say root is needed:\n%s", out)
	}
}
