package render

import (
	"fmt"
	"html"
	"sort"
	"strconv"
	"strings"

	"github.com/netwarden/netwarden/pkg/analysis"
	"github.com/netwarden/netwarden/pkg/policy"
)

// The report draws its graph itself, as inline SVG, so it needs no layout engine at view
// time. The layout is layered: a group's column is the length of the longest chain of
// allowed edges leading to it (traffic flows left to right: ingress, web, api, db), and
// each namespace is a box holding its groups in those columns, with its policies in a row
// underneath. Cluster-scoped policies sit in a box on top.
const (
	svgPad      = 24.0
	svgNodeW    = 176.0
	svgNodeH    = 44.0
	svgColGap   = 130.0
	svgRowH     = 60.0
	svgBoxPadX  = 16.0
	svgBoxHead  = 30.0
	svgBoxPadB  = 10.0
	svgBoxGap   = 22.0
	svgPolicyW  = 176.0
	svgMaxChars = 25
	// Past these the graph is a hairball and megabytes of SVG; the page says so instead.
	svgMaxNodes = 600
	svgMaxEdges = 1500
)

type svgRect struct{ x, y, w, h float64 }

func (r svgRect) right() float64 { return r.x + r.w }
func (r svgRect) midY() float64  { return r.y + r.h/2 }

type svgLayout struct {
	nodes    []svgRect
	policies []svgRect
	boxes    []svgRect // per namespace
	top      svgRect   // cluster-scoped policies; zero when there are none
	w, h     float64
}

// svgRanks gives each node its column: the longest chain of allowed (or mixed) edges to it,
// ignoring edges that close a cycle.
func svgRanks(g *analysis.Graph) []int {
	n := len(g.Nodes)
	adj := make([][]int, n)
	expand := func(x analysis.GraphEnd) []int {
		if x.Namespace {
			return g.Namespaces[x.Index].Nodes
		}
		return []int{x.Index}
	}
	for _, e := range g.Edges {
		if e.State == analysis.CellDenied {
			continue
		}
		for _, a := range expand(e.From) {
			for _, b := range expand(e.To) {
				if a != b {
					adj[a] = append(adj[a], b)
				}
			}
		}
	}
	// Depth-first search: edges to a node still on the stack close a cycle and are dropped;
	// the reverse finishing order is a topological order of the rest.
	state := make([]uint8, n) // 0 new, 1 on stack, 2 done
	var order []int
	type frame struct{ v, next int }
	for s := range n {
		if state[s] != 0 {
			continue
		}
		stack := []frame{{s, 0}}
		state[s] = 1
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			if f.next < len(adj[f.v]) {
				b := adj[f.v][f.next]
				f.next++
				if state[b] == 0 {
					state[b] = 1
					stack = append(stack, frame{b, 0})
				} else if state[b] == 1 {
					adj[f.v][f.next-1] = -1
				}
				continue
			}
			state[f.v] = 2
			order = append(order, f.v)
			stack = stack[:len(stack)-1]
		}
	}
	rank := make([]int, n)
	for i := len(order) - 1; i >= 0; i-- {
		a := order[i]
		for _, b := range adj[a] {
			if b >= 0 && rank[b] < rank[a]+1 {
				rank[b] = rank[a] + 1
			}
		}
	}
	return rank
}

