package analysis

import (
	"fmt"
	"net/netip"

	"go4.org/netipx"

	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// The cluster DNS, as kubeadm and most distributions label it.
const (
	dnsNamespace = "kube-system"
	dnsLabel     = "k8s-app"
	dnsValue     = "kube-dns"
)

var (
	dnsUDP = policy.Port{Proto: policy.ProtoUDP, Num: 53}
	dnsTCP = policy.Port{Proto: policy.ProtoTCP, Num: 53}
)

// dns: NW401. Every pod whose egress is restricted must reach the cluster DNS (kube-system
// pods labelled k8s-app=kube-dns; when the input has none, any destination) on 53/UDP, and
// should on 53/TCP (large answers fall back to TCP). It is decided with the evaluator, so
// every tier counts. Pods allowed no egress at all are reported as info: they cannot use
// names anyway, and a fully closed pod is often intended.
func (l *linter) dns() {
	var dnsPods []policy.Endpoint
	for i, pi := range l.e.Pods {
		if pi.Pod.Namespace == dnsNamespace && pi.Pod.Labels[dnsLabel] == dnsValue {
			dnsPods = append(dnsPods, l.e.PodEndpoint(int32(i), 0))
		}
	}
	others := l.egressCandidates()
	targets, where := dnsPods, fmt.Sprintf("the cluster DNS (%s pods %s=%s)", dnsNamespace, dnsLabel, dnsValue)
	if len(dnsPods) == 0 {
		targets, where = others, "any destination"
	}
	done := map[int32][2]bool{} // identity -> udp, tcp allowed
	for _, sub := range l.podSubjects() {
		pod := sub.pods[0]
		pi := &l.e.Pods[pod]
		if !l.egressRestricted(pod) || (pi.Pod.Namespace == dnsNamespace && pi.Pod.Labels[dnsLabel] == dnsValue) {
			continue
		}
		res, ok := done[pi.Ident]
		if !ok {
			src := l.e.PodEndpoint(pod, 0)
			res = [2]bool{l.anyAllowed(src, targets, dnsUDP), l.anyAllowed(src, targets, dnsTCP)}
			done[pi.Ident] = res
		}
		udp, tcp := res[0], res[1]
		if udp && tcp {
			continue
		}
		hint := fmt.Sprintf("allow egress to namespace %s pods %s=%s on 53/UDP and 53/TCP (a policy with podSelector: {} in %s covers every pod there)", dnsNamespace, dnsLabel, dnsValue, pi.Pod.Namespace)
		if len(dnsPods) == 0 {
			hint = fmt.Sprintf("allow egress to your DNS servers on 53/UDP and 53/TCP (a policy with podSelector: {} in %s covers every pod there)", pi.Pod.Namespace)
		}
		related := l.egressPolicies(pod)
		who := sub.describe()
		switch {
		case !udp && !l.anyEgress(l.e.PodEndpoint(pod, 0), others):
			l.reportLoc(RuleDNSBlocked, SeverityInfo, sub.ref, sub.loc, "",
				fmt.Sprintf("%s is allowed no egress at all, so it cannot resolve names either", who),
				"if it needs names, "+hint, related...)
		case !udp:
			l.reportLoc(RuleDNSBlocked, RuleDNSBlocked.Severity, sub.ref, sub.loc, "",
				fmt.Sprintf("%s is isolated for egress and may not reach %s on 53/UDP%s: it cannot resolve names", who, where, map[bool]string{false: " or 53/TCP", true: ""}[tcp]),
				hint, related...)
		default:
			l.reportLoc(RuleDNSBlocked, SeverityInfo, sub.ref, sub.loc, "",
				fmt.Sprintf("%s may reach %s on 53/UDP but not on 53/TCP: answers too large for UDP will fail", who, where),
				hint, related...)
		}
	}
}

// egressRestricted reports whether any policy of any tier selects the pod for egress.
func (l *linter) egressRestricted(pod int32) bool {
	return len(l.egressPolicies(pod)) > 0
}

func (l *linter) egressPolicies(pod int32) []model.Ref {
	var out []model.Ref
	for _, t := range [...]policy.Tier{policy.TierAdmin, policy.TierNetworkPolicy, policy.TierBaseline} {
		for _, pi := range l.e.Selecting(pod, policy.Egress, t) {
			out = append(out, l.e.Policies[pi].Ref)
		}
	}
	return out
}

func (l *linter) anyAllowed(src policy.Endpoint, targets []policy.Endpoint, port policy.Port) bool {
	for _, t := range targets {
		if t.Pod >= 0 && t.Pod == src.Pod {
			continue
		}
		if l.e.DecideDirection(policy.Egress, src, t, port).Allowed {
			return true
		}
	}
	return false
}

// anyEgress reports whether src may connect anywhere, probing every candidate on the ports
// the policies name, the ports pods declare, and a few common ones.
func (l *linter) anyEgress(src policy.Endpoint, candidates []policy.Endpoint) bool {
	ports := l.probePorts()
	for _, t := range candidates {
		if t.Pod >= 0 && t.Pod == src.Pod {
			continue
		}
		pts := ports
		if t.Pod >= 0 {
			pts = append(policy.DeclaredPorts(l.e.Pods[t.Pod].Pod), ports...)
		}
		for _, pt := range pts {
			if l.e.DecideDirection(policy.Egress, src, t, pt).Allowed {
				return true
			}
		}
	}
	return false
}

func (l *linter) probePorts() []policy.Port {
	seen := map[policy.Port]bool{}
	out := []policy.Port{{Proto: policy.ProtoTCP, Num: 80}, {Proto: policy.ProtoTCP, Num: 443}, dnsUDP, dnsTCP}
	for _, p := range out {
		seen[p] = true
	}
	for _, p := range l.e.Policies {
		for _, r := range p.Egress {
			for _, m := range r.Ports {
				if m.Named != "" {
					continue
				}
				pt := policy.Port{Proto: m.Proto, Num: max(m.Lo, 1)}
				if !seen[pt] {
					seen[pt] = true
					out = append(out, pt)
				}
			}
		}
	}
	return out
}

// egressCandidates are the destinations that stand for "anywhere": every pod, every node
// address, one address of every ipBlock and network the policies name, and an address that
// no policy is likely to name.
func (l *linter) egressCandidates() []policy.Endpoint {
	var out []policy.Endpoint
	for i := range l.e.Pods {
		out = append(out, l.e.PodEndpoint(int32(i), 0))
	}
	seen := map[netip.Addr]bool{}
	addIP := func(ip netip.Addr) {
		if !ip.IsValid() || seen[ip] {
			return
		}
		seen[ip] = true
		if pod, ok := l.e.PodByIP(ip); ok {
			out = append(out, policy.Endpoint{Pod: pod, IP: ip})
			return
		}
		out = append(out, policy.External(ip))
	}
	for _, n := range l.c.Nodes {
		for _, ip := range l.e.NodeIPs(n.Name) {
			addIP(ip)
		}
	}
	for _, p := range l.e.Policies {
		for _, r := range p.Egress {
			for j := range r.Peers {
				var b netipx.IPSetBuilder
				addPeerAddresses(&b, &r.Peers[j])
				s, _ := b.IPSet()
				for _, rg := range s.Ranges() {
					addIP(rg.From())
				}
			}
		}
	}
	// Documentation ranges (RFC 5737, RFC 3849): stand-ins for "the internet".
	addIP(netip.MustParseAddr("198.51.100.53"))
	addIP(netip.MustParseAddr("2001:db8::53"))
	return out
}
