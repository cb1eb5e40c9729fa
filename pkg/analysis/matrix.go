// Package analysis answers questions about a compiled cluster: who can reach whom
// (matrix), why (explain), what is wrong (lint) and what a change does (diff).
package analysis

import (
	"sort"

	"github.com/netwarden/netwarden/pkg/policy"
)

// Matrix is the reachability of every ordered pod pair on each probed port.
type Matrix struct {
	Ports   []string `json:"ports"`
	Pods    []string `json:"pods"`
	Results []Result `json:"results"`
	// GroupBy and Groups are set for a matrix between groups (--group workloads; see
	// DecideGroups): Pods then holds group names and Groups their members.
	GroupBy string  `json:"groupBy,omitempty"`
	Groups  []Group `json:"groups,omitempty"`
	// Audit is set when the input has audit (staged) policies and the matrix was asked to
	// mark what they would change (MatrixOptions.Audit).
	Audit *AuditSummary `json:"audit,omitempty"`
}

// AuditSummary says which view a marked matrix shows and counts its marked results.
type AuditSummary struct {
	// View is the view the verdicts come from: "enforced" (what traffic gets today) or
	// "with-audit" (as if the audit policies were enforced).
	View string `json:"view"`
	// Policies are the audit policies ("NetworkPolicy ns/name"), in evaluation order.
	Policies []string `json:"policies"`
	// Deny counts results that are allowed today and would be denied with the audit
	// policies enforced; Allow the opposite; Mixed group results with member pairs of both.
	Deny  int `json:"deny"`
	Allow int `json:"allow"`
	Mixed int `json:"mixed,omitempty"`
}

// Audit marks of a Result: what its verdict becomes when the audit policies are enforced,
// present only where that differs from today.
const (
	AuditDeny  = "deny"  // allowed today, denied with the audit policies enforced
	AuditAllow = "allow" // denied today, allowed with the audit policies enforced
	AuditMixed = "mixed" // a group cell with member pairs of both kinds
)

// Result is one ordered pair on one port. Egress is the source's egress decision, Ingress
// the destination's ingress decision; Allowed needs both.
type Result struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Port    string `json:"port"`
	Allowed bool   `json:"allowed"`
	Egress  bool   `json:"egress"`
	Ingress bool   `json:"ingress"`
	// Mixed: in a matrix between groups, some member pairs are allowed and some are not
	// (Allowed then is false: it means every member pair is allowed).
	Mixed bool `json:"mixed,omitempty"`
	// Audit is set (AuditDeny, AuditAllow, AuditMixed) when enforcing the audit policies
	// would change the verdict; the verdict fields keep the matrix's view.
	Audit string `json:"audit,omitempty"`
}

// MatrixOptions choose what to probe.
type MatrixOptions struct {
	// Ports, when set, are probed on every destination. Otherwise each destination is
	// probed on the ports it declares (DestinationPorts).
	Ports []policy.Port
	// Pods, when not nil, are the pods shown (as sources and destinations), in order;
	// verdicts still consider every pod of the engine. netwarden -n sets it.
	Pods []int32
	// Workers bounds the goroutines deciding class pairs; 0 means GOMAXPROCS.
	Workers int
	// Progress, when set, is called from time to time with the work done so far and the
	// total, in decisions (for a progress indicator).
	Progress func(done, total int64)
	// View is the view verdicts come from: policy.Enforced (today) or policy.WithAudit
	// (as if audit policies were enforced).
	View policy.View
	// Audit also decides the other view when the engine has audit policies, and marks
	// every result whose verdict differs between the two (Result.Audit, Matrix.Audit).
	Audit bool
}

// auditPolicies lists the engine's audit policies.
func auditPolicies(e *policy.Engine) []string {
	out := []string{}
	for _, p := range e.Policies {
		if p.Audit {
			out = append(out, p.Ref.String())
		}
	}
	return out
}

// auditMark is the Result.Audit of a pair whose verdicts differ between the views, given
// the verdict shown in view v.
func auditMark(v policy.View, allowed bool) string {
	if allowed == (v == policy.WithAudit) {
		return AuditAllow
	}
	return AuditDeny
}

// count adds a result's mark to the counts.
func (s *AuditSummary) count(r *Result) {
	switch r.Audit {
	case AuditDeny:
		s.Deny++
	case AuditAllow:
		s.Allow++
	case AuditMixed:
		s.Mixed++
	}
}