func svgLayoutGraph(g *analysis.Graph) *svgLayout {
	l := &svgLayout{nodes: make([]svgRect, len(g.Nodes)), policies: make([]svgRect, len(g.Policies)), boxes: make([]svgRect, len(g.Namespaces))}
	rank := svgRanks(g)
	colX := func(c int) float64 { return svgPad + svgBoxPadX + float64(c)*(svgNodeW+svgColGap) }
	// policyRow places policies in rows from column minC, wrapping after perRow.
	policyRow := func(pis []int, minC, perRow int, y float64) (bottom, right float64) {
		bottom, right = y, 0
		for k, pi := range pis {
			l.policies[pi] = svgRect{colX(minC+k%perRow) + (svgNodeW-svgPolicyW)/2, y + float64(k/perRow)*svgRowH, svgPolicyW, svgNodeH}
			bottom = max(bottom, l.policies[pi].y+svgNodeH)
			right = max(right, l.policies[pi].right())
		}
		return bottom, right
	}
	y := svgPad
	maxRight := 0.0
	var cluster []int
	for pi, p := range g.Policies {
		if p.Namespace < 0 {
			cluster = append(cluster, pi)
		}
	}
	maxRank := 0
	for _, r := range rank {
		maxRank = max(maxRank, r)
	}
	if len(cluster) > 0 {
		bottom, right := policyRow(cluster, 0, max(maxRank+1, 3), y+svgBoxHead)
		l.top = svgRect{svgPad, y, right + svgBoxPadX - svgPad, bottom + svgBoxPadB - y}
		maxRight = max(maxRight, l.top.right())
		y = l.top.y + l.top.h + svgBoxGap
	}
	for ni, ns := range g.Namespaces {
		head := svgBoxHead
		if ns.Within != "" { // a second title line
			head += 15
		}
		minC, maxC := -1, 0
		rows := map[int]int{}
		for _, i := range ns.Nodes {
			c := rank[i]
			if minC < 0 || c < minC {
				minC = c
			}
			maxC = max(maxC, c)
			l.nodes[i] = svgRect{colX(c), y + head + float64(rows[c])*svgRowH, svgNodeW, svgNodeH}
			rows[c]++
		}
		height := 0
		for _, r := range rows {
			height = max(height, r)
		}
		bottom := y + head + float64(height)*svgRowH - (svgRowH - svgNodeH)
		right := colX(maxC) + svgNodeW
		// Policies sit under the groups of their column, each under the first group it
		// selects here.
		taken := map[[2]int]bool{}
		top := y + head + 8
		// Policies linked to a group first: the ones for the whole namespace need no link.
		pols := append([]int(nil), ns.Policies...)
		sort.SliceStable(pols, func(i, j int) bool { return !g.Policies[pols[i]].OwnNamespace && g.Policies[pols[j]].OwnNamespace })
		for _, pi := range pols {
			c := minC
			for _, x := range g.Policies[pi].Protects {
				if !x.Namespace && g.Nodes[x.Index].Namespace == ni {
					c = rank[x.Index]
					break
				}
			}
			r := rows[c]
			for taken[[2]int{c, r}] {
				r++
			}
			taken[[2]int{c, r}] = true
			l.policies[pi] = svgRect{colX(c) + (svgNodeW-svgPolicyW)/2, top + float64(r)*svgRowH, svgPolicyW, svgNodeH}
			bottom = max(bottom, l.policies[pi].y+svgNodeH)
			right = max(right, l.policies[pi].right())
		}
		left := colX(minC) - svgBoxPadX
		// Wide enough for its title.
		right = max(right, left+20+6.6*float64(max(len("namespace "+ns.Name), len(ns.Within))))
		l.boxes[ni] = svgRect{left, y, right + svgBoxPadX - left, bottom + svgBoxPadB - y}
		maxRight = max(maxRight, l.boxes[ni].right())
		y += l.boxes[ni].h + svgBoxGap
	}
	l.w = maxRight + svgPad + 70 // room for loops and arcs on the right
	l.h = y - svgBoxGap + svgPad
	return l
}

// svgPath is one drawn curve, with where its label goes.
type svgPath struct {
	d      string
	lx, ly float64
}

// svgSide is a side of a rectangle a curve leaves or reaches.
type svgSide uint8

const (
	sideLeft svgSide = iota
	sideRight
	sideTop
	sideBottom
)

// svgAttachment is one end of a curve on one side of a rectangle; ends on a side are spread
// along it in the order of where they come from, so curves do not cross at the box.
type svgAttachment struct {
	rect  svgRect
	side  svgSide
	other float64  // the other end's centre, along the side
	at    *float64 // where along the side this end goes
}

