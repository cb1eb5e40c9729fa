package loader_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netwarden/netwarden/internal/e2emodel"
	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// FuzzLoad feeds arbitrary bytes to the loader. It must never panic; it either fails with
// loader.Errors that name the file and say something, or returns a cluster that compiles
// (validation must refuse everything the evaluator cannot read) and decides without panic.
func FuzzLoad(f *testing.F) {
	for _, root := range []string{"testdata", "../../examples"} {
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.Contains(".yaml.yml.json", filepath.Ext(path)) {
				if data, err := os.ReadFile(path); err == nil {
					f.Add(data)
				}
			}
			return nil
		})
	}
	for i, c := range e2emodel.Cases() {
		if i%8 == 0 {
			f.Add([]byte(c.Manifests))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := loader.LoadBytes("fuzz.yaml", data, loader.Options{Skipped: func(model.Source, string, string, string) {}})
		if err != nil {
			var errs loader.Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error is not loader.Errors: %T %v", err, err)
			}
			for _, e := range errs {
				if e.Source.File != "fuzz.yaml" || e.Msg == "" {
					t.Fatalf("error without file or message: %+v", e)
				}
			}
			return
		}
		e, err := policy.Compile(c)
		if err != nil {
			t.Fatalf("loaded (validated) input does not compile: %v", err)
		}
		ports := []policy.Port{{Proto: policy.ProtoTCP, Num: 80}, {Proto: policy.ProtoUDP, Num: 53}, {Proto: policy.ProtoICMP}}
		n := min(len(e.Pods), 6)
		for a := range n {
			for b := range n {
				s, d := e.PodPair(int32(a), int32(b))
				for _, p := range ports {
					if v := e.Decide(s, d, p); v.Allowed != e.Explain(s, d, p).Allowed {
						t.Fatalf("Explain and Decide disagree on %s -> %s %s", e.Pods[a].Key, e.Pods[b].Key, p)
					}
				}
			}
		}
	})
}
