package analysis

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/netwarden/netwarden/pkg/policy"
)

// Graph is what pictures (mermaid, dot, html) draw: groups inside their namespaces, the
// connections policies decide, and the policies themselves, reduced to what a person reads.
//
// What is drawn, and why (docs/pictures.md says the same for users):
//   - A connection is drawn when a policy decided it in at least one direction (see
//     GroupCell.Decided). Traffic nothing restricts is allowed by Kubernetes and is not
//     drawn: a cluster without policies would otherwise be a complete mesh. A note says
//     how many group pairs were left out.
//   - An allowed edge carries the ports that are allowed; a probed port it does not list is
//     blocked. A blocked edge means every probed port is blocked. A mixed edge means the
//     members of a group disagree on the ports it lists.
//   - Blocks of identical edges collapse: every group of namespace A to every group of
//     namespace B becomes one edge between the namespaces; all groups of a namespace to one
//     group, or one group to all groups of a namespace, become one edge from or to the
//     namespace. Traffic inside one namespace that collapses becomes a note on it.
//   - A policy is a node linked to the groups (or whole namespaces) it selects, labelled
//     with the directions it isolates or has rules for.
type Graph struct {
	By GroupBy
	// View is the view the edges show; Marked says edges carry what enforcing the audit
	// (staged) policies would change (GraphEdge.WouldDeny, WouldAllow).
	View       policy.View
	Marked     bool
	Namespaces []GraphNamespace
	// Nodes are the groups, indexed like Grouping.Groups.
	Nodes    []GraphNode
	Policies []GraphPolicy
	Edges    []GraphEdge
	Notes    []string
}

// GraphNamespace is a namespace box.
type GraphNamespace struct {
	Name     string
	Nodes    []int
	Policies []int
	// Within describes traffic among the namespace's own groups when it all collapses
	// into one statement ("all blocked", "all allowed on 80/TCP"); "" otherwise.
	Within      string
	WithinState CellState
}

// GraphNode is a group.
type GraphNode struct {
	Name      string
	Label     string
	Kind      string
	Namespace int
	Pods      int
	// IngressProtected and EgressProtected say that some policy selects the group's pods
	// for that direction.
	IngressProtected, EgressProtected bool
}

// GraphEnd is one end of an edge or policy link: a node or a whole namespace.
type GraphEnd struct {
	Namespace bool
	Index     int
}

// GraphEdge is a drawn connection.
type GraphEdge struct {
	From, To GraphEnd
	State    CellState
	// Ports are the allowed ports of an allowed edge, and the disputed ports of a mixed
	// one; a blocked edge has none (every probed port is blocked).
	Ports []string
	// Pairs is how many group pairs the edge stands for (more than one when collapsed).
	Pairs int
	// WouldDeny are the ports on which some pair of the edge is allowed today and would
	// be denied with the audit (staged) policies enforced; WouldAllow the opposite.
	WouldDeny, WouldAllow []string
	// withAudit: the edge shows the with-audit view, so its marks say what it is today.
	withAudit bool
}

// Marked reports whether enforcing the audit policies would change the edge.
func (e GraphEdge) Marked() bool { return len(e.WouldDeny) > 0 || len(e.WouldAllow) > 0 }

// Label is the edge's text: its ports, or "blocked", then what the audit policies would
// change.
func (e GraphEdge) Label() string {
	var s string
	switch e.State {
	case CellDenied:
		s = "blocked"
	case CellMixed:
		s = "mixed: " + PortList(e.Ports, 4)
	default:
		s = PortList(e.Ports, 4)
	}
	deny, allow := "; audit would deny ", "; audit would allow "
	if e.withAudit {
		deny, allow = "; allowed today on ", "; denied today on "
	}
	if len(e.WouldDeny) > 0 {
		s += deny + PortList(e.WouldDeny, 4)
	}
	if len(e.WouldAllow) > 0 {
		s += allow + PortList(e.WouldAllow, 4)
	}
	return s
}

// PortList joins ports, eliding past max ("80/TCP, 443/TCP +3 more").
func PortList(ports []string, max int) string {
	if len(ports) <= max {
		return strings.Join(ports, ", ")
	}
	return fmt.Sprintf("%s +%d more", strings.Join(ports[:max], ", "), len(ports)-max)
}

