package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/netwarden/netwarden/pkg/analysis"
	"github.com/netwarden/netwarden/pkg/policy"
)

// A matrix between workloads marks cells whose members disagree with "~" and says so;
// CSV gains a mixed column, and only for a grouped matrix.
func TestGroupedMatrixMarksMixedCells(t *testing.T) {
	e := engineOf(t, "testdata/shop")
	opts := analysis.MatrixOptions{Ports: []policy.Port{{Proto: policy.ProtoTCP, Num: 5432}}}
	grouped := analysis.MatrixBy(e, analysis.ByWorkloads, opts)
	cases := []struct {
		name   string
		m      *analysis.Matrix
		format string
		want   []string
		not    []string
	}{
		{"the table marks a mixed cell and explains the mark", grouped, "table",
			[]string{"\nbatch/{app=worker} X X X X X X ~\n", "~ mixed (allowed for some members of a group)"}, nil},
		{"markdown too", grouped, "md", []string{"| batch/{app=worker} | X | X | X | X | X | X | ~ |"}, nil},
		{"csv of a grouped matrix has a mixed column", grouped, "csv",
			[]string{"from,to,port,allowed,egress,ingress,mixed", "batch/{app=worker},shop/StatefulSet/db,5432/TCP,false,true,false,true"}, nil},
		{"csv of a pod matrix keeps its columns", analysis.MatrixBy(e, analysis.ByPods, opts), "csv",
			[]string{"from,to,port,allowed,egress,ingress\n"}, []string{"mixed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Matrix(&b, tc.m, tc.format); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if tc.format == "table" { // compare cells, not column padding
				lines := strings.Split(out, "\n")
				for i, l := range lines {
					lines[i] = strings.Join(strings.Fields(l), " ")
				}
				out = strings.Join(lines, "\n")
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(b.String(), w) {
					t.Errorf("output has %q:\n%s", w, b.String())
				}
			}
		})
	}
}