// DestinationPorts returns the ports a destination pod is probed on when no ports are
// given: the container ports it declares, or, for a pod that declares none, every port
// declared anywhere in the cluster (so that pods without declared ports still show up),
// or 80/TCP when no pod declares any.
func DestinationPorts(e *policy.Engine) [][]policy.Port {
	per := make([][]policy.Port, len(e.Pods))
	var union []policy.Port
	seen := map[policy.Port]bool{}
	for i, p := range e.Pods {
		per[i] = policy.DeclaredPorts(p.Pod)
		for _, pt := range per[i] {
			if !seen[pt] {
				seen[pt] = true
				union = append(union, pt)
			}
		}
	}
	SortPorts(union)
	if len(union) == 0 {
		union = []policy.Port{{Proto: policy.ProtoTCP, Num: 80}}
	}
	for i := range per {
		if len(per[i]) == 0 {
			per[i] = union
		}
		SortPorts(per[i])
	}
	return per
}

// SortPorts orders ports by number, then protocol.
func SortPorts(ps []policy.Port) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Num != ps[j].Num {
			return ps[i].Num < ps[j].Num
		}
		return ps[i].Proto < ps[j].Proto
	})
}

// probePlan is which ports each destination pod is probed on, and their union in output
// order (sorted, unless the caller gave the ports).
func probePlan(e *policy.Engine, opts MatrixOptions) (perDst [][]policy.Port, all []policy.Port) {
	if len(opts.Ports) > 0 {
		perDst = make([][]policy.Port, len(e.Pods))
		for i := range perDst {
			perDst[i] = opts.Ports
		}
	} else {
		perDst = DestinationPorts(e)
	}
	seen := map[policy.Port]bool{}
	for _, ps := range perDst {
		for _, pt := range ps {
			if !seen[pt] {
				seen[pt] = true
				all = append(all, pt)
			}
		}
	}
	if len(opts.Ports) == 0 {
		SortPorts(all)
	}
	return perDst, all
}

// ComputeMatrix decides every ordered pod pair on every probed port. It decides once per
// pair of pod classes (see PodClasses) and expands the result to pods.
func ComputeMatrix(e *policy.Engine, opts MatrixOptions) *Matrix {
	return ComputeClassMatrix(e, opts).Matrix()
}

// ComputeMatrixPodByPod decides every ordered pod pair on every probed port one by one. It
// is the reference ComputeMatrix is tested and benchmarked against.
func ComputeMatrixPodByPod(e *policy.Engine, opts MatrixOptions) *Matrix {
	opts.View, opts.Audit = policy.Enforced, false
	return ComputeMatrixPodByPodIn(e, opts)
}

// ComputeMatrixPodByPodIn is ComputeMatrixPodByPod with opts.View and opts.Audit: the
// reference for the marked matrix, deciding both views pair by pair.
func ComputeMatrixPodByPodIn(e *policy.Engine, opts MatrixOptions) *Matrix {
	shown := shownPods(e, opts)
	m := &Matrix{Ports: []string{}, Pods: make([]string, len(shown)), Results: []Result{}}
	for i, p := range shown {
		m.Pods[i] = e.Pods[p].Key
	}
	marks := opts.Audit && e.HasAudit
	if marks {
		m.Audit = &AuditSummary{View: opts.View.String(), Policies: auditPolicies(e)}
	}
	other := policy.Enforced
	if opts.View == policy.Enforced {
		other = policy.WithAudit
	}
	perDst, all := probePlan(e, opts)
	for _, pt := range all {
		m.Ports = append(m.Ports, pt.String())
	}
	for _, a := range shown {
		for _, b := range shown {
			src, dst := e.PodPair(a, b)
			for _, pt := range perDst[b] {
				v := e.DecideIn(opts.View, src, dst, pt)
				r := Result{From: e.Pods[a].Key, To: e.Pods[b].Key, Port: pt.String(),
					Allowed: v.Allowed, Egress: v.Egress.Allowed, Ingress: v.Ingress.Allowed}
				if marks && e.DecideIn(other, src, dst, pt).Allowed != v.Allowed {
					r.Audit = auditMark(opts.View, v.Allowed)
					m.Audit.count(&r)
				}
				m.Results = append(m.Results, r)
			}
		}
	}
	return m
}

