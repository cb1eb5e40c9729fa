package analysis

import (
	"fmt"

	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

var directions = [...]policy.Direction{policy.Ingress, policy.Egress}

// isolation: NW101/NW102 (a namespace with pods and no default-deny for a direction) and
// NW103/NW104 (a pod no policy of any tier selects for a direction). An unprotected pod
// implies its namespace lacks a default-deny, so the namespace finding is the warning and
// the pod findings are the detail (info).
func (l *linter) isolation() {
	// A namespace the input does not declare is located at its first pod, so that every
	// finding points into a file (code scanning drops results without a location).
	hasPods := map[string]bool{}
	firstPod := map[string]model.Ref{}
	for i := range l.e.Pods {
		pi := &l.e.Pods[i]
		if !pi.HostNetwork && !hasPods[pi.Pod.Namespace] {
			hasPods[pi.Pod.Namespace] = true
			firstPod[pi.Pod.Namespace] = podRef(pi)
		}
	}
	for _, ns := range l.c.Namespaces {
		if !hasPods[ns.Name] || l.skip[ns.Name] {
			continue
		}
		ref := model.Ref{Kind: model.KindNamespace, Name: ns.Name}
		loc := ref
		if _, declared := l.c.Sources[ref]; !declared {
			loc = firstPod[ns.Name]
		}
		for _, d := range directions {
			if l.defaultDeny(ns.Name, d) {
				continue
			}
			rule, hint := RuleNoDefaultDenyIngress, fmt.Sprintf("add a NetworkPolicy in namespace %s with podSelector: {} and policyTypes: [Ingress], then allow what is needed", ns.Name)
			if d == policy.Egress {
				rule, hint = RuleNoDefaultDenyEgress, fmt.Sprintf("add a NetworkPolicy in namespace %s with podSelector: {} and policyTypes: [Egress], and allow DNS and what else is needed", ns.Name)
			}
			l.reportLoc(rule, rule.Severity, ref, loc, "", fmt.Sprintf("namespace %s has pods but no default-deny policy for %s", ns.Name, d), hint)
		}
	}
	for _, sub := range l.podSubjects() {
		for _, d := range directions {
			selected := false
			for _, t := range [...]policy.Tier{policy.TierAdmin, policy.TierNetworkPolicy, policy.TierBaseline} {
				if len(l.e.Selecting(sub.pods[0], d, t)) > 0 {
					selected = true
				}
			}
			if selected {
				continue
			}
			rule := RuleUnprotectedIngress
			msg := fmt.Sprintf("no policy selects %s for ingress: every source may connect to it", sub.describe())
			if d == policy.Egress {
				rule = RuleUnprotectedEgress
				msg = fmt.Sprintf("no policy selects %s for egress: it may connect anywhere", sub.describe())
			}
			l.reportLoc(rule, rule.Severity, sub.ref, sub.loc, "", msg, fmt.Sprintf("select it with a policy for %s (a namespace default-deny covers every pod)", d))
		}
	}
}

// defaultDeny reports whether namespace ns has a default-deny for direction d: a
// NetworkPolicy with an empty podSelector that isolates d, or an admin or baseline policy
// whose subject is every pod of ns and that has a Deny rule for d matching every peer
// (every pod, and for egress every address) on every port.
func (l *linter) defaultDeny(ns string, d policy.Direction) bool {
	nsLabels := l.namespaceLabels(ns)
	for i := range l.views() {
		v := &l.pv[i]
		p := v.p
		if !p.Affects(d) {
			continue
		}
		if p.Tier == policy.TierNetworkPolicy {
			if v.np != nil && p.Ref.Namespace == ns && v.subjPod.Empty() {
				return true
			}
			continue
		}
		if !v.subjNS.Matches(nsLabels) || !v.subjPod.Empty() {
			continue
		}
		for _, r := range p.Rules(d) {
			if r.Action == policy.Deny && r.AnyPort && l.matchesEverything(&r, d) {
				return true
			}
		}
	}
	return false
}

func (l *linter) matchesEverything(r *policy.Rule, d policy.Direction) bool {
	if r.AnyPeer {
		return true
	}
	allPods := false
	for _, p := range r.Peers {
		if p.Kind == policy.PeerPods && p.NamespaceSelector != nil && p.NamespaceSelector.Empty() && peerPodSel(&p).Empty() {
			allPods = true
		}
	}
	if d == policy.Ingress {
		// Admin ingress rules can only name pods; sources outside the pod network are not
		// subjects of ingress admin policy at all.
		return allPods
	}
	return allPods && allAddresses(r, l.usesIPv6())
}

// usesIPv6 reports whether any pod or node has an IPv6 address.
func (l *linter) usesIPv6() bool {
	for _, pi := range l.e.Pods {
		for _, ip := range pi.IPs {
			if ip.Is6() {
				return true
			}
		}
	}
	for _, n := range l.c.Nodes {
		for _, ip := range l.e.NodeIPs(n.Name) {
			if ip.Is6() {
				return true
			}
		}
	}
	return false
}
