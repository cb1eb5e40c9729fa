package render

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netwarden/netwarden/pkg/analysis"
	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/policy"
)

// -update rewrites golden files. It is registered only if another test file of the
// package has not done so already.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if updating() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", path, got)
	}
}

func engineOf(t *testing.T, paths ...string) *policy.Engine {
	t.Helper()
	c, err := loader.Load(paths, loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := policy.Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Lint output for every example, in every format.
func TestLintGolden(t *testing.T) {
	dirs, _ := filepath.Glob("../../examples/*")
	for _, dir := range dirs {
		name := filepath.Base(dir)
		r := analysis.Lint(engineOf(t, dir), analysis.LintOptions{SkipNamespaces: analysis.DefaultSkipNamespaces})
		for _, format := range LintFormats {
			t.Run(name+"/"+format, func(t *testing.T) {
				var b bytes.Buffer
				opts := LintOptions{Version: "test", Line: ManifestLines()}
				if err := Lint(&b, r, format, opts); err != nil {
					t.Fatal(err)
				}
				// Paths relative to the repository root, as a user running from there sees them.
				out := strings.ReplaceAll(b.String(), "../../examples/", "examples/")
				golden(t, "lint/"+name+"."+format, []byte(out))
			})
		}
	}
}

func TestSarifShape(t *testing.T) {
	r := analysis.Lint(engineOf(t, "../../examples/seed"), analysis.LintOptions{})
	log := Sarif(r, LintOptions{Line: ManifestLines()})
	if log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Fatalf("version %q, %d runs", log.Version, len(log.Runs))
	}
	run := log.Runs[0]
	if len(run.Tool.Driver.Rules) != len(analysis.LintRules) {
		t.Fatalf("%d rules in the driver, want %d", len(run.Tool.Driver.Rules), len(analysis.LintRules))
	}
	for _, res := range run.Results {
		if run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID {
			t.Errorf("result %s points at rule %d", res.RuleID, res.RuleIndex)
		}
		if !slices.Contains([]string{"error", "warning", "note"}, res.Level) {
			t.Errorf("level %q", res.Level)
		}
	}
	// A pod finding points at its manifest and the line its document starts on.
	found := false
	for _, res := range run.Results {
		if pl := res.Locations[0].PhysicalLocation; pl != nil && strings.HasSuffix(pl.ArtifactLocation.URI, "examples/seed/pods.yaml") && res.Locations[0].LogicalLocations[0].Name == "db" {
			found = true
			if pl.Region == nil || pl.Region.StartLine != 26 {
				t.Errorf("db's region %+v, want line 26", pl.Region)
			}
		}
	}
	if !found {
		t.Error("no finding located at examples/seed/pods.yaml for the db pod")
	}
}

func TestDocumentStarts(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []int
	}{
		{"one document", "a: 1\n", []int{1}},
		{"a leading separator starts no document", "---\na: 1\n---\nb: 2\n", []int{2, 4}},
		{"comments and blank lines are skipped to the content", "# c\n\na: 1\n--- # next\n\n# c\nb: 2", []int{3, 7}},
		{"repeated separators make no empty document", "a: 1\n---\n---\nb: 2\n", []int{1, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := DocumentStarts([]byte(tc.in)); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