func svgSpread(ats []*svgAttachment) {
	type key struct {
		r    svgRect
		side svgSide
	}
	groups := map[key][]*svgAttachment{}
	var keys []key
	for _, a := range ats {
		k := key{a.rect, a.side}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], a)
	}
	for _, k := range keys {
		as := groups[k]
		sort.SliceStable(as, func(i, j int) bool { return as[i].other < as[j].other })
		for i, a := range as {
			f := float64(i+1) / float64(len(as)+1)
			if k.side == sideTop || k.side == sideBottom {
				*a.at = k.r.x + k.r.w*f
			} else {
				*a.at = k.r.y + k.r.h*f
			}
		}
	}
}

type svgCurve struct {
	s, t         svgRect
	self         bool
	sSide, tSide svgSide
	sAt, tAt     float64
}

// svgRoute picks the sides a curve uses: left to right when the target is right of the
// source, right to left when it is left; when the two overlap horizontally, top and
// bottom for boxes and policies (one is above the other), and an arc on the right for two
// groups in one column (a straight line would cross the groups between them).
func svgRoute(s, t svgRect, self, vertical bool) *svgCurve {
	c := &svgCurve{s: s, t: t, self: self}
	switch {
	case self:
		c.sSide, c.tSide = sideRight, sideRight
	case t.x >= s.right():
		c.sSide, c.tSide = sideRight, sideLeft
	case t.right() <= s.x:
		c.sSide, c.tSide = sideLeft, sideRight
	case vertical && t.y >= s.y+s.h:
		c.sSide, c.tSide = sideBottom, sideTop
	case vertical && s.y >= t.y+t.h:
		c.sSide, c.tSide = sideTop, sideBottom
	default:
		c.sSide, c.tSide = sideRight, sideRight
	}
	return c
}

// attachments returns the curve's two ends for spreading.
func (c *svgCurve) attachments() []*svgAttachment {
	along := func(r svgRect, side svgSide) float64 {
		if side == sideTop || side == sideBottom {
			return r.x + r.w/2
		}
		return r.midY()
	}
	return []*svgAttachment{{c.s, c.sSide, along(c.t, c.sSide), &c.sAt}, {c.t, c.tSide, along(c.s, c.tSide), &c.tAt}}
}

func svgPoint(r svgRect, side svgSide, at float64) (x, y float64) {
	switch side {
	case sideLeft:
		return r.x, at
	case sideRight:
		return r.right(), at
	case sideTop:
		return at, r.y
	}
	return at, r.y + r.h
}

func (c *svgCurve) path() svgPath {
	if c.self {
		x, y := c.s.right(), c.s.midY()
		return svgPath{fmt.Sprintf("M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f", x, y-9, x+46, y-34, x+46, y+34, x, y+9), x + 44, y}
	}
	sx, sy := svgPoint(c.s, c.sSide, c.sAt)
	tx, ty := svgPoint(c.t, c.tSide, c.tAt)
	var c1x, c1y, c2x, c2y float64
	switch {
	case c.sSide == sideRight && c.tSide == sideLeft:
		dx := (tx - sx) / 2
		c1x, c1y, c2x, c2y = sx+dx, sy, tx-dx, ty
	case c.sSide == sideLeft && c.tSide == sideRight:
		dx := max((sx-tx)/2, 60)
		c1x, c1y, c2x, c2y = sx-dx, sy, tx+dx, ty
	case c.sSide == sideRight && c.tSide == sideRight:
		bx := max(sx, tx) + 40 + min(svgAbs(ty-sy)/6, 50)
		c1x, c1y, c2x, c2y = bx, sy, bx, ty
	default: // top and bottom
		dy := max(svgAbs(ty-sy)/2, 30)
		if c.sSide == sideTop {
			dy = -dy
		}
		c1x, c1y, c2x, c2y = sx, sy+dy, tx, ty-dy
	}
	p := svgPath{d: fmt.Sprintf("M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f", sx, sy, c1x, c1y, c2x, c2y, tx, ty)}
	// The point at t=0.5 of the cubic.
	p.lx = (sx + 3*c1x + 3*c2x + tx) / 8
	p.ly = (sy + 3*c1y + 3*c2y + ty) / 8
	return p
}

