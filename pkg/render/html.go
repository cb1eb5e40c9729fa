package render

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/netwarden/netwarden/pkg/analysis"
	"github.com/netwarden/netwarden/pkg/policy"
)

// The page's style and script, inlined into every report: the file must open with no
// network (air-gapped review, CI artifacts, mail attachments).
var (
	//go:embed assets/html.css
	htmlCSS string
	//go:embed assets/html.js
	htmlJS string
)

// DefaultExplainLimit bounds the explanations a report embeds. With its steps, a walk is
// one to three kilobytes of JSON in a cluster with admin policies (measured on a generated
// cluster of 5,000 pods), so 1,000 stay under about 3 MB.
const DefaultExplainLimit = 1000

// HTMLOptions tune the report.
type HTMLOptions struct {
	Title string
	// InputArgs are the command-line arguments that read the same input ("-f", "dir",
	// "--context", "prod"), so the page can print explain commands for the cells whose
	// explanations it does not embed.
	InputArgs []string
	// ExplainLimit caps embedded explanations (0: DefaultExplainLimit; negative: none).
	// Mixed cells come first, then denied ones, then cells a policy allowed, then cells
	// nothing restricts; the page says how many it has.
	ExplainLimit int
}

// htmlData is the JSON the page's script reads.
type htmlData struct {
	Title      string      `json:"title"`
	GroupBy    string      `json:"groupBy"`
	Input      string      `json:"input"`
	Namespaces []string    `json:"namespaces"`
	Ports      []string    `json:"ports"`
	Groups     []htmlGroup `json:"groups"`
	// Rows[from] has one character per port each destination is probed on, destination
	// after destination (Groups[to].Off is where to's characters start, Groups[to].Ports
	// how many): A allowed by a policy, a allowed with nothing restricting it, D denied,
	// M mixed (members disagree). One string per row keeps a large report small.
	Rows []string `json:"rows"`
	// Pairs["from,to,k"] is [allowed pairs, pairs] for every mixed cell.
	Pairs map[string][2]int32 `json:"pairs"`
	// View is the view the cells show ("with-audit": as if audit policies were enforced),
	// set only when the input has audit (staged) policies.
	View string `json:"view,omitempty"`
	// Audit["from,to,k"] is [would deny, would allow] member pairs for every cell that
	// enforcing the audit policies would change; only in marked reports.
	Audit map[string][2]int32 `json:"audit,omitempty"`
	// Explain["from,to,k"] holds the walks behind a cell: the allowed witness, the denied
	// witness, or both for a mixed cell. Their step lists are in Steps, each list once:
	// many walks share them (every source denied into one target walks the same rules).
	Explain       map[string][]htmlExplanation `json:"explain"`
	Steps         [][]policy.Step              `json:"steps"`
	ExplainShown  int                          `json:"explainShown"`
	ExplainTotal  int                          `json:"explainTotal"`
	ExplainLimit  int                          `json:"explainLimit"`
	Warnings      []string                     `json:"warnings"`
	Notes         []string                     `json:"notes"`
	PolicyCount   int                          `json:"policyCount"`
	PodCount      int                          `json:"podCount"`
	MermaidSource string                       `json:"mermaid"`
}

// htmlExplanation is an explanation whose step lists are indices into htmlData.Steps.
type htmlExplanation struct {
	policy.Explanation
	EgressSteps  int `json:"egressSteps"`
	IngressSteps int `json:"ingressSteps"`
}

type htmlGroup struct {
	Name  string   `json:"name"`
	Label string   `json:"label"`
	NS    int      `json:"ns"`
	Kind  string   `json:"kind"`
	Pods  []string `json:"pods"`
	Ports []int    `json:"ports"`
	Off   int      `json:"off"`
}

// HTML writes one self-contained page: the graph as inline SVG, the matrix as a colour
// grid with namespace, port and name filters, and the explain walk of a cell on click.
func HTML(w io.Writer, v *analysis.GroupVerdicts, g *analysis.Graph, opts HTMLOptions) error {
	if opts.ExplainLimit == 0 {
		opts.ExplainLimit = DefaultExplainLimit
	}
	d := buildHTMLData(v, g, opts)
	if len(g.Edges) <= svgMaxEdges { // past it, the source is megabytes nobody pastes
		var mm strings.Builder
		if err := Mermaid(&mm, g); err != nil {
			return err
		}
		d.MermaidSource = mm.String()
	}
	js, err := json.Marshal(d) // escapes <, > and &, so it cannot end the script element
	if err != nil {
		return err
	}
	svg := htmlGraphSVG(v, g)
	title := html.EscapeString(opts.Title)
	b := &strings.Builder{}
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	// No network: forbid every fetch, so a report can never call out, even if edited.
	b.WriteString("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n")
	fmt.Fprintf(b, "<title>%s</title>\n<style>\n%s</style>\n</head>\n<body>\n", title, htmlCSS)
	fmt.Fprintf(b, "<header><h1>%s</h1><p id=\"summary\"></p><ul id=\"warnings\"></ul></header>\n", title)
	b.WriteString(`<section id="controls" aria-label="filters">
<fieldset id="ns-filter"><legend>Namespaces</legend></fieldset>
<label>Port <select id="port-filter"><option value="">all probed ports</option></select></label>
<label>Name <input id="name-filter" type="search" placeholder="filter groups"></label>
<label><input id="hide-default" type="checkbox"> hide rows and columns nothing restricts</label>
</section>
`)
	b.WriteString("<section id=\"graph-section\"><h2>Graph</h2><div id=\"graph-notes\"></div><div id=\"graph\">\n")
	b.WriteString(svg)
	b.WriteString("</div><details id=\"mermaid-details\"><summary>Mermaid source</summary><pre id=\"mermaid-src\"></pre></details></section>\n")
	b.WriteString(`<section id="matrix-section"><h2>Matrix</h2>
<div id="legend"></div>
<div id="matrix-wrap"><div id="matrix"></div><aside id="explain" aria-live="polite"><p class="hint">Click a cell (or an edge of the graph) to see why.</p></aside></div>
</section>
`)
	b.WriteString("<script type=\"application/json\" id=\"nw-data\">")
	b.Write(js)
	b.WriteString("</script>\n<script>\n")
	b.WriteString(htmlJS)
	b.WriteString("</script>\n</body>\n</html>\n")
	_, err = io.WriteString(w, b.String())
	return err
}

