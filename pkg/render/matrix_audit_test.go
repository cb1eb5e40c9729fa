package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/netwarden/netwarden/pkg/analysis"
	"github.com/netwarden/netwarden/pkg/policy"
)

const auditRollout = "../../examples/audit-rollout"

// The audit rollout example in every matrix format and both views: the pair the staged
// policy would cut keeps today's verdict with a mark (enforced view), or shows the
// staged verdict with the same mark (with-audit view).
func TestMatrixAuditGolden(t *testing.T) {
	e := engineOf(t, auditRollout)
	for _, view := range []policy.View{policy.Enforced, policy.WithAudit} {
		for _, by := range []analysis.GroupBy{analysis.ByPods, analysis.ByWorkloads} {
			opts := analysis.MatrixOptions{View: view, Audit: true}
			m := analysis.MatrixBy(e, by, opts)
			for _, format := range []string{"table", "json", "csv", "md"} {
				name := "audit-rollout." + view.String() + "." + string(by) + "." + format
				t.Run(name, func(t *testing.T) {
					var b bytes.Buffer
					if err := Matrix(&b, m, format); err != nil {
						t.Fatal(err)
					}
					golden(t, "audit/"+name, b.Bytes())
				})
			}
		}
	}
}

// Marks appear only where the views differ, the legend line only with marks, and
// --audit-marks=false (Audit unset) prints the matrix as before.
func TestMatrixAuditMarksAndLegend(t *testing.T) {
	e := engineOf(t, auditRollout)
	table := func(opts analysis.MatrixOptions) string {
		var b bytes.Buffer
		if err := Matrix(&b, analysis.ComputeMatrix(e, opts), "table"); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(b.String(), "\n")
		for i, l := range lines {
			lines[i] = strings.Join(strings.Fields(l), " ")
		}
		return strings.Join(lines, "\n")
	}
	cases := []struct {
		name string
		opts analysis.MatrixOptions
		want []string
		not  []string
	}{
		{"the enforced view marks the allowed pair the staged policy would deny", analysis.MatrixOptions{Audit: true},
			[]string{"\ndefault/batch .! . .\n", "!: enforcing the audit (staged) policies would change it", "1 would be denied, 0 allowed"}, []string{"X"}},
		{"the with-audit view shows it denied, marked", analysis.MatrixOptions{Audit: true, View: policy.WithAudit},
			[]string{"\ndefault/batch X! . .\n", "verdicts as if the audit (staged) policies were enforced"}, nil},
		{"without marks the with-audit view is the plain staged matrix", analysis.MatrixOptions{View: policy.WithAudit},
			[]string{"\ndefault/batch X . .\n"}, []string{"!"}},
		{"without marks the table has no mark and no legend line", analysis.MatrixOptions{},
			[]string{"\ndefault/batch . . .\n"}, []string{"!", "audit"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := table(tc.opts)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			// The grid (past its title line) and, when there are no marks, the legend.
			grid, legend, _ := strings.Cut(out[strings.Index(out, "\n"):], "\n\n")
			for _, w := range tc.not {
				if strings.Contains(grid, w) || (!tc.opts.Audit && strings.Contains(legend, w)) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
	// Without audit policies, asking for marks prints what it always printed.
	seed := engineOf(t, "../../examples/seed")
	for _, format := range []string{"table", "json", "csv", "md"} {
		var plain, asked bytes.Buffer
		if err := Matrix(&plain, analysis.ComputeMatrix(seed, analysis.MatrixOptions{}), format); err != nil {
			t.Fatal(err)
		}
		if err := Matrix(&asked, analysis.ComputeMatrix(seed, analysis.MatrixOptions{Audit: true}), format); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(plain.Bytes(), asked.Bytes()) {
			t.Errorf("%s: asking for marks without audit policies changed the output", format)
		}
	}
}

// Pictures of the rollout: the edge the staged policy would cut is orange and dashed in
// the enforced view; the staged policy protects nothing there.
func TestPictureAuditGolden(t *testing.T) {
	e := engineOf(t, auditRollout)
	for _, view := range []policy.View{policy.Enforced, policy.WithAudit} {
		v := analysis.DecideGroups(e, analysis.NewGrouping(e, analysis.ByWorkloads), analysis.MatrixOptions{View: view, Audit: true})
		g := analysis.BuildGraph(v, analysis.GraphOptions{})
		for _, f := range []struct {
			ext  string
			draw func(*bytes.Buffer, *analysis.Graph) error
		}{
			{"mmd", func(b *bytes.Buffer, g *analysis.Graph) error { return Mermaid(b, g) }},
			{"dot", func(b *bytes.Buffer, g *analysis.Graph) error { return Dot(b, g) }},
		} {
			t.Run(view.String()+"."+f.ext, func(t *testing.T) {
				var b bytes.Buffer
				if err := f.draw(&b, g); err != nil {
					t.Fatal(err)
				}
				golden(t, "pictures/audit-rollout."+view.String()+"."+f.ext, b.Bytes())
			})
		}
	}
	// Enforced view: batch -> api is drawn although no enforced policy decides it.
	v := analysis.DecideGroups(e, analysis.NewGrouping(e, analysis.ByWorkloads), analysis.MatrixOptions{Audit: true})
	var b bytes.Buffer
	if err := Mermaid(&b, analysis.BuildGraph(v, analysis.GraphOptions{})); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`n1 -.->|"8080/TCP; audit would deny 8080/TCP"| n0`,
		"audit: not enforced",
		"class n0,n1,n2 group", // api is not protected today
		"linkStyle 0 stroke:" + colourAudit + ",stroke-width:2px,stroke-dasharray:6 4",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("mermaid lacks %q:\n%s", want, b.String())
		}
	}
}

// The report marks the changed cell and carries the counts; a report without audit
// policies has no audit data at all.
func TestHTMLAuditData(t *testing.T) {
	e := engineOf(t, auditRollout)
	v := analysis.DecideGroups(e, analysis.NewGrouping(e, analysis.ByWorkloads), analysis.MatrixOptions{Audit: true})
	var b bytes.Buffer
	if err := HTML(&b, v, analysis.BuildGraph(v, analysis.GraphOptions{}), HTMLOptions{Title: "t"}); err != nil {
		t.Fatal(err)
	}
	d := reportData(t, b.Bytes())
	if d.View != "enforced" || len(d.Audit) != 1 {
		t.Fatalf("view %q, audit %v; want enforced and one marked cell", d.View, d.Audit)
	}
	for k, c := range d.Audit {
		if c != [2]int32{1, 0} || len(d.Explain[k]) == 0 || d.Explain[k][0].Audit == nil {
			t.Errorf("cell %s: counts %v, explanation %+v; want 1 pair denied and the walk with the audit policies", k, c, d.Explain[k])
		}
	}
	if !strings.Contains(b.String(), `class="edge allowed audit"`) {
		t.Error("the graph has no orange edge")
	}
	page := htmlReport(t, "../../examples/seed", analysis.ByWorkloads, HTMLOptions{Title: "t"})
	if bytes.Contains(page, []byte(`"audit"`)) || bytes.Contains(page, []byte(`"view"`)) {
		t.Error("a report without audit policies has audit data")
	}
}
