package render

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/netwarden/netwarden/pkg/analysis"
)

// Dot writes the graph for Graphviz (dot -Tsvg): the same content as Mermaid. Namespaces
// are clusters; an edge to or from a whole namespace is drawn to its first node and clipped
// at the cluster's border (compound=true, lhead/ltail).
func Dot(w io.Writer, g *analysis.Graph) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "// netwarden graph by %s: edges are connections a policy decides; see docs/pictures.md\n", g.By)
	b.WriteString("digraph netwarden {\n")
	b.WriteString("  graph [rankdir=LR, compound=true, newrank=true, nodesep=0.35, ranksep=1.1, fontname=\"Helvetica\", fontsize=12];\n")
	b.WriteString("  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", color=\"#57606a\", fontname=\"Helvetica\", fontsize=11];\n")
	b.WriteString("  edge [fontname=\"Helvetica\", fontsize=10, arrowsize=0.7];\n")
	for ni, ns := range g.Namespaces {
		fmt.Fprintf(b, "  subgraph cluster_ns%d {\n", ni)
		fmt.Fprintf(b, "    label=%s; labeljust=l; style=\"rounded\"; color=\"#8c959f\"; fontcolor=\"#57606a\";\n", dotText([]string{"namespace " + ns.Name}))
		for _, i := range ns.Nodes {
			n := g.Nodes[i]
			attrs := ""
			if n.IngressProtected || n.EgressProtected {
				attrs = ", color=\"" + colourProtected + "\", penwidth=2.5"
			}
			fmt.Fprintf(b, "    n%d [label=%s%s];\n", i, dotText(picNodeLines(n)), attrs)
		}
		for _, pi := range ns.Policies {
			fmt.Fprintf(b, "    p%d [label=%s, %s];\n", pi, dotText(picPolicyLines(g, g.Policies[pi])), dotPolicyAttrs)
		}
		if ns.Within != "" {
			fmt.Fprintf(b, "    ns%dwithin [label=%s, %s];\n", ni, dotText([]string{"within " + ns.Name + ": " + ns.Within}), dotNoteAttrs)
		}
		b.WriteString("  }\n")
	}
	for pi, p := range g.Policies {
		if p.Namespace < 0 {
			fmt.Fprintf(b, "  p%d [label=%s, %s];\n", pi, dotText(picPolicyLines(g, p)), dotPolicyAttrs)
		}
	}
	if len(g.Notes) > 0 {
		fmt.Fprintf(b, "  notes [label=%s, %s];\n", dotText(g.Notes), dotNoteAttrs)
	}
	// end names the node an edge attaches to, and the clipping attribute for a namespace.
	end := func(x analysis.GraphEnd, clip string) (string, string) {
		if !x.Namespace {
			return "n" + strconv.Itoa(x.Index), ""
		}
		ns := g.Namespaces[x.Index]
		return "n" + strconv.Itoa(ns.Nodes[0]), ", " + clip + "=cluster_ns" + strconv.Itoa(x.Index)
	}
	for _, e := range g.Edges {
		from, tail := end(e.From, "ltail")
		to, head := end(e.To, "lhead")
		var style string
		switch {
		case e.Marked() && e.State == analysis.CellAllowed && len(e.WouldDeny) > 0:
			// Allowed today, cut by the rollout: dashed, orange.
			style = "style=dashed, penwidth=1.8, color=\"" + colourAudit + "\", fontcolor=\"" + colourAudit + "\""
		case e.Marked() && e.State == analysis.CellDenied:
			style = "style=dashed, color=\"" + colourAudit + "\", fontcolor=\"" + colourAudit + "\""
		case e.Marked() && e.State == analysis.CellMixed:
			style = "penwidth=3, color=\"" + colourAudit + "\", fontcolor=\"" + colourAudit + "\""
		case e.Marked():
			style = "penwidth=1.8, color=\"" + colourAudit + "\", fontcolor=\"" + colourAudit + "\""
		case e.State == analysis.CellDenied:
			style = "style=dashed, color=\"" + colourBlocked + "\", fontcolor=\"" + colourBlocked + "\""
		case e.State == analysis.CellMixed:
			style = "penwidth=3, color=\"" + colourMixed + "\", fontcolor=\"" + colourMixed + "\""
		default:
			style = "penwidth=1.8, color=\"" + colourAllowed + "\", fontcolor=\"" + colourAllowed + "\""
		}
		fmt.Fprintf(b, "  %s -> %s [label=%s, %s%s%s];\n", from, to, dotText([]string{e.Label()}), style, tail, head)
	}
	for _, l := range picPolicyLinks(g) {
		to, head := end(l.to, "lhead")
		fmt.Fprintf(b, "  p%d -> %s [label=%s, dir=none, style=dotted, color=\"%s\", fontcolor=\"#57606a\"%s];\n", l.policy, to, dotText([]string{l.label}), colourLink, head)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

const (
	dotPolicyAttrs = "shape=hexagon, style=filled, fillcolor=\"#fbefff\", color=\"" + colourPolicy + "\", fontsize=10"
	dotNoteAttrs   = "shape=note, style=filled, fillcolor=\"#f6f8fa\", color=\"#d0d7de\", fontcolor=\"#57606a\", fontsize=10"
)

// dotText quotes lines as a DOT string, one line each (left-aligned for several).
func dotText(lines []string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", " ")
	esc := make([]string, len(lines))
	for i, l := range lines {
		esc[i] = r.Replace(l)
	}
	return `"` + strings.Join(esc, `\n`) + `"`
}
