package render

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/netwarden/netwarden/pkg/analysis"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// PictureFormats are the -o values that draw a picture rather than print a table.
var PictureFormats = []string{"mermaid", "dot", "html"}

// IsPicture reports whether format is one of PictureFormats.
func IsPicture(format string) bool {
	for _, f := range PictureFormats {
		if f == format {
			return true
		}
	}
	return false
}

// Colours shared by every picture, chosen to read on white and for colour-blind readers
// together with the line styles (allowed solid, blocked dashed, mixed thick).
const (
	colourAllowed   = "#1a7f37"
	colourBlocked   = "#cf222e"
	colourMixed     = "#9a6700"
	colourPolicy    = "#8250df"
	colourLink      = "#8c959f"
	colourProtected = "#0969da"
	// colourAudit marks what enforcing the audit (staged) policies would change.
	colourAudit = "#bc4c00"
)

// picNodeLines are the lines of a group's box: its name, then for workloads the kind and pod
// count ("web", "Deployment, 2 pods").
func picNodeLines(n analysis.GraphNode) []string {
	name := n.Label
	var second []string
	if n.Kind != model.KindPod {
		name = strings.TrimPrefix(n.Label, n.Kind+"/")
		second = append(second, n.Kind)
	}
	if n.Pods > 1 {
		second = append(second, strconv.Itoa(n.Pods)+" pods")
	}
	if len(second) == 0 {
		return []string{name}
	}
	return []string{name, strings.Join(second, ", ")}
}

// picPolicyLines are the lines of a policy's node.
func picPolicyLines(g *analysis.Graph, p analysis.GraphPolicy) []string {
	lines := []string{p.Kind, p.Name}
	if p.Priority != nil {
		lines = append(lines, fmt.Sprintf("priority %d", *p.Priority))
	}
	if p.OwnNamespace {
		lines = append(lines, p.Directions+": every pod in "+g.Namespaces[p.Namespace].Name)
	}
	if p.Audit {
		if g.View == policy.WithAudit {
			lines = append(lines, "audit: drawn as enforced")
		} else {
			lines = append(lines, "audit: not enforced")
		}
	}
	return lines
}

// picPolicyLink is a line from a policy to what it selects; picPolicyLinks lists them in
// policy order.
type picPolicyLink struct {
	policy int
	to     analysis.GraphEnd
	label  string
}

func picPolicyLinks(g *analysis.Graph) []picPolicyLink {
	var out []picPolicyLink
	for pi, p := range g.Policies {
		for _, to := range p.Protects {
			out = append(out, picPolicyLink{pi, to, p.Directions})
		}
	}
	return out
}

