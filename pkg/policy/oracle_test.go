package policy_test

import (
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// oracle is a second, deliberately naive reading of docs/semantics.md: it walks the API
// objects for every decision, with no compilation, no identities and no indexes. The fuzzer
// holds the compiled engine to it; it shares with the engine only the address chosen for
// each endpoint.
type oracle struct {
	c       *model.Cluster
	nsLabel map[string]labels.Set
	admin   map[adminKey][]adminPol // memo: the fuzzer asks the same subject many times
}

type adminKey struct {
	d   policy.Direction
	pod *corev1.Pod
}

// oEnd is an endpoint as the oracle sees it: a pod (nil for an address outside the pod
// network) and the address the connection uses.
type oEnd struct {
	pod *corev1.Pod
	ip  netip.Addr
}

func newOracle(c *model.Cluster) *oracle {
	o := &oracle{c: c, nsLabel: map[string]labels.Set{}, admin: map[adminKey][]adminPol{}}
	for _, ns := range c.Namespaces {
		o.nsLabel[ns.Name] = labels.Set(ns.Labels)
	}
	return o
}

// decide returns the egress and ingress verdicts.
func (o *oracle) decide(src, dst oEnd, port policy.Port) (egress, ingress bool) {
	if src.pod != nil && src.pod == dst.pod {
		return true, true
	}
	return o.direction(policy.Egress, src, dst, dst, port), o.direction(policy.Ingress, dst, src, dst, port)
}

func sel(s *metav1.LabelSelector) labels.Selector {
	out, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		panic(err) // the fuzzer makes valid selectors only
	}
	return out
}

func (o *oracle) podIn(p *corev1.Pod, nsSel, podSel *metav1.LabelSelector) bool {
	if p == nil || p.Spec.HostNetwork {
		return false
	}
	return sel(nsSel).Matches(o.nsLabel[p.Namespace]) && sel(podSel).Matches(labels.Set(p.Labels))
}

type adminPol struct {
	tier, kind int // kind orders ties: ClusterNetworkPolicy 0, AdminNetworkPolicy 1, BANP 2
	prio       int32
	name       string
	selects    bool
	rules      []adminRuleO
}

type adminRuleO struct {
	action string
	match  func(peer, dst oEnd, port policy.Port) bool
}

func (o *oracle) direction(d policy.Direction, subject, peer, dst oEnd, port policy.Port) bool {
	if subject.pod == nil || subject.pod.Spec.HostNetwork {
		return true
	}
	pols, ok := o.admin[adminKey{d, subject.pod}]
	if !ok {
		pols = o.adminPolicies(d, subject.pod)
		o.admin[adminKey{d, subject.pod}] = pols
	}
	// Admin tier: first matching rule; Pass leaves the tier.
	passed := false
	for _, p := range pols {
		if p.tier != 0 || passed {
			continue
		}
		for _, r := range p.rules {
			if r.match(peer, dst, port) {
				if r.action == "Pass" {
					passed = true
					break
				}
				return r.action == "Allow" || r.action == "Accept"
			}
		}
		if passed {
			break
		}
	}
	// A pod and its own node always talk past the NetworkPolicy and baseline tiers.
	if o.ownNode(subject.pod, peer) {
		return true
	}
	// NetworkPolicy tier.
	isolated, allowed := false, false
	for _, np := range o.c.NetworkPolicies {
		if np.Namespace != subject.pod.Namespace || !sel(&np.Spec.PodSelector).Matches(labels.Set(subject.pod.Labels)) {
			continue
		}
		types := np.Spec.PolicyTypes
		if len(types) == 0 {
			types = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
			if len(np.Spec.Egress) > 0 {
				types = append(types, networkingv1.PolicyTypeEgress)
			}
		}
		want := networkingv1.PolicyTypeIngress
		if d == policy.Egress {
			want = networkingv1.PolicyTypeEgress
		}
		has := false
		for _, t := range types {
			has = has || t == want
		}
		if !has {
			continue
		}
		isolated = true
		if d == policy.Ingress {
			for _, r := range np.Spec.Ingress {
				allowed = allowed || (o.npPeers(np.Namespace, r.From, peer) && o.npPorts(r.Ports, dst, port))
			}
		} else {
			for _, r := range np.Spec.Egress {
				allowed = allowed || (o.npPeers(np.Namespace, r.To, peer) && o.npPorts(r.Ports, dst, port))
			}
		}
	}
	if isolated {
		return allowed
	}
	// Baseline tier.
	for _, p := range pols {
		if p.tier != 1 {
			continue
		}
		for _, r := range p.rules {
			if r.match(peer, dst, port) {
				if r.action == "Pass" {
					return true
				}
				return r.action == "Allow" || r.action == "Accept"
			}
		}
	}
	return true
}

