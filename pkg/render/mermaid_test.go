package render

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/netwarden/netwarden/pkg/analysis"
)

// pictureCases are the clusters pictures are pinned on: the seed (one namespace, bare
// pods) and shop (five namespaces, workloads with several pods, an admin policy, egress
// isolation and a mixed cell).
var pictureCases = []struct {
	name    string
	dir     string
	by      analysis.GroupBy
	blocked analysis.Blocked
}{
	{"seed", "../../examples/seed", analysis.ByWorkloads, analysis.BlockedAuto},
	{"shop", "testdata/shop", analysis.ByWorkloads, analysis.BlockedAuto},
	{"shop-pods", "testdata/shop", analysis.ByPods, analysis.BlockedAuto},
	{"shop-no-blocked", "testdata/shop", analysis.ByWorkloads, analysis.BlockedNone},
}

func pictureOf(t *testing.T, dir string, by analysis.GroupBy, blocked analysis.Blocked) (*analysis.GroupVerdicts, *analysis.Graph) {
	t.Helper()
	e := engineOf(t, dir)
	v := analysis.DecideGroups(e, analysis.NewGrouping(e, by), analysis.MatrixOptions{})
	return v, analysis.BuildGraph(v, analysis.GraphOptions{Blocked: blocked})
}

func TestPictureGolden(t *testing.T) {
	for _, tc := range pictureCases {
		for _, f := range []struct {
			ext  string
			draw func(*bytes.Buffer, *analysis.Graph) error
		}{
			{"mmd", func(b *bytes.Buffer, g *analysis.Graph) error { return Mermaid(b, g) }},
			{"dot", func(b *bytes.Buffer, g *analysis.Graph) error { return Dot(b, g) }},
		} {
			t.Run(tc.name+"."+f.ext, func(t *testing.T) {
				_, g := pictureOf(t, tc.dir, tc.by, tc.blocked)
				var b, again bytes.Buffer
				if err := f.draw(&b, g); err != nil {
					t.Fatal(err)
				}
				// Same input, same bytes: pictures are diffed in review.
				_, g2 := pictureOf(t, tc.dir, tc.by, tc.blocked)
				if err := f.draw(&again, g2); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b.Bytes(), again.Bytes()) {
					t.Fatal("two runs on the same input drew different pictures")
				}
				golden(t, "pictures/"+tc.name+"."+f.ext, b.Bytes())
			})
		}
	}
}

// What a user draws by hand for the seed: db protected by its policy, backend's edge solid
// with the port, the others dashed, and nothing for the traffic no policy restricts.
func TestMermaidSeedReadsLikeTheHandDrawnPicture(t *testing.T) {
	_, g := pictureOf(t, "../../examples/seed", analysis.ByWorkloads, analysis.BlockedAuto)
	var b bytes.Buffer
	if err := Mermaid(&b, g); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`subgraph ns0["namespace default"]`,
		`n1 -->|"5432/TCP"| n2`, // backend -> db, solid, with its port
		`n0 -.->|"blocked"| n2`, // analytics -> db, dashed
		`n3 -.->|"blocked"| n2`, // logging -> db
		`p0 ---|"ingress"| n2`,  // the policy protecting db
		`class n2 protected`,    // db is isolated
		`9 of 12 workload pairs are not drawn`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("mermaid lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "n0 --> n1") || strings.Contains(out, "n0 -->|") {
		t.Errorf("mermaid draws traffic no policy restricts:\n%s", out)
	}
}

func TestPictureTextIsEscaped(t *testing.T) {
	cases := []struct {
		name, in, mermaid, dot string
	}{
		{"plain text stays", "web", `"web"`, `"web"`},
		{"quotes cannot end a mermaid label or a dot string", `a"b`, `"a#quot;b"`, `"a\"b"`},
		{"angle brackets cannot open html in mermaid", "<b>", `"#lt;b#gt;"`, `"<b>"`},
		{"backslashes are literal in dot", `a\b`, `"a\b"`, `"a\\b"`},
		{"newlines cannot break a dot statement", "a\nb", "\"a\nb\"", `"a b"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := mermaidText([]string{tc.in}); got != tc.mermaid {
				t.Errorf("mermaidText(%q) = %s, want %s", tc.in, got, tc.mermaid)
			}
			if got := dotText([]string{tc.in}); got != tc.dot {
				t.Errorf("dotText(%q) = %s, want %s", tc.in, got, tc.dot)
			}
		})
	}
	if got := mermaidText([]string{"a", "b"}); got != `"a<br/>b"` {
		t.Errorf("mermaid lines join with <br/>: %s", got)
	}
	if got := dotText([]string{"a", "b"}); got != `"a\nb"` {
		t.Errorf("dot lines join with \\n: %s", got)
	}
}

// Graphviz accepts every golden picture, when it is installed (apt-get install graphviz).
func TestDotGoldensParseWithGraphviz(t *testing.T) {
	dot, err := exec.LookPath("dot")
	if err != nil {
		skipUnlessRequired(t, "graphviz is not installed (apt-get install -y graphviz); dot syntax is checked only by the golden files")
	}
	for _, tc := range pictureCases {
		t.Run(tc.name, func(t *testing.T) {
			_, g := pictureOf(t, tc.dir, tc.by, tc.blocked)
			var b bytes.Buffer
			if err := Dot(&b, g); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(dot, "-Tsvg")
			cmd.Stdin = &b
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil || stderr.Len() > 0 {
				t.Fatalf("dot: %v: %s", err, stderr.String())
			}
			if !bytes.Contains(out, []byte("<svg")) {
				t.Fatalf("dot wrote no SVG")
			}
		})
	}
}
