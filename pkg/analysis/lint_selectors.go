package analysis

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/netwarden/netwarden/pkg/policy"
)

// selectors: NW201 (a policy's subject selects no pod) and NW202 (a peer matches nothing).
func (l *linter) selectors() {
	for i := range l.views() {
		v := &l.pv[i]
		p := v.p
		if !l.selectsAny(func(id int32) bool { return p.SelectsIdentity(id) }) {
			what := "subject"
			if p.Tier == policy.TierNetworkPolicy {
				what = "podSelector"
			}
			msg, hint := l.explainEmpty(v.subjNS, v.subjPod)
			field := "spec.subject"
			if v.np != nil {
				field = "spec.podSelector"
			}
			l.report(RuleEmptySubject, p.Ref, field, fmt.Sprintf("the %s (%s) %s, so the policy has no effect", what, p.Subject, msg), hint)
		}
		for _, d := range directions {
			for ri := range p.Rules(d) {
				r := &p.Rules(d)[ri]
				for pj := range r.Peers {
					l.peerMatchesNothing(v, d, ri, pj, &r.Peers[pj])
				}
			}
		}
	}
}

func (l *linter) selectsAny(has func(id int32) bool) bool {
	for id := 0; id < l.e.IdentityCount(); id++ {
		if has(int32(id)) {
			return true
		}
	}
	return false
}

func (l *linter) peerMatchesNothing(v *polView, d policy.Direction, ri, pj int, peer *policy.Peer) {
	field := peerField(d, ri, pj)
	switch peer.Kind {
	case policy.PeerPods:
		if l.selectsAny(peer.MatchesIdentity) {
			return
		}
		msg, hint := l.explainEmpty(peerNS(v, peer), peerPodSel(peer))
		sev := RuleEmptyPeer.Severity
		if strings.HasPrefix(msg, "matches namespace") && peerPodSel(peer).Empty() {
			// Whole namespaces that exist but whose pods are not in the input: nothing
			// is misspelt, the input is just partial.
			sev = SeverityInfo
		}
		l.reportAt(RuleEmptyPeer, sev, v.p.Ref, field, fmt.Sprintf("peer %q of %s %s", peer.Text, ruleName(v.p, d, ri), msg), hint)
	case policy.PeerNodes:
		if len(l.c.Nodes) == 0 || len(peer.Nodes) > 0 {
			return // the input has no nodes to match, which says nothing about the selector
		}
		var sets []labels.Set
		for _, n := range l.c.Nodes {
			sets = append(sets, labels.Set(n.Labels))
		}
		hint := labelHint("node", peer.NodeSelector, sets)
		l.report(RuleEmptyPeer, v.p.Ref, field, fmt.Sprintf("peer %q of %s matches no node", peer.Text, ruleName(v.p, d, ri)), fixHint(hint, "check the node labels"))
	}
}

// explainEmpty says why (nsSel, podSel) selects no pod, as a message fragment ("matches no
// namespace") and a hint naming the nearest existing labels.
func (l *linter) explainEmpty(nsSel, podSel labels.Selector) (msg, hint string) {
	var nsSets []labels.Set
	var matched []string
	matchedSet := map[string]bool{}
	for _, ns := range l.c.Namespaces {
		nsSets = append(nsSets, labels.Set(ns.Labels))
		if nsSel.Matches(labels.Set(ns.Labels)) {
			matched = append(matched, ns.Name)
			matchedSet[ns.Name] = true
		}
	}
	if len(matched) == 0 {
		return "matches no namespace", fixHint(labelHint("namespace", nsSel, nsSets), "check the namespace labels")
	}
	var podSets []labels.Set
	elsewhere := map[string]bool{}
	for _, pi := range l.e.Pods {
		if pi.HostNetwork {
			continue
		}
		set := labels.Set(pi.Pod.Labels)
		if matchedSet[pi.Pod.Namespace] {
			podSets = append(podSets, set)
		} else if podSel.Matches(set) {
			elsewhere[pi.Pod.Namespace] = true
		}
	}
	where := "namespace " + strings.Join(matched, ", ")
	if len(matched) > 1 {
		where = "namespaces " + listSome(matched, 5)
	}
	if len(podSets) == 0 {
		return fmt.Sprintf("matches %s, but the input has no pods there", where), "add the pods to the input, or check the namespace selector"
	}
	msg = "matches no pod in " + where
	hint = labelHint("pod in "+where, podSel, podSets)
	if len(elsewhere) > 0 {
		ns := sortedKeys(elsewhere)
		sort.Strings(ns)
		h := fmt.Sprintf("pods with these labels exist in %s; to select them, add a namespaceSelector", strings.Join(ns, ", "))
		if hint != "" {
			hint += "; " + h
		} else {
			hint = h
		}
	}
	return msg, fixHint(hint, "no single pod has all of the labels "+podSel.String())
}

func fixHint(h, fallback string) string {
	if h == "" {
		return fallback
	}
	return h
}