func buildHTMLData(v *analysis.GroupVerdicts, g *analysis.Graph, opts HTMLOptions) *htmlData {
	e := v.Engine
	groups := v.Grouping.Groups
	d := &htmlData{
		Title: opts.Title, GroupBy: string(v.Grouping.By), Pairs: map[string][2]int32{},
		Explain: map[string][]htmlExplanation{}, Steps: [][]policy.Step{}, ExplainLimit: opts.ExplainLimit,
		Notes: g.Notes, PolicyCount: len(e.Policies), PodCount: len(e.Pods), Warnings: []string{},
	}
	var in []string
	for _, a := range opts.InputArgs {
		in = append(in, htmlShellQuote(a))
	}
	d.Input = strings.Join(in, " ")
	for _, ns := range g.Namespaces {
		d.Namespaces = append(d.Namespaces, ns.Name)
	}
	portIndex := map[policy.Port]int{}
	for i, pt := range v.Ports {
		portIndex[pt] = i
		d.Ports = append(d.Ports, pt.String())
	}
	off := 0
	for gi, grp := range groups {
		hg := htmlGroup{Name: grp.Name, Label: grp.Label, NS: g.Nodes[gi].Namespace, Kind: grp.Kind, Pods: grp.Pods, Ports: []int{}, Off: off}
		off += len(v.DstPorts[gi])
		for _, pt := range v.DstPorts[gi] {
			hg.Ports = append(hg.Ports, portIndex[pt])
		}
		d.Groups = append(d.Groups, hg)
	}
	for _, w := range e.Warnings {
		d.Warnings = append(d.Warnings, w.Message)
	}
	if e.HasAudit {
		d.View = v.View.String()
	}
	if v.Marked {
		d.Audit = map[string][2]int32{}
	}

	// Cell characters, and the explanation candidates in priority order.
	type candidate struct {
		from, to, k int
		rank        int
	}
	var cands []candidate
	d.Rows = make([]string, len(groups))
	for from := range groups {
		var row strings.Builder
		for to := range groups {
			audit := v.AuditCells(from, to)
			for k, c := range v.Cells(from, to) {
				if audit != nil && audit[k].Mark() != "" {
					d.Audit[htmlCellKey(from, to, k)] = [2]int32{audit[k].WouldDeny, audit[k].WouldAllow}
				}
				ch, rank := byte('a'), 3
				switch c.State() {
				case analysis.CellMixed:
					ch, rank = 'M', 0
					d.Pairs[htmlCellKey(from, to, k)] = [2]int32{c.Allowed, c.Pairs}
				case analysis.CellDenied:
					ch, rank = 'D', 1
				default:
					if c.Decided > 0 {
						ch, rank = 'A', 2
					}
				}
				row.WriteByte(ch)
				cands = append(cands, candidate{from, to, k, rank})
			}
		}
		d.Rows[from] = row.String()
	}
	d.ExplainTotal = len(cands)
	steps := &stepTable{d: d, seen: map[string]int{}}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].rank < cands[j].rank })
	for _, c := range cands {
		if opts.ExplainLimit < 0 || d.ExplainShown >= opts.ExplainLimit {
			break
		}
		cell := v.Cells(c.from, c.to)[c.k]
		pt := v.DstPorts[c.to][c.k]
		var xs []htmlExplanation
		for _, pair := range [][2]int32{cell.AllowedPair, cell.DeniedPair} {
			if pair[0] < 0 {
				continue
			}
			src, dst := e.PodPair(pair[0], pair[1])
			// The walk of the view shown; in the enforced view it carries the walk with
			// the audit policies enforced when that differs (Explanation.Audit).
			x := htmlExplanation{Explanation: e.Explain(src, dst, pt)}
			if v.View == policy.WithAudit {
				x = htmlExplanation{Explanation: e.ExplainIn(policy.WithAudit, src, dst, pt)}
			}
			x.EgressSteps, x.IngressSteps = steps.index(x.Egress.Steps), steps.index(x.Ingress.Steps)
			x.Egress.Steps, x.Ingress.Steps = nil, nil
			xs = append(xs, x)
		}
		d.Explain[htmlCellKey(c.from, c.to, c.k)] = xs
		d.ExplainShown++
	}
	return d
}

// stepTable keeps each distinct step list once.
type stepTable struct {
	d    *htmlData
	seen map[string]int
}

func (t *stepTable) index(steps []policy.Step) int {
	key, _ := json.Marshal(steps)
	if i, ok := t.seen[string(key)]; ok {
		return i
	}
	i := len(t.d.Steps)
	t.seen[string(key)] = i
	t.d.Steps = append(t.d.Steps, steps)
	return i
}

func htmlCellKey(from, to, k int) string {
	return strconv.Itoa(from) + "," + strconv.Itoa(to) + "," + strconv.Itoa(k)
}

// htmlShellQuote quotes an argument for a POSIX shell when it needs it.
func htmlShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