// ownNode reports whether peer is the node pod runs on: a hostNetwork pod there, or an
// address of that node or of a hostNetwork pod on it.
func (o *oracle) ownNode(pod *corev1.Pod, peer oEnd) bool {
	node := pod.Spec.NodeName
	if node == "" {
		return false
	}
	if peer.pod != nil && peer.pod.Spec.HostNetwork {
		return peer.pod.Spec.NodeName == node
	}
	if !peer.ip.IsValid() {
		return false
	}
	for _, n := range o.c.Nodes {
		if n.Name != node {
			continue
		}
		for _, a := range n.Status.Addresses {
			if a.Type != corev1.NodeInternalIP && a.Type != corev1.NodeExternalIP {
				continue
			}
			if ip, err := netip.ParseAddr(a.Address); err == nil && ip.Unmap() == peer.ip {
				return true
			}
		}
	}
	for _, p := range o.c.Pods {
		if !p.Spec.HostNetwork || p.Spec.NodeName != node {
			continue
		}
		for _, s := range append([]string{p.Status.PodIP}, podIPStrings(p)...) {
			if ip, err := netip.ParseAddr(s); err == nil && ip.Unmap() == peer.ip {
				return true
			}
		}
	}
	return false
}

func podIPStrings(p *corev1.Pod) []string {
	var out []string
	for _, ip := range p.Status.PodIPs {
		out = append(out, ip.IP)
	}
	return out
}

func (o *oracle) npPeers(ns string, peers []networkingv1.NetworkPolicyPeer, peer oEnd) bool {
	if len(peers) == 0 {
		return true
	}
	for _, p := range peers {
		switch {
		case p.IPBlock != nil:
			if inBlock(p.IPBlock, peer.ip) {
				return true
			}
		case p.PodSelector == nil && p.NamespaceSelector == nil:
		default:
			if peer.pod == nil || peer.pod.Spec.HostNetwork {
				continue
			}
			nsOK := peer.pod.Namespace == ns
			if p.NamespaceSelector != nil {
				nsOK = sel(p.NamespaceSelector).Matches(o.nsLabel[peer.pod.Namespace])
			}
			podOK := p.PodSelector == nil || sel(p.PodSelector).Matches(labels.Set(peer.pod.Labels))
			if nsOK && podOK {
				return true
			}
		}
	}
	return false
}

func inBlock(b *networkingv1.IPBlock, ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	pr := netip.MustParsePrefix(b.CIDR).Masked()
	if !pr.Contains(ip) {
		return false
	}
	for _, x := range b.Except {
		if netip.MustParsePrefix(x).Masked().Contains(ip) {
			return false
		}
	}
	return true
}

func protoOf(p corev1.Protocol) policy.Proto {
	switch p {
	case corev1.ProtocolUDP:
		return policy.ProtoUDP
	case corev1.ProtocolSCTP:
		return policy.ProtoSCTP
	}
	return policy.ProtoTCP
}

// namedPortIs reports whether the destination pod declares a port of that name carrying
// this connection; want is the protocol the rule insists on, 0 for the container port's own.
func namedPortIs(dst oEnd, name string, want policy.Proto, port policy.Port) bool {
	if dst.pod == nil || !port.HasPort() {
		return false
	}
	for _, cs := range [][]corev1.Container{dst.pod.Spec.InitContainers, dst.pod.Spec.Containers} {
		for _, c := range cs {
			for _, cp := range c.Ports {
				pr := protoOf(cp.Protocol)
				if cp.Name == name && pr == port.Proto && int(cp.ContainerPort) == int(port.Num) && (want == 0 || want == pr) {
					return true
				}
			}
		}
	}
	return false
}

func (o *oracle) npPorts(ports []networkingv1.NetworkPolicyPort, dst oEnd, port policy.Port) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		proto := policy.ProtoTCP
		if p.Protocol != nil {
			proto = protoOf(*p.Protocol)
		}
		switch {
		case !port.HasPort() || proto != port.Proto:
		case p.Port == nil:
			return true
		case p.Port.Type == intstr.String:
			if namedPortIs(dst, p.Port.StrVal, proto, port) {
				return true
			}
		default:
			hi := p.Port.IntVal
			if p.EndPort != nil {
				hi = *p.EndPort
			}
			if int32(port.Num) >= p.Port.IntVal && int32(port.Num) <= hi {
				return true
			}
		}
	}
	return false
}