// Mermaid writes the graph as a Mermaid flowchart: namespaces are subgraphs, groups boxes,
// policies hexagons; allowed edges are solid and green, blocked ones dashed and red, mixed
// ones thick and amber; grey lines link policies to what they select. Node ids are
// positional (n0, p0, ns0) so the text is the same for the same input.
func Mermaid(w io.Writer, g *analysis.Graph) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "%%%% netwarden graph by %s: edges are connections a policy decides; see docs/pictures.md\n", g.By)
	b.WriteString("flowchart LR\n")
	for ni, ns := range g.Namespaces {
		fmt.Fprintf(b, "  subgraph ns%d[%s]\n", ni, mermaidText([]string{"namespace " + ns.Name}))
		for _, i := range ns.Nodes {
			fmt.Fprintf(b, "    n%d[%s]\n", i, mermaidText(picNodeLines(g.Nodes[i])))
		}
		for _, pi := range ns.Policies {
			fmt.Fprintf(b, "    p%d{{%s}}\n", pi, mermaidText(picPolicyLines(g, g.Policies[pi])))
		}
		if ns.Within != "" {
			fmt.Fprintf(b, "    ns%dwithin[%s]\n", ni, mermaidText([]string{"within " + ns.Name + ": " + ns.Within}))
		}
		b.WriteString("  end\n")
	}
	for pi, p := range g.Policies {
		if p.Namespace < 0 {
			fmt.Fprintf(b, "  p%d{{%s}}\n", pi, mermaidText(picPolicyLines(g, p)))
		}
	}
	if len(g.Notes) > 0 {
		fmt.Fprintf(b, "  notes[%s]\n", mermaidText(g.Notes))
	}
	end := func(x analysis.GraphEnd) string {
		if x.Namespace {
			return "ns" + strconv.Itoa(x.Index)
		}
		return "n" + strconv.Itoa(x.Index)
	}
	styles := map[string][]string{}
	var styleOrder []string
	link := 0
	style := func(s string) {
		if _, ok := styles[s]; !ok {
			styleOrder = append(styleOrder, s)
		}
		styles[s] = append(styles[s], strconv.Itoa(link))
		link++
	}
	for _, e := range g.Edges {
		label := mermaidText([]string{e.Label()})
		switch {
		case e.Marked() && e.State == analysis.CellAllowed && len(e.WouldDeny) > 0:
			// Allowed today, cut by the rollout: dashed like a blocked edge, orange.
			fmt.Fprintf(b, "  %s -.->|%s| %s\n", end(e.From), label, end(e.To))
			style("stroke:" + colourAudit + ",stroke-width:2px,stroke-dasharray:6 4,color:" + colourAudit)
		case e.Marked() && e.State == analysis.CellMixed:
			fmt.Fprintf(b, "  %s ==>|%s| %s\n", end(e.From), label, end(e.To))
			style("stroke:" + colourAudit + ",stroke-width:3px,color:" + colourAudit)
		case e.Marked() && e.State == analysis.CellDenied:
			fmt.Fprintf(b, "  %s -.->|%s| %s\n", end(e.From), label, end(e.To))
			style("stroke:" + colourAudit + ",stroke-width:1.5px,color:" + colourAudit)
		case e.Marked():
			fmt.Fprintf(b, "  %s -->|%s| %s\n", end(e.From), label, end(e.To))
			style("stroke:" + colourAudit + ",stroke-width:2px,color:" + colourAudit)
		case e.State == analysis.CellDenied:
			fmt.Fprintf(b, "  %s -.->|%s| %s\n", end(e.From), label, end(e.To))
			style("stroke:" + colourBlocked + ",stroke-width:1.5px,color:" + colourBlocked)
		case e.State == analysis.CellMixed:
			fmt.Fprintf(b, "  %s ==>|%s| %s\n", end(e.From), label, end(e.To))
			style("stroke:" + colourMixed + ",stroke-width:3px,color:" + colourMixed)
		default:
			fmt.Fprintf(b, "  %s -->|%s| %s\n", end(e.From), label, end(e.To))
			style("stroke:" + colourAllowed + ",stroke-width:2px,color:" + colourAllowed)
		}
	}
	for _, l := range picPolicyLinks(g) {
		fmt.Fprintf(b, "  p%d ---|%s| %s\n", l.policy, mermaidText([]string{l.label}), end(l.to))
		style("stroke:" + colourLink + ",stroke-width:1px,stroke-dasharray:2 3,color:" + colourLink)
	}
	b.WriteString("  classDef group fill:#ffffff,stroke:#57606a,color:#1f2328\n")
	b.WriteString("  classDef protected fill:#ffffff,stroke:" + colourProtected + ",stroke-width:3px,color:#1f2328\n")
	b.WriteString("  classDef policy fill:#fbefff,stroke:" + colourPolicy + ",color:#1f2328\n")
	b.WriteString("  classDef note fill:#f6f8fa,stroke:#d0d7de,color:#57606a\n")
	var plain, protected, policies, notes []string
	for i, n := range g.Nodes {
		if n.IngressProtected || n.EgressProtected {
			protected = append(protected, "n"+strconv.Itoa(i))
		} else {
			plain = append(plain, "n"+strconv.Itoa(i))
		}
	}
	for pi := range g.Policies {
		policies = append(policies, "p"+strconv.Itoa(pi))
	}
	for ni, ns := range g.Namespaces {
		if ns.Within != "" {
			notes = append(notes, "ns"+strconv.Itoa(ni)+"within")
		}
	}
	if len(g.Notes) > 0 {
		notes = append(notes, "notes")
	}
	for _, c := range []struct {
		class string
		ids   []string
	}{{"group", plain}, {"protected", protected}, {"policy", policies}, {"note", notes}} {
		if len(c.ids) > 0 {
			fmt.Fprintf(b, "  class %s %s\n", strings.Join(c.ids, ","), c.class)
		}
	}
	for _, s := range styleOrder {
		fmt.Fprintf(b, "  linkStyle %s %s\n", strings.Join(styles[s], ","), s)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mermaidText quotes lines for a Mermaid label. Quotes and angle brackets in names are
// written as entity codes so they cannot end the label or open HTML.
func mermaidText(lines []string) string {
	r := strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;")
	esc := make([]string, len(lines))
	for i, l := range lines {
		esc[i] = r.Replace(l)
	}
	return `"` + strings.Join(esc, "<br/>") + `"`
}
