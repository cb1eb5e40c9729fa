package analysis

import (
	"runtime"
	"sync"
	"sync/atomic"

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

// AuditCount is what enforcing the audit policies would change in one group cell:
// WouldDeny counts the member pairs allowed today that it would deny, WouldAllow those
// denied today that it would allow. It is kept beside the cells, only for marked verdicts:
// at 10k pods there are some 15 million cells.
type AuditCount struct {
	WouldDeny, WouldAllow int32
}

// Mark is the Result.Audit of the cell: "" when enforcing the audit policies changes no
// member pair.
func (c AuditCount) Mark() string {
	switch {
	case c.WouldDeny > 0 && c.WouldAllow > 0:
		return AuditMixed
	case c.WouldDeny > 0:
		return AuditDeny
	case c.WouldAllow > 0:
		return AuditAllow
	}
	return ""
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
	// View is the view the counts come from. Marked says the cells also count what
	// enforcing the audit policies would change (GroupCell.WouldDeny, WouldAllow).
	View   policy.View
	Marked bool

	off    []int
	stride int
	cells  []GroupCell
	audit  []AuditCount // like cells, when Marked
}

// AuditCells returns what enforcing the audit policies would change in the cells of one
// ordered group pair (as Cells), or nil when the verdicts are not Marked.
func (v *GroupVerdicts) AuditCells(from, to int) []AuditCount {
	if v.audit == nil {
		return nil
	}
	start := from*v.stride + v.off[to]
	return v.audit[start : start+len(v.DstPorts[to])]
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
	v := &GroupVerdicts{Engine: e, Grouping: g, DstPorts: make([][]policy.Port, len(g.Groups)), View: opts.View}
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

	// Decided per class pair and direction (ComputeClassMatrix), added up per group pair
	// (CountPairs): a workload of a hundred identical pods costs what one pod costs.
	cm := ComputeClassMatrix(e, MatrixOptions{Ports: opts.Ports, Workers: opts.Workers, Progress: opts.Progress, View: opts.View, Audit: opts.Audit})
	v.Marked = cm.Marked()
	if v.Marked {
		v.audit = make([]AuditCount, len(v.cells))
	}
	sets := make([]MemberSet, len(g.Groups))
	for gi, grp := range g.Groups {
		sets[gi] = cm.Members(grp.Members)
	}
	// Rows (source groups) are shared by the workers; each writes its own cells.
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, min(workers, len(g.Groups))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				from := int(next.Add(1) - 1)
				if from >= len(g.Groups) {
					return
				}
				v.decideRow(e, g, cm, sets, from)
			}
		}()
	}
	wg.Wait()
	return v
}

// decideRow fills the cells of one source group.
func (v *GroupVerdicts) decideRow(e *policy.Engine, g *Grouping, cm *ClassMatrix, sets []MemberSet, from int) {
	for to := range g.Groups {
		cells := v.Cells(from, to)
		audit := v.AuditCells(from, to)
		self := from == to && len(g.Groups[to].Members) == 1
		for k, pt := range v.DstPorts[to] {
			c := &cells[k]
			var au *AuditCount
			if audit != nil {
				au = &audit[k]
			}
			c.AllowedPair, c.DeniedPair = [2]int32{-1, -1}, [2]int32{-1, -1}
			if self {
				m := g.Groups[to].Members[0]
				*c = GroupCell{Pairs: 1, Allowed: 1, Egress: 1, Ingress: 1, AllowedPair: [2]int32{m, m}, DeniedPair: [2]int32{-1, -1}}
				continue
			}
			ok := cm.countPairs(sets[from], sets[to], pt, func(eg, in, oeg, oin policy.Decision, n, a, b int32) {
				c.add(verdictOf(e, eg, in), n, a, b)
				if au != nil {
					au.mark(v.View, eg.Allowed && in.Allowed, oeg.Allowed && oin.Allowed, n)
				}
			})
			if !ok {
				// A port some members of the group are not probed on: pair by pair.
				for _, a := range g.Groups[from].Members {
					for _, b := range g.Groups[to].Members {
						if a != b {
							pv := decidePair(e, v.View, a, b, pt)
							c.add(pv, 1, a, b)
							if au != nil {
								au.mark(v.View, pv.allowed, decidePair(e, otherView(v.View), a, b, pt).allowed, 1)
							}
						}
					}
				}
			}
		}
	}
}

type pairVerdict struct {
	allowed, egress, ingress, decided bool
}

func decidePair(e *policy.Engine, view policy.View, a, b int32, pt policy.Port) pairVerdict {
	s, d := e.PodPair(a, b)
	v := e.DecideIn(view, s, d, pt)
	return verdictOf(e, v.Egress, v.Ingress)
}

func otherView(v policy.View) policy.View {
	if v == policy.WithAudit {
		return policy.Enforced
	}
	return policy.WithAudit
}

// mark counts n pairs allowed (or not) in view v and in the other view.
func (c *AuditCount) mark(v policy.View, allowed, other bool, n int32) {
	if allowed == other {
		return
	}
	if auditMark(v, allowed) == AuditDeny {
		c.WouldDeny += n
	} else {
		c.WouldAllow += n
	}
}

func verdictOf(e *policy.Engine, eg, in policy.Decision) pairVerdict {
	return pairVerdict{
		allowed: eg.Allowed && in.Allowed, egress: eg.Allowed, ingress: in.Allowed,
		decided: policyDecided(e, policy.Egress, eg) || policyDecided(e, policy.Ingress, in),
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
	if v.Marked {
		m.Audit = &AuditSummary{View: v.View.String(), Policies: auditPolicies(v.Engine)}
	}
	for _, pt := range v.Ports {
		m.Ports = append(m.Ports, pt.String())
	}
	for from := range v.Grouping.Groups {
		for to := range v.Grouping.Groups {
			audit := v.AuditCells(from, to)
			for k, c := range v.Cells(from, to) {
				r := Result{From: m.Pods[from], To: m.Pods[to], Port: v.DstPorts[to][k].String(),
					Allowed: c.Allowed == c.Pairs, Egress: c.Egress == c.Pairs, Ingress: c.Ingress == c.Pairs,
					Mixed: c.State() == CellMixed}
				if audit != nil {
					r.Audit = audit[k].Mark()
				}
				if m.Audit != nil {
					m.Audit.count(&r)
				}
				m.Results = append(m.Results, r)
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