// adminPolicies lists the admin and baseline policies that select pod and have rules for d,
// in evaluation order.
func (o *oracle) adminPolicies(d policy.Direction, pod *corev1.Pod) []adminPol {
	var out []adminPol
	subj := func(nss *metav1.LabelSelector, pods *v1alpha1.NamespacedPod) bool {
		switch {
		case nss != nil:
			return o.podIn(pod, nss, &metav1.LabelSelector{})
		case pods != nil:
			return o.podIn(pod, &pods.NamespaceSelector, &pods.PodSelector)
		}
		return false
	}
	for _, a := range o.c.AdminNetworkPolicies {
		p := adminPol{tier: 0, kind: 1, prio: a.Spec.Priority, name: a.Name, selects: subj(a.Spec.Subject.Namespaces, a.Spec.Subject.Pods)}
		if d == policy.Ingress {
			for _, r := range a.Spec.Ingress {
				var peers []oPeer
				for _, f := range r.From {
					peers = append(peers, oPeer{namespaces: f.Namespaces, pods: f.Pods})
				}
				p.rules = append(p.rules, o.adminRule(string(r.Action), peers, anpPortsMatch(r.Ports)))
			}
		} else {
			for _, r := range a.Spec.Egress {
				var peers []oPeer
				for _, t := range r.To {
					peers = append(peers, oPeer{namespaces: t.Namespaces, pods: t.Pods, nodes: t.Nodes, networks: len(t.Networks) > 0 || t.Networks != nil, nets: cidrStrings(t.Networks), domains: t.DomainNames != nil})
				}
				p.rules = append(p.rules, o.adminRule(string(r.Action), peers, anpPortsMatch(r.Ports)))
			}
		}
		out = append(out, p)
	}
	for _, b := range o.c.BaselineAdminNetworkPolicies {
		p := adminPol{tier: 1, kind: 2, prio: 1 << 20, name: b.Name, selects: subj(b.Spec.Subject.Namespaces, b.Spec.Subject.Pods)}
		if d == policy.Ingress {
			for _, r := range b.Spec.Ingress {
				var peers []oPeer
				for _, f := range r.From {
					peers = append(peers, oPeer{namespaces: f.Namespaces, pods: f.Pods})
				}
				p.rules = append(p.rules, o.adminRule(string(r.Action), peers, anpPortsMatch(r.Ports)))
			}
		} else {
			for _, r := range b.Spec.Egress {
				var peers []oPeer
				for _, t := range r.To {
					peers = append(peers, oPeer{namespaces: t.Namespaces, pods: t.Pods, nodes: t.Nodes, networks: t.Networks != nil, nets: cidrStrings(t.Networks)})
				}
				p.rules = append(p.rules, o.adminRule(string(r.Action), peers, anpPortsMatch(r.Ports)))
			}
		}
		out = append(out, p)
	}
	conv := func(np *v1beta1.NamespacedPod) *v1alpha1.NamespacedPod {
		if np == nil {
			return nil
		}
		return &v1alpha1.NamespacedPod{NamespaceSelector: np.NamespaceSelector, PodSelector: np.PodSelector}
	}
	for _, c := range o.c.ClusterNetworkPolicies {
		tier := 0
		if c.Spec.Tier == v1beta1.BaselineTier {
			tier = 1
		}
		p := adminPol{tier: tier, kind: 0, prio: c.Spec.Priority, name: c.Name, selects: subj(c.Spec.Subject.Namespaces, conv(c.Spec.Subject.Pods))}
		if d == policy.Ingress {
			for _, r := range c.Spec.Ingress {
				var peers []oPeer
				for _, f := range r.From {
					peers = append(peers, oPeer{namespaces: f.Namespaces, pods: conv(f.Pods)})
				}
				p.rules = append(p.rules, o.adminRule(string(r.Action), peers, cnpProtocolsMatch(r.Protocols)))
			}
		} else {
			for _, r := range c.Spec.Egress {
				var peers []oPeer
				for _, t := range r.To {
					var nets []string
					for _, n := range t.Networks {
						nets = append(nets, string(n))
					}
					peers = append(peers, oPeer{namespaces: t.Namespaces, pods: conv(t.Pods), nodes: t.Nodes, networks: t.Networks != nil, nets: nets, domains: t.DomainNames != nil})
				}
				p.rules = append(p.rules, o.adminRule(string(r.Action), peers, cnpProtocolsMatch(r.Protocols)))
			}
		}
		out = append(out, p)
	}
	kept := out[:0]
	for _, p := range out {
		if p.selects && len(p.rules) > 0 {
			kept = append(kept, p)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool {
		a, b := kept[i], kept[j]
		if a.tier != b.tier {
			return a.tier < b.tier
		}
		if a.prio != b.prio {
			return a.prio < b.prio
		}
		if a.kind != b.kind {
			return a.kind < b.kind
		}
		return a.name < b.name
	})
	return kept
}

func cidrStrings(in []v1alpha1.CIDR) []string {
	var out []string
	for _, c := range in {
		out = append(out, string(c))
	}
	return out
}

type oPeer struct {
	namespaces *metav1.LabelSelector
	pods       *v1alpha1.NamespacedPod
	nodes      *metav1.LabelSelector
	networks   bool
	nets       []string
	domains    bool
}

func (o *oracle) adminRule(action string, peers []oPeer, ports func(dst oEnd, port policy.Port) bool) adminRuleO {
	unknown := false
	for _, p := range peers {
		if p.namespaces == nil && p.pods == nil && p.nodes == nil && !p.networks && !p.domains {
			unknown = true
		}
	}
	if unknown && action != "Allow" && action != "Accept" {
		// Fail closed: the API reads such a Deny or Pass rule as "deny all".
		return adminRuleO{action: "Deny", match: func(_, dst oEnd, port policy.Port) bool { return ports(dst, port) }}
	}
	return adminRuleO{action: action, match: func(peer, dst oEnd, port policy.Port) bool {
		if !ports(dst, port) {
			return false
		}
		for _, p := range peers {
			if o.adminPeerMatches(p, peer) {
				return true
			}
		}
		return false
	}}
}

func (o *oracle) adminPeerMatches(p oPeer, peer oEnd) bool {
	switch {
	case p.namespaces != nil:
		return o.podIn(peer.pod, p.namespaces, &metav1.LabelSelector{})
	case p.pods != nil:
		return o.podIn(peer.pod, &p.pods.NamespaceSelector, &p.pods.PodSelector)
	case p.nodes != nil:
		for _, n := range o.c.Nodes {
			if !sel(p.nodes).Matches(labels.Set(n.Labels)) {
				continue
			}
			if peer.pod != nil && peer.pod.Spec.HostNetwork && peer.pod.Spec.NodeName == n.Name {
				return true
			}
			for _, a := range n.Status.Addresses {
				if a.Type != corev1.NodeInternalIP && a.Type != corev1.NodeExternalIP {
					continue
				}
				if ip, err := netip.ParseAddr(a.Address); err == nil && peer.ip.IsValid() && ip.Unmap() == peer.ip {
					return true
				}
			}
		}
	case p.networks:
		for _, n := range p.nets {
			if peer.ip.IsValid() && netip.MustParsePrefix(n).Contains(peer.ip) {
				return true
			}
		}
	}
	return false
}

func anpPortsMatch(ports *[]v1alpha1.AdminNetworkPolicyPort) func(oEnd, policy.Port) bool {
	return func(dst oEnd, port policy.Port) bool {
		if ports == nil {
			return true
		}
		for _, p := range *ports {
			switch {
			case p.PortNumber != nil:
				if port.HasPort() && protoOf(p.PortNumber.Protocol) == port.Proto && int32(port.Num) == p.PortNumber.Port {
					return true
				}
			case p.PortRange != nil:
				if port.HasPort() && protoOf(p.PortRange.Protocol) == port.Proto && int32(port.Num) >= p.PortRange.Start && int32(port.Num) <= p.PortRange.End {
					return true
				}
			case p.NamedPort != nil:
				if namedPortIs(dst, *p.NamedPort, 0, port) {
					return true
				}
			}
		}
		return false
	}
}

func cnpProtocolsMatch(protos []v1beta1.ClusterNetworkPolicyProtocol) func(oEnd, policy.Port) bool {
	return func(dst oEnd, port policy.Port) bool {
		if len(protos) == 0 {
			return true
		}
		in := func(proto policy.Proto, dp *v1beta1.Port) bool {
			if !port.HasPort() || proto != port.Proto {
				return false
			}
			n := int32(port.Num)
			switch {
			case dp == nil:
				return true
			case dp.Range != nil:
				return n >= dp.Range.Start && n <= dp.Range.End
			}
			return n == dp.Number
		}
		for _, p := range protos {
			switch {
			case p.TCP != nil:
				if in(policy.ProtoTCP, p.TCP.DestinationPort) {
					return true
				}
			case p.UDP != nil:
				if in(policy.ProtoUDP, p.UDP.DestinationPort) {
					return true
				}
			case p.SCTP != nil:
				if in(policy.ProtoSCTP, p.SCTP.DestinationPort) {
					return true
				}
			case p.DestinationNamedPort != "":
				if namedPortIs(dst, p.DestinationNamedPort, 0, port) {
					return true
				}
			}
		}
		return false
	}
}