// GraphPolicy is a policy that selects at least one pod.
type GraphPolicy struct {
	Ref  string
	Kind string
	Name string
	// Namespace is the index of a NetworkPolicy's namespace; -1 for cluster-scoped kinds.
	Namespace int
	Tier      string
	// Priority is set for admin and baseline policies that have one.
	Priority   *int32
	Directions string
	Protects   []GraphEnd
	// OwnNamespace: a NetworkPolicy that selects every group of its namespace (a default
	// deny, say). Pictures say so on the policy rather than link it to the box it sits in.
	OwnNamespace bool
	// Audit: the policy is staged (annotation netwarden.io/mode: audit). In the enforced
	// view it protects nothing (IngressProtected, EgressProtected ignore it).
	Audit bool
}

// Blocked says which blocked edges a picture draws.
type Blocked string

const (
	// BlockedAuto draws blocked edges while the picture has at most AutoEdgeLimit edges
	// with them, and leaves them all out (with a note) past it: in a cluster with default
	// deny everywhere, nearly every pair is blocked, and the allowed edges are the news.
	BlockedAuto Blocked = "auto"
	BlockedAll  Blocked = "all"
	BlockedNone Blocked = "none"
)

// BlockedValues are the accepted --blocked values.
var BlockedValues = []string{string(BlockedAuto), string(BlockedAll), string(BlockedNone)}

// AutoEdgeLimit is the most edges BlockedAuto draws blocked edges in.
const AutoEdgeLimit = 80

// ParseBlocked reads a --blocked value.
func ParseBlocked(s string) (Blocked, error) {
	for _, v := range BlockedValues {
		if strings.EqualFold(s, v) {
			return Blocked(v), nil
		}
	}
	return "", fmt.Errorf("unknown --blocked value %q (want one of: %s)", s, strings.Join(BlockedValues, ", "))
}

// GraphOptions tune a picture.
type GraphOptions struct {
	// Blocked chooses the blocked edges drawn ("": BlockedAuto).
	Blocked Blocked
}

// pairSummary is how one ordered group pair reads in a picture: how many of the ports
// the destination is probed on are allowed, denied or mixed.
type pairSummary struct {
	drawn                  bool
	allowed, denied, mixed int32
	// changed: enforcing the audit policies would change some port of the pair.
	changed bool
}