func svgAbs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// svgLabels places edge labels greedily: at the curve's middle, moved up or down in steps
// while it would cover a label already placed or a box.
type svgLabels struct {
	placed []svgRect
	boxes  []svgRect
}

func (sl *svgLabels) place(cx, cy, w float64) (x, y float64) {
	const h = 16.0
	overlaps := func(r svgRect) bool {
		for _, o := range append(sl.placed, sl.boxes...) {
			if r.x < o.right() && o.x < r.right() && r.y < o.y+o.h && o.y < r.y+r.h {
				return true
			}
		}
		return false
	}
	best := svgRect{cx - w/2, cy - h/2, w, h}
	for _, dy := range []float64{0, -17, 17, -34, 34, -51, 51} {
		r := svgRect{cx - w/2, cy - h/2 + dy, w, h}
		if !overlaps(r) {
			best = r
			break
		}
	}
	sl.placed = append(sl.placed, best)
	return best.x, best.y
}

// htmlGraphSVG draws the graph. Elements carry data attributes the page's filters and clicks
// use: data-ns on nodes, data-nss (namespaces touched) and data-ports on edges, data-cell
// ("from,to" groups) on edges a click can explain.
func htmlGraphSVG(v *analysis.GroupVerdicts, g *analysis.Graph) string {
	if len(g.Nodes) == 0 {
		return "<p class=\"hint\">No pods.</p>\n"
	}
	if len(g.Nodes) > svgMaxNodes || len(g.Edges) > svgMaxEdges {
		return fmt.Sprintf("<p class=\"hint\">%d groups and %d edges are too many to draw legibly (the report draws at most %d and %d). Draw one namespace with -n NAMESPACE, leave blocked edges out with --blocked none, or use -o dot with Graphviz. The matrix below has every pair.</p>\n",
			len(g.Nodes), len(g.Edges), svgMaxNodes, svgMaxEdges)
	}
	l := svgLayoutGraph(g)
	b := &strings.Builder{}
	fmt.Fprintf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"graph-svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"graph of allowed and blocked connections\">\n", l.w, l.h, l.w, l.h)
	b.WriteString("<defs>\n")
	markers := []struct{ id, colour string }{{"allowed", colourAllowed}, {"blocked", colourBlocked}, {"mixed", colourMixed}}
	if g.Marked {
		markers = append(markers, struct{ id, colour string }{"audit", colourAudit})
	}
	for _, m := range markers {
		fmt.Fprintf(b, "<marker id=\"arrow-%s\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0 0 L10 5 L0 10 z\" fill=\"%s\"/></marker>\n", m.id, m.colour)
	}
	b.WriteString("</defs>\n")

	if l.top.w > 0 {
		fmt.Fprintf(b, "<g class=\"nsbox cluster\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"8\"/><text x=\"%.1f\" y=\"%.1f\">cluster-scoped policies</text></g>\n",
			l.top.x, l.top.y, l.top.w, l.top.h, l.top.x+10, l.top.y+19)
	}
	for ni, ns := range g.Namespaces {
		r := l.boxes[ni]
		fmt.Fprintf(b, "<g class=\"nsbox\" data-ns=\"%d\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"8\"/><text x=\"%.1f\" y=\"%.1f\">%s</text>",
			ni, r.x, r.y, r.w, r.h, r.x+10, r.y+19, html.EscapeString("namespace "+ns.Name))
		if ns.Within != "" { // coloured like the edges it stands for
			class := "within-allowed"
			if ns.WithinState == analysis.CellDenied {
				class = "within-blocked"
			}
			fmt.Fprintf(b, "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\">%s</text>", class, r.x+10, r.y+34, html.EscapeString(ns.Within))
		}
		b.WriteString("</g>\n")
	}

	rectOf := func(x analysis.GraphEnd) svgRect {
		if x.Namespace {
			return l.boxes[x.Index]
		}
		return l.nodes[x.Index]
	}
	nsOf := func(x analysis.GraphEnd) int {
		if x.Namespace {
			return x.Index
		}
		return g.Nodes[x.Index].Namespace
	}
	firstNode := func(x analysis.GraphEnd) int {
		if x.Namespace {
			return g.Namespaces[x.Index].Nodes[0]
		}
		return x.Index
	}
	// Route every curve, then spread the ends that share a side.
	var ats []*svgAttachment
	add := func(s, t svgRect, self, vertical bool) *svgCurve {
		c := svgRoute(s, t, self, vertical)
		if !self {
			ats = append(ats, c.attachments()...)
		}
		return c
	}
	edgeCurves := make([]*svgCurve, len(g.Edges))
	for i, e := range g.Edges {
		edgeCurves[i] = add(rectOf(e.From), rectOf(e.To), e.From == e.To, e.From.Namespace || e.To.Namespace)
	}
	links := picPolicyLinks(g)
	linkCurves := make([]*svgCurve, len(links))
	for i, pl := range links {
		linkCurves[i] = add(l.policies[pl.policy], rectOf(pl.to), false, true)
	}
	svgSpread(ats)
	labels := &svgLabels{}
	labels.boxes = append(labels.boxes, l.nodes...)
	labels.boxes = append(labels.boxes, l.policies...)
	for ni, ns := range g.Namespaces { // the boxes' titles
		r := l.boxes[ni]
		h := svgBoxHead - 4
		if ns.Within != "" {
			h += 15
		}
		labels.boxes = append(labels.boxes, svgRect{r.x, r.y, min(r.w, 90+7*float64(max(len(ns.Name), len(ns.Within)))), h})
	}

	b.WriteString("<g class=\"links\">\n")
	for i, pl := range links {
		p := linkCurves[i].path()
		nss := strconv.Itoa(nsOf(pl.to))
		if pol := g.Policies[pl.policy]; pol.Namespace >= 0 {
			nss += " " + strconv.Itoa(pol.Namespace)
		}
		fmt.Fprintf(b, "<path class=\"plink\" data-nss=\"%s\" d=\"%s\"><title>%s selects this (%s)</title></path>\n",
			nss, p.d, html.EscapeString(g.Policies[pl.policy].Ref), html.EscapeString(pl.label))
	}
	b.WriteString("</g>\n<g class=\"edges\">\n")
	for i, e := range g.Edges {
		p := edgeCurves[i].path()
		class := map[analysis.CellState]string{analysis.CellAllowed: "allowed", analysis.CellDenied: "blocked", analysis.CellMixed: "mixed"}[e.State]
		marker := class
		if e.Marked() { // what enforcing the audit (staged) policies would change: orange
			class += " audit"
			marker = "audit"
		}
		ports := e.Ports
		if e.State == analysis.CellDenied {
			ports = picProbedPorts(v, g, e.To)
		}
		fmt.Fprintf(b, "<g class=\"edge %s\" data-nss=\"%d %d\" data-ports=\"%s\" data-cell=\"%d,%d\" tabindex=\"0\">", class, nsOf(e.From), nsOf(e.To),
			html.EscapeString(strings.Join(ports, ",")), firstNode(e.From), firstNode(e.To))
		fmt.Fprintf(b, "<title>%s → %s: %s</title>", html.EscapeString(picEndName(g, e.From)), html.EscapeString(picEndName(g, e.To)), html.EscapeString(e.Label()))
		fmt.Fprintf(b, "<path class=\"hit\" d=\"%s\"/><path class=\"line\" d=\"%s\" marker-end=\"url(#arrow-%s)\"/>", p.d, p.d, marker)
		label := e.Label()
		wlab := float64(len([]rune(label)))*6.2 + 10
		lx, ly := labels.place(p.lx, p.ly, wlab)
		fmt.Fprintf(b, "<rect class=\"lbg\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"16\" rx=\"3\"/><text class=\"elabel\" x=\"%.1f\" y=\"%.1f\">%s</text></g>\n",
			lx, ly, wlab, lx+wlab/2, ly+12, html.EscapeString(label))
	}
	b.WriteString("</g>\n<g class=\"nodes\">\n")
	for i, n := range g.Nodes {
		r := l.nodes[i]
		class := "node"
		if n.IngressProtected || n.EgressProtected {
			class += " protected"
		}
		lines := picNodeLines(n)
		fmt.Fprintf(b, "<g class=\"%s\" data-ns=\"%d\" data-group=\"%d\"><title>%s (%d pod%s)</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"6\"/>",
			class, n.Namespace, i, html.EscapeString(n.Name), n.Pods, svgPlural(n.Pods), r.x, r.y, r.w, r.h)
		svgLines(b, lines, r)
		b.WriteString("</g>\n")
	}
	for pi, p := range g.Policies {
		r := l.policies[pi]
		lines := []string{p.Name, p.Kind + " · " + p.Directions}
		if p.Priority != nil {
			lines[1] = fmt.Sprintf("%s %d · %s", picShortKind(p.Kind), *p.Priority, p.Directions)
		}
		if p.OwnNamespace {
			lines[1] += " · all pods"
		}
		ns := -1
		if p.Namespace >= 0 {
			ns = p.Namespace
		}
		class, staged := "policy", ""
		if p.Audit { // staged: drawn with a dashed orange border
			class, staged = "policy audit", ", audit: not enforced"
			if g.View == policy.WithAudit {
				staged = ", audit: drawn as enforced"
			}
			// The hexagon has room for two short lines: "audit" replaces the kind.
			lines[1] = strings.Replace(lines[1], p.Kind, "audit", 1)
			lines[1] = strings.Replace(lines[1], picShortKind(p.Kind), "audit", 1)
		}
		fmt.Fprintf(b, "<g class=\"%s\" data-ns=\"%d\"><title>%s (%s tier%s)</title><path d=\"%s\"/>", class, ns, html.EscapeString(p.Ref), html.EscapeString(p.Tier), staged, svgHexagon(r))
		svgLines(b, lines, r)
		b.WriteString("</g>\n")
	}
	b.WriteString("</g>\n</svg>\n")
	return b.String()
}

