package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cluster")
	_, stderr, code := runCLI("gen", "--pods", "60", "--policies", "25", "--namespaces", "4", "--admin", "--seed", "5", "-o", dir)
	if code != 0 || !strings.Contains(stderr, "60 pods") {
		t.Fatalf("gen -o DIR: exit %d: %s", code, stderr)
	}
	for _, f := range []string{"cluster.yaml", "admin.yaml", "ns-payments.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("no %s: %v", f, err)
		}
	}
	fromDir, stderr, code := runCLI("matrix", "-f", dir, "-o", "json")
	if code != 0 {
		t.Fatalf("matrix of the generated cluster: exit %d: %s", code, stderr)
	}

	tests := []struct {
		name string
		args []string
	}{
		{"the same seed on stdout is the same cluster", []string{"gen", "--pods", "60", "--policies", "25", "--namespaces", "4", "--admin", "--seed", "5", "-o", "-"}},
		{"JSON Lists are the same cluster", []string{"gen", "--pods", "60", "--policies", "25", "--namespaces", "4", "--admin", "--seed", "5", "--format", "json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stream, stderr, code := runCLI(tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var out, errb strings.Builder
			code = Main([]string{"matrix", "-f", "-", "-o", "json"}, strings.NewReader(stream), &out, &errb)
			if code != 0 || out.String() != fromDir {
				t.Fatalf("matrix -f - of the stream: exit %d, same as the directory's: %v: %s", code, out.String() == fromDir, errb.String())
			}
		})
	}

	for _, bad := range [][]string{
		{"gen", "--format", "toml"},
		{"gen", "--pods", "-1"},
		{"gen", "--namespaces", "0"},
	} {
		if _, _, code := runCLI(bad...); code != ExitInput {
			t.Errorf("%v: exit %d, want %d", bad, code, ExitInput)
		}
	}
}
