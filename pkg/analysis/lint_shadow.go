package analysis

import (
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"

	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// shadowing: NW301 (an admin or baseline rule after a rule that covers it, in the same
// policy or in an earlier policy of the tier whose subject includes its subject) and NW302
// (a NetworkPolicy rule covered by another rule for the same pods).
func (l *linter) shadowing() {
	views := l.views()
	dup := l.duplicateOf()
	for qi := range views {
		q := &views[qi]
		if q.spec == nil || !l.selectsAny(q.p.SelectsIdentity) {
			continue // unreadable, or selects nothing (NW201 says so)
		}
		for _, d := range directions {
			for ri := range q.p.Rules(d) {
				if q.p.Tier == policy.TierNetworkPolicy {
					l.redundantNP(views, dup, q, d, ri)
				} else {
					l.shadowedAdmin(views, q, d, ri)
				}
			}
		}
	}
}

// shadowedAdmin reports rule ri of q when an earlier rule of q, or any rule of a policy of
// the same tier with a strictly lower priority whose subject includes q's, covers it: the
// first matching rule ends the walk (Pass ends it for the tier), so ri is never reached
// for the connections the earlier rule matches.
func (l *linter) shadowedAdmin(views []polView, q *polView, d policy.Direction, ri int) {
	rj := &q.p.Rules(d)[ri]
	if !matchesSomething(rj) {
		return
	}
	report := func(by *polView, bi int) {
		ri2 := &by.p.Rules(d)[bi]
		sev := SeverityWarning
		what := "contradicts it"
		if ri2.Action == rj.Action {
			sev, what = SeverityInfo, "already does the same"
		}
		where := "rule " + ruleName(by.p, d, bi) + " before it"
		if by != q {
			where = fmt.Sprintf("rule %s of %s (priority %d, earlier)", ruleName(by.p, d, bi), by.p.Ref, by.p.Priority)
		}
		msg := fmt.Sprintf("%s rule %s never matches: %s %s covers all its peers and ports and %s (%s)",
			rj.Action, ruleName(q.p, d, ri), where, ri2.Action, what, q.p.Tier)
		hint := "delete the rule, or move it before the rule that covers it"
		if by != q {
			hint = fmt.Sprintf("delete the rule, or give %s a lower priority than %s", q.p.Ref, by.p.Ref)
		}
		l.reportAt(RuleShadowedRule, sev, q.p.Ref, ruleField(d, ri), msg, hint, relatedIf(by != q, by)...)
	}
	for bi := 0; bi < ri; bi++ {
		if l.ruleCovers(q, &q.p.Rules(d)[bi], q, rj) {
			report(q, bi)
			return
		}
	}
	for pi := range views {
		by := &views[pi]
		if by == q || by.spec == nil || by.p.Tier != q.p.Tier || by.p.Priority >= q.p.Priority || !by.p.Affects(d) {
			continue
		}
		if !l.subjectCovers(by, q) {
			continue
		}
		for bi := range by.p.Rules(d) {
			if l.ruleCovers(by, &by.p.Rules(d)[bi], q, rj) {
				report(by, bi)
				return
			}
		}
	}
}

// redundantNP reports NetworkPolicy rule ri of q when another rule, of q or of a policy in
// the same namespace that selects at least q's pods for the same direction, covers it.
// When two rules cover each other, only the later one is reported.
func (l *linter) redundantNP(views []polView, dup map[int]int, q *polView, d policy.Direction, ri int) {
	rj := &q.p.Rules(d)[ri]
	if !matchesSomething(rj) {
		return
	}
	for pi := range views {
		by := &views[pi]
		if by.np == nil || by.p.Ref.Namespace != q.p.Ref.Namespace || !by.p.Affects(d) {
			continue
		}
		if isDupPair(dup, by.p.Index, q.p.Index) {
			continue // duplicates are reported as such
		}
		if !implies(q.subjPod, by.subjPod) {
			continue
		}
		for bi := range by.p.Rules(d) {
			if by == q && bi == ri {
				continue
			}
			rb := &by.p.Rules(d)[bi]
			if !l.ruleCovers(by, rb, q, rj) {
				continue
			}
			// Mutual cover (same pods, same peers and ports): keep the earlier one.
			if implies(by.subjPod, q.subjPod) && l.ruleCovers(q, rj, by, rb) &&
				(by.p.Index > q.p.Index || (by == q && bi > ri)) {
				continue
			}
			where := "rule " + ruleName(by.p, d, bi)
			if by != q {
				where += " of " + by.p.Ref.String()
				if !implies(by.subjPod, q.subjPod) {
					where += " (which selects at least the same pods)"
				}
			}
			msg := fmt.Sprintf("rule %s allows nothing that %s does not already allow", ruleName(q.p, d, ri), where)
			l.report(RuleRedundantRule, q.p.Ref, ruleField(d, ri), msg, "delete it, or narrow the other rule if this one states the intent", relatedIf(by != q, by)...)
			return
		}
	}
}

func relatedIf(ok bool, v *polView) []model.Ref {
	if !ok {
		return nil
	}
	return []model.Ref{v.p.Ref}
}

// isDupPair reports whether two different policies are copies of one spec.
func isDupPair(dup map[int]int, a, b int) bool {
	root := func(x int) int {
		if f, ok := dup[x]; ok {
			return f
		}
		return x
	}
	return a != b && root(a) == root(b)
}

// matchesSomething: rules whose every peer matches nothing are left to NW202.
func matchesSomething(r *policy.Rule) bool {
	if r.AnyPeer {
		return true
	}
	for _, p := range r.Peers {
		if p.Kind != policy.PeerNone {
			return true
		}
	}
	return false
}

// subjectCovers reports whether a's subject includes every pod b's subject can select.
func (l *linter) subjectCovers(a, b *polView) bool {
	return l.nsImplies(b.subjNS, a.subjNS) && implies(b.subjPod, a.subjPod)
}

// duplicates: NW303, two policies of one kind (and, for NetworkPolicies, one namespace)
// with the same spec. The later one (by name) is reported.
func (l *linter) duplicates() {
	views := l.views()
	for qi, first := range l.duplicateOf() {
		q, p := &views[qi], &views[first]
		l.report(RuleDuplicatePolicy, q.p.Ref, "spec", fmt.Sprintf("%s has the same spec as %s", q.p.Ref, p.p.Ref),
			fmt.Sprintf("delete one of %s and %s", p.p.Ref, q.p.Ref), p.p.Ref)
	}
}

// duplicateOf maps each policy that duplicates an earlier one to the first of its kind.
func (l *linter) duplicateOf() map[int]int {
	if l.dups != nil {
		return l.dups
	}
	l.dups = map[int]int{}
	views := l.views()
	for j := range views {
		for i := 0; i < j; i++ {
			a, b := &views[i], &views[j]
			if a.spec == nil || b.spec == nil || a.p.Ref.Kind != b.p.Ref.Kind || a.p.Ref.Namespace != b.p.Ref.Namespace {
				continue
			}
			if _, isDup := l.dups[i]; isDup {
				continue
			}
			if apiequality.Semantic.DeepEqual(a.spec, b.spec) {
				l.dups[j] = i
				break
			}
		}
	}
	return l.dups
}