// shownPods is opts.Pods, or every pod.
func shownPods(e *policy.Engine, opts MatrixOptions) []int32 {
	if opts.Pods != nil {
		return opts.Pods
	}
	all := make([]int32, len(e.Pods))
	for i := range all {
		all[i] = int32(i)
	}
	return all
}

// Cell bits: one byte per (source class, destination class, probed port).
const (
	cellAllowed uint8 = 1 << iota
	cellEgress
	cellIngress
	cellSelf = cellAllowed | cellEgress | cellIngress
	// cellMixed (a group cell whose members disagree) is 1<<3, in matrix_json.go.
	// cellAuditDeny and cellAuditAllow: enforcing the audit policies would deny (allow)
	// the pair, or some member pairs of a group cell.
	cellAuditDeny  uint8 = 1 << 4
	cellAuditAllow uint8 = 1 << 5
)

// auditOf is Result.Audit for cell bits.
func auditOf(c uint8) string {
	switch c & (cellAuditDeny | cellAuditAllow) {
	case cellAuditDeny:
		return AuditDeny
	case cellAuditAllow:
		return AuditAllow
	case cellAuditDeny | cellAuditAllow:
		return AuditMixed
	}
	return ""
}

// ClassMatrix is the matrix decided per pair of pod classes, itself decided per direction
// (see directionTables). It answers for any pod pair in constant time and expands to a
// Matrix, or streams one, in pod order, without a table of pod or class pairs.
type ClassMatrix struct {
	Engine *policy.Engine
	// Classes are PodClasses without the node: pods of one class get the same verdicts
	// except where the own-node rule holds for a pair, which Verdict and Decisions apply
	// per pair.
	Classes *Classes
	// Ports is the union of the probed ports, in output order.
	Ports []policy.Port

	portNames []string
	shown     []int32
	// dstPorts[c] are the ports (indices into Ports) members of class c are probed on,
	// in probe order.
	dstPorts [][]int32
	tables   *directionTables
	features *podFeatures
	// view is the view tables decide; other, when marks were asked for and the engine
	// has audit policies, decides the other view for the marks.
	view  policy.View
	other *directionTables
}

// ComputeClassMatrix decides the egress and ingress tables behind every pair of pod
// classes on the ports each destination class is probed on, in parallel.
func ComputeClassMatrix(e *policy.Engine, opts MatrixOptions) *ClassMatrix {
	// Classes without nodes: the own-node rule is applied per pair (see resolve).
	cls, features := classify(e, ClassOptions{DeclaredPorts: len(opts.Ports) == 0}, true)
	perDst, all := probePlan(e, opts)
	m := &ClassMatrix{Engine: e, Classes: cls, Ports: all, shown: shownPods(e, opts), features: features}
	portIndex := make(map[policy.Port]int32, len(all))
	for i, pt := range all {
		portIndex[pt] = int32(i)
		m.portNames = append(m.portNames, pt.String())
	}
	m.dstPorts = make([][]int32, cls.Len())
	for c, members := range cls.Members {
		for _, pt := range perDst[members[0]] {
			m.dstPorts[c] = append(m.dstPorts[c], portIndex[pt])
		}
	}
	m.view = opts.View
	// The Enforced tables are always decided; the WithAudit ones, when needed, copy every
	// row that no audit policy touches from them.
	enforced := buildDirectionTables(e, policy.Enforced, cls, features, all, m.dstPorts, opts.Workers, opts.Progress, nil)
	m.tables = enforced
	if e.HasAudit && (opts.Audit || opts.View == policy.WithAudit) {
		with := buildDirectionTables(e, policy.WithAudit, cls, features, all, m.dstPorts, opts.Workers, opts.Progress, enforced)
		if opts.View == policy.WithAudit {
			m.tables = with
		}
		if opts.Audit {
			m.other = with
			if opts.View == policy.WithAudit {
				m.other = enforced
			}
		}
	}
	return m
}

// Marked reports whether the matrix marks what the audit policies would change.
func (m *ClassMatrix) Marked() bool { return m.other != nil }

// View is the view the verdicts come from.
func (m *ClassMatrix) View() policy.View { return m.view }