func svgPlural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func picShortKind(kind string) string {
	switch kind {
	case "AdminNetworkPolicy":
		return "ANP"
	case "BaselineAdminNetworkPolicy":
		return "BANP"
	case "ClusterNetworkPolicy":
		return "CNP"
	}
	return kind
}

func svgHexagon(r svgRect) string {
	d := 10.0
	return fmt.Sprintf("M%.1f %.1f L%.1f %.1f L%.1f %.1f L%.1f %.1f L%.1f %.1f L%.1f %.1f Z",
		r.x+d, r.y, r.right()-d, r.y, r.right(), r.midY(), r.right()-d, r.y+r.h, r.x+d, r.y+r.h, r.x, r.midY())
}

// svgLines writes a box's text: the first line bold, the second small; long lines are cut
// (the element's title has the full name).
func svgLines(b *strings.Builder, lines []string, r svgRect) {
	ys := []float64{r.midY() + 4}
	if len(lines) > 1 {
		ys = []float64{r.y + 18, r.y + 34}
	}
	for i, line := range lines[:min(len(lines), 2)] {
		if rs := []rune(line); len(rs) > svgMaxChars {
			line = string(rs[:svgMaxChars-1]) + "…"
		}
		class := "t1"
		if i > 0 {
			class = "t2"
		}
		fmt.Fprintf(b, "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\">%s</text>", class, r.x+r.w/2, ys[i], html.EscapeString(line))
	}
}

func picEndName(g *analysis.Graph, x analysis.GraphEnd) string {
	if x.Namespace {
		return "namespace " + g.Namespaces[x.Index].Name
	}
	return g.Nodes[x.Index].Name
}

// picProbedPorts are the ports the groups at an edge's end are probed on.
func picProbedPorts(v *analysis.GroupVerdicts, g *analysis.Graph, x analysis.GraphEnd) []string {
	nodes := []int{x.Index}
	if x.Namespace {
		nodes = g.Namespaces[x.Index].Nodes
	}
	seen := map[string]bool{}
	var out []string
	for _, i := range nodes {
		for _, pt := range v.DstPorts[i] {
			if s := pt.String(); !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}
