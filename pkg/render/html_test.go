package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/netwarden/netwarden/pkg/analysis"
)

func htmlReport(t *testing.T, dir string, by analysis.GroupBy, opts HTMLOptions) []byte {
	t.Helper()
	v, g := pictureOf(t, dir, by, analysis.BlockedAuto)
	var b bytes.Buffer
	if err := HTML(&b, v, g, opts); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// reportData extracts the JSON the page's script reads.
func reportData(t *testing.T, page []byte) *htmlData {
	t.Helper()
	m := regexp.MustCompile(`(?s)<script type="application/json" id="nw-data">(.*?)</script>`).FindSubmatch(page)
	if m == nil {
		t.Fatal("no embedded data")
	}
	var d htmlData
	if err := json.Unmarshal(m[1], &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

// The report must open with no network: nothing in it may load from anywhere.
func TestHTMLIsSelfContained(t *testing.T) {
	page := htmlReport(t, "testdata/shop", analysis.ByWorkloads, HTMLOptions{Title: "shop", InputArgs: []string{"-f", "testdata/shop"}})
	// The SVG namespace is a name, not a fetch; nothing else may name a URL.
	rest := bytes.ReplaceAll(page, []byte(`xmlns="http://www.w3.org/2000/svg"`), nil)
	// url(#id) names a marker in the page itself; any other url( would load something.
	for _, bad := range []string{`https?://`, `//cdn`, `src=`, `@import`, `url\([^#]`, `<link`, `fetch\(`, `XMLHttpRequest`, `<iframe`} {
		if loc := regexp.MustCompile(bad).FindIndex(rest); loc != nil {
			t.Errorf("report contains %q: …%s…", bad, rest[max(0, loc[0]-60):min(len(rest), loc[1]+60)])
		}
	}
	if !bytes.Contains(page, []byte("Content-Security-Policy")) || !bytes.Contains(page, []byte("default-src 'none'")) {
		t.Error("report lacks the CSP that forbids network access")
	}
	// Same input, same bytes.
	if again := htmlReport(t, "testdata/shop", analysis.ByWorkloads, HTMLOptions{Title: "shop", InputArgs: []string{"-f", "testdata/shop"}}); !bytes.Equal(page, again) {
		t.Error("two reports of the same input differ")
	}
}

func TestHTMLDataOnTheSeed(t *testing.T) {
	d := reportData(t, htmlReport(t, "../../examples/seed", analysis.ByWorkloads, HTMLOptions{InputArgs: []string{"-f", "examples/seed"}}))
	var names []string
	for _, g := range d.Groups {
		names = append(names, g.Name)
	}
	if got := strings.Join(names, " "); got != "default/analytics default/backend default/db default/logging" {
		t.Fatalf("groups %s", got)
	}
	// Rows are sources: analytics and logging are denied into db, backend allowed by the
	// policy, everything else allowed with nothing restricting it.
	want := map[[2]int]string{{0, 2}: "D", {1, 2}: "A", {3, 2}: "D", {0, 1}: "a", {2, 2}: "a"}
	for k, c := range want {
		if got := d.cell(k[0], k[1]); got != c {
			t.Errorf("cell %s -> %s = %q, want %q", names[k[0]], names[k[1]], got, c)
		}
	}
	x := d.Explain["0,2,0"]
	if len(x) != 1 || x[0].Allowed || x[0].Ingress.Policy != "NetworkPolicy default/db-allow-backend" {
		t.Fatalf("explanation of analytics -> db: %+v", x)
	}
	if steps := d.Steps[x[0].IngressSteps]; len(steps) != 1 || steps[0].Policy != "NetworkPolicy default/db-allow-backend" || steps[0].Matched {
		t.Errorf("ingress steps of analytics -> db: %+v", steps)
	}
	// logging -> db walks the same ingress steps: the list is stored once.
	if y := d.Explain["3,2,0"]; len(y) != 1 || y[0].IngressSteps != x[0].IngressSteps {
		t.Errorf("logging -> db does not share the ingress steps of analytics -> db")
	}
	if d.ExplainShown != d.ExplainTotal || d.ExplainTotal != 16 || d.Input != "-f examples/seed" {
		t.Errorf("explanations %d of %d, input %q", d.ExplainShown, d.ExplainTotal, d.Input)
	}
}

func TestHTMLExplainLimit(t *testing.T) {
	cases := []struct {
		name  string
		limit int
		want  int
	}{
		{"the default keeps every explanation of a small cluster", 0, -1},
		{"a limit keeps that many", 5, 5},
		{"a negative limit keeps none", -1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := reportData(t, htmlReport(t, "testdata/shop", analysis.ByWorkloads, HTMLOptions{ExplainLimit: tc.limit}))
			want := tc.want
			if want < 0 {
				want = d.ExplainTotal
			}
			if d.ExplainShown != want || len(d.Explain) != want {
				t.Fatalf("%d explanations (%d in the map), want %d of %d", d.ExplainShown, len(d.Explain), want, d.ExplainTotal)
			}
		})
	}
	// Under a limit, mixed cells come first, then denied ones: the cells people click.
	d := reportData(t, htmlReport(t, "testdata/shop", analysis.ByWorkloads, HTMLOptions{ExplainLimit: 3}))
	var kinds []string
	for key, xs := range d.Explain {
		var from, to, k int
		if _, err := fmt.Sscanf(key, "%d,%d,%d", &from, &to, &k); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, string(d.cell(from, to)[k]))
		if d.cell(from, to)[k] == 'M' && len(xs) != 2 {
			t.Errorf("mixed cell %s has %d walks, want an allowed and a denied one", key, len(xs))
		}
	}
	if strings.Count(strings.Join(kinds, ""), "M") != 1 || strings.Count(strings.Join(kinds, ""), "D") != 2 {
		t.Errorf("limit 3 kept cells %v, want the mixed one and two denied", kinds)
	}
}

// cell is the characters of one cell, as the page's script reads them.
func (d *htmlData) cell(from, to int) string {
	g := d.Groups[to]
	return d.Rows[from][g.Off : g.Off+len(g.Ports)]
}