// cell returns the verdict bits for pods a and b on the k-th port b is probed on.
func (m *ClassMatrix) cell(a, b int32, k int) uint8 {
	if a == b {
		return cellSelf
	}
	ca, cb := m.Classes.Of[a], m.Classes.Of[b]
	eg, in := m.tables.pairIDs(m.features, m.Engine, a, b, ca, cb, k)
	var c uint8
	if m.tables.allowed[eg] {
		c |= cellEgress
	}
	if m.tables.allowed[in] {
		c |= cellIngress
	}
	if c == cellEgress|cellIngress {
		c |= cellAllowed
	}
	if m.other != nil {
		oeg, oin := m.other.pairIDs(m.features, m.Engine, a, b, ca, cb, k)
		if allowed := m.other.allowed[oeg] && m.other.allowed[oin]; allowed != (c&cellAllowed != 0) {
			if auditMark(m.view, c&cellAllowed != 0) == AuditDeny {
				c |= cellAuditDeny
			} else {
				c |= cellAuditAllow
			}
		}
	}
	return c
}

// ProbedPorts returns the ports pod b is probed on, in probe order.
func (m *ClassMatrix) ProbedPorts(b int32) []policy.Port {
	idx := m.dstPorts[m.Classes.Of[b]]
	out := make([]policy.Port, len(idx))
	for i, pi := range idx {
		out[i] = m.Ports[pi]
	}
	return out
}

// Verdict returns the decisions for the connection from pod a to pod b on the k-th port
// b is probed on (ProbedPorts(b)[k]).
func (m *ClassMatrix) Verdict(a, b int32, k int) (allowed, egress, ingress bool) {
	c := m.cell(a, b, k)
	return c&cellAllowed != 0, c&cellEgress != 0, c&cellIngress != 0
}

// Decisions returns the egress and ingress decisions (tier, policy, rule) for the
// connection from pod a to pod b on the k-th port b is probed on (ProbedPorts(b)[k]). A pod
// to itself gets ReasonSelf both ways.
func (m *ClassMatrix) Decisions(a, b int32, k int) (egress, ingress policy.Decision) {
	if a == b {
		self := m.tables.ids.decision(idSelf)
		return self, self
	}
	eg, in := m.tables.pairIDs(m.features, m.Engine, a, b, m.Classes.Of[a], m.Classes.Of[b], k)
	return m.tables.ids.decision(eg), m.tables.ids.decision(in)
}

// PairDecisions is Decisions on port pt; ok is false when pt is not a port b is probed
// on (decide those with Engine.Decide).
func (m *ClassMatrix) PairDecisions(a, b int32, pt policy.Port) (egress, ingress policy.Decision, ok bool) {
	for k, pi := range m.dstPorts[m.Classes.Of[b]] {
		if m.Ports[pi] == pt {
			eg, in := m.Decisions(a, b, k)
			return eg, in, true
		}
	}
	return policy.Decision{}, policy.Decision{}, false
}

// ResultCount is the number of results the expanded matrix has.
func (m *ClassMatrix) ResultCount() int {
	perSrc := 0
	for _, b := range m.shown {
		perSrc += len(m.dstPorts[m.Classes.Of[b]])
	}
	return perSrc * len(m.shown)
}

// Each calls fn for every result in matrix order (sources, then destinations, in pod
// order, then probed ports), stopping early when fn returns false.
func (m *ClassMatrix) Each(fn func(Result) bool) {
	pods := m.Engine.Pods
	for _, a := range m.shown {
		for _, b := range m.shown {
			for k, pi := range m.dstPorts[m.Classes.Of[b]] {
				c := m.cell(a, b, k)
				if !fn(Result{From: pods[a].Key, To: pods[b].Key, Port: m.portNames[pi],
					Allowed: c&cellAllowed != 0, Egress: c&cellEgress != 0, Ingress: c&cellIngress != 0, Audit: auditOf(c)}) {
					return
				}
			}
		}
	}
}

// Matrix expands the class matrix to every pod pair.
func (m *ClassMatrix) Matrix() *Matrix {
	out := &Matrix{Ports: append([]string{}, m.portNames...), Pods: make([]string, len(m.shown)),
		Results: make([]Result, 0, m.ResultCount())}
	for i, p := range m.shown {
		out.Pods[i] = m.Engine.Pods[p].Key
	}
	if m.Marked() {
		out.Audit = &AuditSummary{View: m.view.String(), Policies: auditPolicies(m.Engine)}
	}
	m.Each(func(r Result) bool {
		out.Results = append(out.Results, r)
		if out.Audit != nil {
			out.Audit.count(&r)
		}
		return true
	})
	return out
}
