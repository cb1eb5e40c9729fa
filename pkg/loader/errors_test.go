package loader_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netwarden/netwarden/pkg/loader"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestErrorsGolden loads each bad manifest under testdata/errors and compares the error text
// with NAME.golden. Every line of it must name the file and the document; the golden text
// shows the object and the field.
func TestErrorsGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			_, err := loader.Load([]string{f}, loader.Options{})
			if err == nil {
				t.Fatal("loaded without error")
			}
			var errs loader.Errors
			if !asErrors(err, &errs) {
				t.Fatalf("error is %T, want loader.Errors: %v", err, err)
			}
			got := err.Error() + "\n"
			for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
				if !strings.HasPrefix(line, f+" (document ") {
					t.Errorf("line does not start with the file and document: %q", line)
				}
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("error text differs from %s (run with -update to accept)\ngot:\n%swant:\n%s", golden, got, want)
			}
		})
	}
}

func asErrors(err error, into *loader.Errors) bool {
	es, ok := err.(loader.Errors)
	*into = es
	return ok
}
