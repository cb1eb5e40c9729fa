package render

import (
	"bytes"
	"testing"

	"github.com/netwarden/netwarden/pkg/analysis"
	"github.com/netwarden/netwarden/pkg/policy"
)

// A pull request on the default-deny shop: a worker is added, the frontend may now reach
// postgres (allowed on the postgres side and the frontend's egress), and the api's egress to
// postgres moves to a port postgres does not listen on.
func TestDiffGolden(t *testing.T) {
	base, head := engineOf(t, "testdata/diff/base"), engineOf(t, "testdata/diff/head")
	for _, tc := range []struct {
		name string
		opts analysis.DiffOptions
	}{
		{"workloads", analysis.DiffOptions{}},
		{"pods", analysis.DiffOptions{Group: func(e *policy.Engine) *analysis.Grouping { return analysis.NewGrouping(e, analysis.ByPods) }}},
	} {
		r := analysis.Diff(base, head, tc.opts)
		for _, format := range DiffFormats {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				var b bytes.Buffer
				if err := Diff(&b, r, format); err != nil {
					t.Fatal(err)
				}
				golden(t, "diff/"+tc.name+"."+format, b.Bytes())
			})
		}
	}
	t.Run("no changes", func(t *testing.T) {
		r := analysis.Diff(base, base, analysis.DiffOptions{})
		for _, format := range DiffFormats {
			var b bytes.Buffer
			if err := Diff(&b, r, format); err != nil {
				t.Fatal(err)
			}
			golden(t, "diff/unchanged."+format, b.Bytes())
		}
	})
}