// BuildGraph reduces the verdicts between groups to a picture.
func BuildGraph(v *GroupVerdicts, opts GraphOptions) *Graph {
	e, groups := v.Engine, v.Grouping.Groups
	g := &Graph{By: v.Grouping.By, Nodes: make([]GraphNode, len(groups)), View: v.View, Marked: v.Marked}
	nsIndex := map[string]int{}
	for gi, grp := range groups {
		ni, ok := nsIndex[grp.Namespace]
		if !ok {
			ni = len(g.Namespaces)
			nsIndex[grp.Namespace] = ni
			g.Namespaces = append(g.Namespaces, GraphNamespace{Name: grp.Namespace})
		}
		g.Namespaces[ni].Nodes = append(g.Namespaces[ni].Nodes, gi)
		g.Nodes[gi] = GraphNode{Name: grp.Name, Label: grp.Label, Kind: grp.Kind, Namespace: ni, Pods: len(grp.Members)}
	}
	g.addPolicies(e, v.Grouping, nsIndex, v.View)

	n := len(groups)
	portIndex := make(map[policy.Port]int, len(v.Ports))
	for i, pt := range v.Ports {
		portIndex[pt] = i
	}
	dstIdx := make([][]int, n)
	for b := range groups {
		for _, pt := range v.DstPorts[b] {
			dstIdx[b] = append(dstIdx[b], portIndex[pt])
		}
	}
	// portsWhere lists, in v.Ports order, the ports of pairs (a*n+b) whose cell k keep
	// accepts; cellsOf gives keep for one pair.
	portsWhere := func(pairs []int, cellsOf func(a, b int) func(k int, st CellState) bool) []string {
		set := make([]bool, len(v.Ports))
		for _, i := range pairs {
			a, b := i/n, i%n
			keep := cellsOf(a, b)
			for k, c := range v.Cells(a, b) {
				if keep(k, c.State()) {
					set[dstIdx[b][k]] = true
				}
			}
		}
		var out []string
		for pi, in := range set {
			if in {
				out = append(out, v.Ports[pi].String())
			}
		}
		return out
	}
	// portsIn lists the ports of pairs in state st.
	portsIn := func(st CellState, pairs ...int) []string {
		return portsWhere(pairs, func(int, int) func(int, CellState) bool {
			return func(_ int, s CellState) bool { return s == st }
		})
	}
	// auditIn lists the ports of pairs whose cells in one of states enforcing the audit
	// policies would deny (deny) or allow (!deny).
	auditIn := func(deny bool, states []CellState, pairs ...int) []string {
		if !v.Marked {
			return nil
		}
		return portsWhere(pairs, func(a, b int) func(int, CellState) bool {
			audit := v.AuditCells(a, b)
			return func(k int, s CellState) bool {
				return (deny && audit[k].WouldDeny > 0 || !deny && audit[k].WouldAllow > 0) && slices.Contains(states, s)
			}
		})
	}
	allStates := []CellState{CellAllowed, CellDenied, CellMixed}
	// markEdge sets what the audit policies would change on an edge of pairs, in cells of
	// states.
	markEdge := func(ed GraphEdge, states []CellState, pairs ...int) GraphEdge {
		ed.WouldDeny, ed.WouldAllow = auditIn(true, states, pairs...), auditIn(false, states, pairs...)
		ed.withAudit = v.View == policy.WithAudit
		return ed
	}
	sum := make([]pairSummary, n*n)
	// pair reports whether (a, b) is a pair of distinct pods at all: a group of one pod with
	// itself is that pod talking to itself.
	pair := func(a, b int) bool { return a != b || len(groups[a].Members) > 1 }
	undrawn, pairs := 0, 0
	for a := range groups {
		for b := range groups {
			if !pair(a, b) {
				continue
			}
			pairs++
			s := &sum[a*n+b]
			for _, au := range v.AuditCells(a, b) {
				if au.Mark() != "" {
					// What a rollout would change is drawn even where no enforced
					// policy decides the traffic yet.
					s.changed, s.drawn = true, true
				}
			}
			for _, c := range v.Cells(a, b) {
				switch c.State() {
				case CellAllowed:
					s.allowed++
				case CellDenied:
					s.denied++
				default:
					s.mixed++
				}
				if c.Decided > 0 {
					s.drawn = true
				}
			}
			if !s.drawn {
				undrawn++
			}
		}
	}
	// sameAllowed reports whether two pairs allow the same ports.
	sameAllowed := func(i, j int) bool {
		x, y := portsIn(CellAllowed, i), portsIn(CellAllowed, j)
		return strings.Join(x, ",") == strings.Join(y, ",")
	}
	// sameAudit reports whether the audit policies would change the same ports of two
	// pairs the same way.
	sameAudit := func(i, j int) bool {
		for _, deny := range []bool{true, false} {
			if strings.Join(auditIn(deny, allStates, i), ",") != strings.Join(auditIn(deny, allStates, j), ",") {
				return false
			}
		}
		return true
	}

	used := make([]bool, n*n)
	// block tries to draw the pairs srcs x dsts as one edge. They must all be drawn and
	// unused, and either all wholly blocked, or all allowed with no mixed port and either
	// every probed port allowed or the same ports allowed. An allowed block lists the
	// ports allowed (each group its own, for a wholly allowed block).
	block := func(srcs, dsts []int, from, to GraphEnd) bool {
		var idx []int
		denied, full, partial := true, true, false
		for _, a := range srcs {
			for _, b := range dsts {
				if !pair(a, b) {
					continue
				}
				i := a*n + b
				s := sum[i]
				if used[i] || !s.drawn || s.mixed > 0 {
					return false
				}
				denied = denied && s.allowed == 0
				full = full && s.denied == 0
				partial = partial || (s.allowed > 0 && s.denied > 0)
				if len(idx) > 0 && (s.allowed == 0) != (sum[idx[0]].allowed == 0) {
					return false
				}
				idx = append(idx, i)
			}
		}
		if len(idx) < 2 {
			return false
		}
		// Pairs the audit policies would change collapse only with pairs they would
		// change alike, and never into a note inside a namespace (it has no mark).
		if changed := slices.ContainsFunc(idx, func(i int) bool { return sum[i].changed }); changed {
			if from == to && from.Namespace {
				return false
			}
			for _, i := range idx[1:] {
				if !sameAudit(idx[0], i) {
					return false
				}
			}
		}
		if !denied && !full && partial {
			for _, i := range idx[1:] {
				if !sameAllowed(idx[0], i) {
					return false
				}
			}
		}
		for _, i := range idx {
			used[i] = true
		}
		edge := GraphEdge{From: from, To: to, State: CellDenied, Pairs: len(idx)}
		if !denied {
			edge.State = CellAllowed
			edge.Ports = portsIn(CellAllowed, idx...)
		}
		edge = markEdge(edge, allStates, idx[0])
		if from == to && from.Namespace {
			ns := &g.Namespaces[from.Index]
			ns.WithinState = edge.State
			ns.Within = "all traffic between its pods is blocked"
			if !denied {
				ns.Within = "its pods may all reach each other on " + PortList(edge.Ports, 4)
			}
			return true
		}
		g.Edges = append(g.Edges, edge)
		return true
	}
	nsEnd := func(i int) GraphEnd { return GraphEnd{Namespace: true, Index: i} }
	nodeEnd := func(i int) GraphEnd { return GraphEnd{Index: i} }
	for mi, m := range g.Namespaces {
		for ni, nn := range g.Namespaces {
			if len(m.Nodes) >= 2 && len(nn.Nodes) >= 2 {
				block(m.Nodes, nn.Nodes, nsEnd(mi), nsEnd(ni))
			}
		}
	}
	// A namespace is not linked to a group inside it: the picture would read as the
	// group reaching itself.
	for b := range groups {
		for mi, m := range g.Namespaces {
			if len(m.Nodes) >= 2 && g.Nodes[b].Namespace != mi {
				block(m.Nodes, []int{b}, nsEnd(mi), nodeEnd(b))
			}
		}
	}
	for a := range groups {
		for ni, nn := range g.Namespaces {
			if len(nn.Nodes) >= 2 && g.Nodes[a].Namespace != ni {
				block([]int{a}, nn.Nodes, nodeEnd(a), nsEnd(ni))
			}
		}
	}
	for a := range groups {
		for b := range groups {
			i := a*n + b
			s := sum[i]
			if !pair(a, b) || used[i] || !s.drawn {
				continue
			}
			used[i] = true
			// A pair with mixed and allowed ports gets two edges; the mixed edge carries
			// the marks of the mixed ports, the other the rest.
			if s.mixed > 0 {
				states := allStates
				if s.allowed > 0 {
					states = []CellState{CellMixed}
				}
				g.Edges = append(g.Edges, markEdge(GraphEdge{From: nodeEnd(a), To: nodeEnd(b), State: CellMixed, Ports: portsIn(CellMixed, i), Pairs: 1}, states, i))
			}
			if s.allowed > 0 {
				g.Edges = append(g.Edges, markEdge(GraphEdge{From: nodeEnd(a), To: nodeEnd(b), State: CellAllowed, Ports: portsIn(CellAllowed, i), Pairs: 1},
					[]CellState{CellAllowed, CellDenied}, i))
			}
			if s.allowed == 0 && s.mixed == 0 {
				g.Edges = append(g.Edges, markEdge(GraphEdge{From: nodeEnd(a), To: nodeEnd(b), State: CellDenied, Pairs: 1}, allStates, i))
			}
		}
	}
	sort.SliceStable(g.Edges, func(i, j int) bool { return edgeLess(g.Edges[i], g.Edges[j]) })

	if opts.Blocked == BlockedNone || (opts.Blocked != BlockedAll && len(g.Edges) > AutoEdgeLimit) {
		kept, dropped := g.Edges[:0], 0
		for _, ed := range g.Edges {
			if ed.State == CellDenied && !ed.Marked() { // what a rollout would open stays
				dropped++
				continue
			}
			kept = append(kept, ed)
		}
		g.Edges = kept
		if dropped > 0 {
			why := "as asked"
			if opts.Blocked != BlockedNone {
				why = fmt.Sprintf("the picture would have more than %d edges", AutoEdgeLimit)
			}
			g.Notes = append(g.Notes, fmt.Sprintf("%d blocked edges are not drawn (%s): a group with a thick border accepts only the edges drawn into it; the matrix lists every pair", dropped, why))
		}
	}
	if undrawn > 0 {
		g.Notes = append(g.Notes, fmt.Sprintf("%d of %d %s pairs are not drawn: no policy restricts them, so they are allowed", undrawn, pairs, unitName(g.By)))
	}
	for _, ed := range g.Edges {
		if ed.State == CellMixed {
			g.Notes = append(g.Notes, "a mixed edge: members of a group get different verdicts (ipBlocks or named ports tell them apart); the matrix shows which")
			break
		}
	}
	marked := 0
	for _, ed := range g.Edges {
		if ed.Marked() {
			marked++
		}
	}
	switch {
	case g.View == policy.WithAudit && e.HasAudit && g.Marked:
		g.Notes = append(g.Notes, fmt.Sprintf("edges as if the audit (staged) policies were enforced; orange: a change from today (%s)", plural(marked, "edge")))
	case g.View == policy.WithAudit && e.HasAudit:
		g.Notes = append(g.Notes, "edges as if the audit (staged) policies were enforced")
	case marked > 0:
		g.Notes = append(g.Notes, fmt.Sprintf("%s: enforcing the audit (staged) policies would change them (dashed: allowed today, would be denied)", plural(marked, "orange edge")))
	}
	return g
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func unitName(by GroupBy) string {
	if by == ByWorkloads {
		return "workload"
	}
	return "pod"
}

func endLess(a, b GraphEnd) int {
	if a.Namespace != b.Namespace {
		if a.Namespace {
			return -1
		}
		return 1
	}
	return a.Index - b.Index
}

func edgeLess(a, b GraphEdge) bool {
	if c := endLess(a.From, b.From); c != 0 {
		return c < 0
	}
	if c := endLess(a.To, b.To); c != 0 {
		return c < 0
	}
	return a.State < b.State
}

// addPolicies adds every policy that selects a pod, linked to the groups it selects
// (a whole namespace when it selects all of a namespace's groups).
func (g *Graph) addPolicies(e *policy.Engine, gr *Grouping, nsIndex map[string]int, view policy.View) {
	for _, p := range e.Policies {
		// A staged policy protects nothing today: a group it alone selects accepts
		// every edge, drawn or not.
		protects := !p.Audit || view == policy.WithAudit
		var dirs []string
		for _, d := range []policy.Direction{policy.Ingress, policy.Egress} {
			if p.Affects(d) {
				dirs = append(dirs, d.String())
			}
		}
		if len(dirs) == 0 {
			continue
		}
		selected := make([]bool, len(gr.Groups))
		any := false
		for gi, grp := range gr.Groups {
			for _, m := range grp.Members {
				if id := e.Identity(m); id >= 0 && p.SelectsIdentity(id) {
					selected[gi] = true
					any = true
					break
				}
			}
		}
		if !any {
			continue
		}
		gp := GraphPolicy{Ref: p.Ref.String(), Kind: p.Ref.Kind, Name: p.Ref.Name, Namespace: -1, Tier: p.Tier.String(), Directions: strings.Join(dirs, ", "), Audit: p.Audit}
		if p.Tier != policy.TierNetworkPolicy && p.Priority <= 1000 { // a BANP has no priority
			prio := p.Priority
			gp.Priority = &prio
		}
		if p.Ref.Namespace != "" {
			if ni, ok := nsIndex[p.Ref.Namespace]; ok {
				gp.Namespace = ni
			}
		}
		for ni, ns := range g.Namespaces {
			all := len(ns.Nodes) >= 2
			for _, gi := range ns.Nodes {
				all = all && selected[gi]
			}
			for _, gi := range ns.Nodes {
				if !selected[gi] {
					continue
				}
				if protects && p.Affects(policy.Ingress) {
					g.Nodes[gi].IngressProtected = true
				}
				if protects && p.Affects(policy.Egress) {
					g.Nodes[gi].EgressProtected = true
				}
				if !all {
					gp.Protects = append(gp.Protects, GraphEnd{Index: gi})
				}
			}
			switch {
			case all && ni == gp.Namespace:
				gp.OwnNamespace = true
			case all:
				gp.Protects = append(gp.Protects, GraphEnd{Namespace: true, Index: ni})
			}
		}
		pi := len(g.Policies)
		g.Policies = append(g.Policies, gp)
		if gp.Namespace >= 0 {
			g.Namespaces[gp.Namespace].Policies = append(g.Namespaces[gp.Namespace].Policies, pi)
		}
	}
}
