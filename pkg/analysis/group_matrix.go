package analysis

import (
	"github.com/netwarden/netwarden/pkg/policy"
)

// CellState is the verdict for one ordered group pair on one port.
type CellState uint8

const (
	// CellAllowed: every member pair is allowed.
	CellAllowed CellState = iota
	// CellDenied: every member pair is denied.
	CellDenied
	// CellMixed: members disagree; some pairs are allowed, some denied (pods of one
	// workload told apart by ipBlocks, named ports or labels that differ between them).
	CellMixed
)

func (s CellState) String() string {
	switch s {
	case CellDenied:
		return "denied"
	case CellMixed:
		return "mixed"
	}
	return "allowed"
}

// GroupCell counts the member pairs of one ordered group pair on one port. The pairs are
// every member of the source with every member of the destination, except a pod with
// itself; a group of one pod with itself is that pod talking to itself (always allowed).
type GroupCell struct {
	Pairs, Allowed int32
	// Egress and Ingress count the pairs whose egress (at the source) or ingress (at the
	// destination) allowed the connection.
	Egress, Ingress int32
	// Decided counts the pairs that a policy decided in at least one direction: denied
	// (by a rule or isolation) or allowed by a rule that names peers or ports. The others
	// are allowed because nothing restricts them (or only an allow-everything rule does).
	Decided int32
	// AllowedPair and DeniedPair are one allowed and one denied member pair, as pod
	// indices [from, to]; {-1, -1} when there is none. Explanations are drawn from them.
	AllowedPair, DeniedPair [2]int32
}

// State says whether the members agree.
func (c GroupCell) State() CellState {
	switch c.Allowed {
	case c.Pairs:
		return CellAllowed
	case 0:
		return CellDenied
	}
	return CellMixed
}

// GroupVerdicts is the matrix between groups: for each ordered pair of groups, each port
// the destination group is probed on, and how its member pairs were decided.
type GroupVerdicts struct {
	Engine   *policy.Engine
	Grouping *Grouping
	// Ports is the union of probed ports, in output order.
	Ports []policy.Port
	// DstPorts are the ports each group is probed on as a destination: the union of its
	// members' probe ports (see DestinationPorts), or MatrixOptions.Ports.
	DstPorts [][]policy.Port

	off    []int
	stride int
	cells  []GroupCell
}

// Cells returns the cells of one ordered group pair, one per DstPorts[to].
func (v *GroupVerdicts) Cells(from, to int) []GroupCell {
	start := from*v.stride + v.off[to]
	return v.cells[start : start+len(v.DstPorts[to])]
}

// DecideGroups decides every ordered group pair. It decides once per pair of pod classes
// (PodClasses: pods no policy can tell apart) and counts member pairs per class, so a
// workload of a hundred identical pods costs what one pod costs.
//
// With MatrixOptions.Pods set, only those pods are shown (grouped as g groups them);
// verdicts still consider every pod.
func DecideGroups(e *policy.Engine, g *Grouping, opts MatrixOptions) *GroupVerdicts {
	if opts.Pods != nil {
		g = g.Only(opts.Pods)
	}
	v := &GroupVerdicts{Engine: e, Grouping: g, DstPorts: make([][]policy.Port, len(g.Groups))}
	perPod, _ := probePlan(e, opts)
	seen := map[policy.Port]bool{}
	for gi, grp := range g.Groups {
		if len(opts.Ports) > 0 {
			v.DstPorts[gi] = opts.Ports
		} else {
			mine := map[policy.Port]bool{}
			for _, m := range grp.Members {
				for _, pt := range perPod[m] {
					if !mine[pt] {
						mine[pt] = true
						v.DstPorts[gi] = append(v.DstPorts[gi], pt)
					}
				}
			}
			SortPorts(v.DstPorts[gi])
		}
		for _, pt := range v.DstPorts[gi] {
			if !seen[pt] {
				seen[pt] = true
				v.Ports = append(v.Ports, pt)
			}
		}
	}
	if len(opts.Ports) == 0 {
		SortPorts(v.Ports)
	}
	v.off = make([]int, len(g.Groups))
	for gi := range g.Groups {
		v.off[gi] = v.stride
		v.stride += len(v.DstPorts[gi])
	}
	v.cells = make([]GroupCell, len(g.Groups)*v.stride)

	cls := PodClasses(e, ClassOptions{})
	hist := make([][]classCount, len(g.Groups))
	for gi, grp := range g.Groups {
		hist[gi] = classHistogram(cls, grp.Members)
	}
	portIndex := make(map[policy.Port]int, len(v.Ports))
	for i, pt := range v.Ports {
		portIndex[pt] = i
	}
	memo := newVerdictMemo(cls.Len(), len(v.Ports))
	for from := range g.Groups {
		for to := range g.Groups {
			cells := v.Cells(from, to)
			self := from == to && len(g.Groups[to].Members) == 1
			for k, pt := range v.DstPorts[to] {
				pi := portIndex[pt]
				c := &cells[k]
				c.AllowedPair, c.DeniedPair = [2]int32{-1, -1}, [2]int32{-1, -1}
				if self {
					m := g.Groups[to].Members[0]
					*c = GroupCell{Pairs: 1, Allowed: 1, Egress: 1, Ingress: 1, AllowedPair: [2]int32{m, m}, DeniedPair: [2]int32{-1, -1}}
					continue
				}
				for _, ca := range hist[from] {
					for _, cb := range hist[to] {
						n := ca.n * cb.n
						a, b := ca.first, cb.first
						if from == to && ca.class == cb.class {
							n = ca.n * (ca.n - 1)
							b = cb.second
						}
						if n == 0 {
							continue
						}
						pv, ok := memo.get(ca.class, cb.class, pi)
						if !ok {
							pv = decidePair(e, a, b, pt)
							memo.put(ca.class, cb.class, pi, pv)
						}
						c.add(pv, n, a, b)
					}
				}
			}
		}
	}
	return v
}

