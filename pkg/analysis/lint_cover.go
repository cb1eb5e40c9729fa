package analysis

import (
	"net/netip"
	"slices"

	"go4.org/netipx"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/netwarden/netwarden/pkg/policy"
)

// Coverage: "rule A matches every connection rule B matches". Lint decides it from the
// selectors and CIDRs as written, not from today's pods, so a rule is only called redundant
// when no future pod could make it matter. The checks are sound but not complete: when in
// doubt, a rule is not covered.

// implies reports whether every label set that a matches is also matched by b.
func implies(a, b labels.Selector) bool {
	breqs, ok := b.Requirements()
	if !ok { // b selects nothing
		_, aok := a.Requirements()
		return !aok
	}
	areqs, ok := a.Requirements()
	if !ok { // a selects nothing: vacuously implied
		return true
	}
	for _, rb := range breqs {
		found := false
		for _, ra := range areqs {
			if ra.Key() == rb.Key() && reqImplies(ra, rb) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// reqImplies reports whether requirement a, on the same key as b, implies b.
func reqImplies(a, b labels.Requirement) bool {
	av, bv := a.Values(), b.Values()
	present := func(op selection.Operator) bool {
		switch op {
		case selection.In, selection.Equals, selection.DoubleEquals, selection.Exists, selection.GreaterThan, selection.LessThan:
			return true
		}
		return false
	}
	isIn := func(op selection.Operator) bool {
		return op == selection.In || op == selection.Equals || op == selection.DoubleEquals
	}
	switch bop := b.Operator(); {
	case bop == selection.Exists:
		return present(a.Operator())
	case bop == selection.DoesNotExist:
		return a.Operator() == selection.DoesNotExist
	case isIn(bop):
		return isIn(a.Operator()) && bv.IsSuperset(av)
	case bop == selection.NotIn || bop == selection.NotEquals:
		switch aop := a.Operator(); {
		case aop == selection.DoesNotExist:
			return true
		case isIn(aop):
			return !av.HasAny(bv.UnsortedList()...)
		case aop == selection.NotIn || aop == selection.NotEquals:
			return av.IsSuperset(bv)
		}
	case b.Equal(a):
		return true
	}
	return false
}

// peerCovers reports whether pod peer a (of policy va) matches every pod that pod peer b
// (of policy vb) matches.
func (l *linter) podPeerCovers(va *polView, a *policy.Peer, vb *polView, b *policy.Peer) bool {
	return l.nsImplies(peerNS(vb, b), peerNS(va, a)) && implies(peerPodSel(b), peerPodSel(a))
}

// nsImplies is implies for namespace selectors, with one exact step: a selector that names
// one namespace (by its name label) implies another selector exactly when that namespace's
// labels match it, because a namespace's identity does not change.
func (l *linter) nsImplies(a, b labels.Selector) bool {
	if implies(a, b) {
		return true
	}
	if reqs, ok := a.Requirements(); ok && len(reqs) == 1 {
		r := reqs[0]
		if r.Key() == "kubernetes.io/metadata.name" && (r.Operator() == selection.Equals || r.Operator() == selection.In || r.Operator() == selection.DoubleEquals) {
			for _, ns := range r.Values().UnsortedList() {
				if !b.Matches(l.namespaceLabels(ns)) {
					return false
				}
			}
			return true
		}
	}
	return false
}

// addressSet is the union of a rule's ipBlock and network peers.
func addressSet(r *policy.Rule) *netipx.IPSet {
	var b netipx.IPSetBuilder
	for i := range r.Peers {
		addPeerAddresses(&b, &r.Peers[i])
	}
	s, _ := b.IPSet()
	return s
}

func addPeerAddresses(b *netipx.IPSetBuilder, p *policy.Peer) {
	switch p.Kind {
	case policy.PeerIPBlock:
		var one netipx.IPSetBuilder
		one.AddPrefix(p.CIDR)
		for _, x := range p.Except {
			one.RemovePrefix(x)
		}
		s, _ := one.IPSet()
		b.AddSet(s)
	case policy.PeerNetworks:
		for _, n := range p.Networks {
			b.AddPrefix(n)
		}
	}
}

func peerAddressSet(p *policy.Peer) *netipx.IPSet {
	var b netipx.IPSetBuilder
	addPeerAddresses(&b, p)
	s, _ := b.IPSet()
	return s
}

// subset reports whether every address of a is in b.
func subset(a, b *netipx.IPSet) bool {
	var d netipx.IPSetBuilder
	d.AddSet(a)
	d.RemoveSet(b)
	s, _ := d.IPSet()
	return len(s.Prefixes()) == 0
}

// ruleCovers reports whether rule a (of policy va) matches every connection rule b (of
// policy vb) matches, looking only at peers and ports. Both rules are in direction d.
func (l *linter) ruleCovers(va *polView, a *policy.Rule, vb *polView, b *policy.Rule) bool {
	return portsCover(a, b) && l.peersCover(va, a, vb, b)
}

func portsCover(a, b *policy.Rule) bool {
	if a.AnyPort {
		return true
	}
	if b.AnyPort {
		return false
	}
	for _, m := range b.Ports {
		if !portCovered(m, a.Ports) {
			return false
		}
	}
	return true
}

func portCovered(m policy.PortMatch, by []policy.PortMatch) bool {
	if m.Named != "" {
		for _, o := range by {
			if o.Named == m.Named && (o.Proto == 0 || o.Proto == m.Proto) {
				return true
			}
		}
		return false
	}
	// Walk the numbers of m upwards through the ranges of by with the same protocol.
	next := int(m.Lo)
	for next <= int(m.Hi) {
		advanced := false
		for _, o := range by {
			if o.Named == "" && o.Proto == m.Proto && int(o.Lo) <= next && next <= int(o.Hi) {
				next = int(o.Hi) + 1
				advanced = true
			}
		}
		if !advanced {
			return false
		}
	}
	return true
}

func (l *linter) peersCover(va *polView, a *policy.Rule, vb *polView, b *policy.Rule) bool {
	if a.AnyPeer {
		return true
	}
	if b.AnyPeer {
		return false
	}
	var addrs *netipx.IPSet
	for j := range b.Peers {
		pb := &b.Peers[j]
		covered := false
		switch pb.Kind {
		case policy.PeerNone:
			covered = true // matches nothing
		case policy.PeerIPBlock, policy.PeerNetworks:
			if addrs == nil {
				addrs = addressSet(a)
			}
			covered = subset(peerAddressSet(pb), addrs)
		default:
			for i := range a.Peers {
				pa := &a.Peers[i]
				if pa.Kind != pb.Kind {
					continue
				}
				switch pa.Kind {
				case policy.PeerPods:
					covered = l.podPeerCovers(va, pa, vb, pb)
				case policy.PeerNodes:
					covered = implies(pb.NodeSelector, pa.NodeSelector)
				case policy.PeerDomains:
					covered = isSubset(pb.Domains, pa.Domains)
				}
				if covered {
					break
				}
			}
		}
		if !covered {
			return false
		}
	}
	return true
}

func isSubset(a, b []string) bool {
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	return true
}

// allAddresses reports whether the rule's address peers cover every IPv4 address, and every
// IPv6 address too when the cluster uses IPv6.
func allAddresses(r *policy.Rule, v6 bool) bool {
	s := addressSet(r)
	if !s.ContainsPrefix(netip.MustParsePrefix("0.0.0.0/0")) {
		return false
	}
	return !v6 || s.ContainsPrefix(netip.MustParsePrefix("::/0"))
}