type classCount struct {
	class         int32
	n             int32
	first, second int32 // the first two members of the class in the group; second is -1 if none
}

func classHistogram(cls *Classes, members []int32) []classCount {
	var out []classCount
	at := map[int32]int{}
	for _, m := range members {
		c := cls.Of[m]
		i, ok := at[c]
		if !ok {
			at[c] = len(out)
			out = append(out, classCount{class: c, n: 1, first: m, second: -1})
			continue
		}
		out[i].n++
		if out[i].second < 0 {
			out[i].second = m
		}
	}
	return out
}

type pairVerdict struct {
	allowed, egress, ingress, decided bool
}

// verdictMemo remembers the verdict per (source class, destination class, port): a dense
// table while it stays under 64 MiB (a byte each), a map past that.
type verdictMemo struct {
	classes, ports int
	dense          []uint8 // 0: not decided yet; else 1 + the verdict's bits
	sparse         map[[3]int32]pairVerdict
}

func newVerdictMemo(classes, ports int) *verdictMemo {
	m := &verdictMemo{classes: classes, ports: ports}
	if n := classes * classes * ports; n <= 64<<20 {
		m.dense = make([]uint8, n)
	} else {
		m.sparse = map[[3]int32]pairVerdict{}
	}
	return m
}

func (m *verdictMemo) get(a, b int32, port int) (pairVerdict, bool) {
	if m.dense == nil {
		pv, ok := m.sparse[[3]int32{a, b, int32(port)}]
		return pv, ok
	}
	x := m.dense[(int(a)*m.classes+int(b))*m.ports+port]
	if x == 0 {
		return pairVerdict{}, false
	}
	x--
	return pairVerdict{allowed: x&1 != 0, egress: x&2 != 0, ingress: x&4 != 0, decided: x&8 != 0}, true
}

func (m *verdictMemo) put(a, b int32, port int, pv pairVerdict) {
	if m.dense == nil {
		m.sparse[[3]int32{a, b, int32(port)}] = pv
		return
	}
	var x uint8
	for i, bit := range []bool{pv.allowed, pv.egress, pv.ingress, pv.decided} {
		if bit {
			x |= 1 << i
		}
	}
	m.dense[(int(a)*m.classes+int(b))*m.ports+port] = x + 1
}

func decidePair(e *policy.Engine, a, b int32, pt policy.Port) pairVerdict {
	s, d := e.PodPair(a, b)
	v := e.Decide(s, d, pt)
	return pairVerdict{
		allowed: v.Allowed, egress: v.Egress.Allowed, ingress: v.Ingress.Allowed,
		decided: policyDecided(e, policy.Egress, v.Egress) || policyDecided(e, policy.Ingress, v.Ingress),
	}
}

// policyDecided reports whether a policy, rather than the Kubernetes default, decided one
// direction. A rule that allows every peer on every port restricts nothing and does not
// count: pictures leave such traffic out, as they leave out unrestricted traffic.
func policyDecided(e *policy.Engine, d policy.Direction, dec policy.Decision) bool {
	switch dec.Reason {
	case policy.ReasonIsolated:
		return true
	case policy.ReasonRule:
		if dec.Action != policy.Allow {
			return true
		}
		r := &e.Policies[dec.Policy].Rules(d)[dec.Rule]
		return !(r.AnyPeer && r.AnyPort)
	}
	return false
}

func (c *GroupCell) add(pv pairVerdict, n, a, b int32) {
	c.Pairs += n
	if pv.allowed {
		c.Allowed += n
		if c.AllowedPair[0] < 0 {
			c.AllowedPair = [2]int32{a, b}
		}
	} else if c.DeniedPair[0] < 0 {
		c.DeniedPair = [2]int32{a, b}
	}
	if pv.egress {
		c.Egress += n
	}
	if pv.ingress {
		c.Ingress += n
	}
	if pv.decided {
		c.Decided += n
	}
}

// Matrix returns the verdicts as a matrix whose rows and columns are groups: Pods holds
// group names, Groups their members. A result is Allowed (and Egress, Ingress) when every
// member pair is; Mixed when some member pairs are allowed and some are not.
func (v *GroupVerdicts) Matrix() *Matrix {
	m := &Matrix{Ports: []string{}, Pods: make([]string, len(v.Grouping.Groups)), Results: []Result{},
		GroupBy: string(v.Grouping.By), Groups: v.Grouping.Groups}
	for i, grp := range v.Grouping.Groups {
		m.Pods[i] = grp.Name
	}
	for _, pt := range v.Ports {
		m.Ports = append(m.Ports, pt.String())
	}
	for from := range v.Grouping.Groups {
		for to := range v.Grouping.Groups {
			for k, c := range v.Cells(from, to) {
				m.Results = append(m.Results, Result{From: m.Pods[from], To: m.Pods[to], Port: v.DstPorts[to][k].String(),
					Allowed: c.Allowed == c.Pairs, Egress: c.Egress == c.Pairs, Ingress: c.Ingress == c.Pairs,
					Mixed: c.State() == CellMixed})
			}
		}
	}
	return m
}

// MatrixBy is the matrix for --group: pod by pod (ComputeMatrix) for ByPods, group by
// group otherwise. Commands that compare or print matrices (matrix, diff) call it.
func MatrixBy(e *policy.Engine, by GroupBy, opts MatrixOptions) *Matrix {
	if by == ByPods || by == "" {
		return ComputeMatrix(e, opts)
	}
	return DecideGroups(e, NewGrouping(e, by), opts).Matrix()
}
