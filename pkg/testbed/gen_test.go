package testbed

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/netwarden/netwarden/pkg/model"
)

// A generator of random clusters and policies for the differential test. Vocabularies are
// small on purpose, so selectors often match and rules often overlap.

var (
	genNamespaces = []string{"alpha", "beta", "gamma"}
	genTeams      = []string{"red", "blue"}
	genApps       = []string{"web", "api", "db"}
	genTiers      = []string{"front", "back"}
	// genPorts are what pods may serve; names repeat across numbers so named ports resolve
	// differently per pod.
	genPorts = []corev1.ContainerPort{
		{Name: "http", ContainerPort: 80, Protocol: corev1.ProtocolTCP},
		{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
		{Name: "alt", ContainerPort: 81, Protocol: corev1.ProtocolTCP},
		{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
		{Name: "dns", ContainerPort: 5353, Protocol: corev1.ProtocolUDP},
		{Name: "sig", ContainerPort: 9000, Protocol: corev1.ProtocolSCTP},
		{Name: "sig", ContainerPort: 9001, Protocol: corev1.ProtocolSCTP},
	}
	genProtocols = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}
	genPortNames = []string{"http", "alt", "dns", "sig", "none"}
)

type gen struct {
	r *rand.Rand
	// ips are the pods' addresses (after Plan), for ipBlocks and networks.
	ips []netip.Addr
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// genCluster makes namespaces and pods (no policies, no addresses).
func genCluster(r *rand.Rand) *model.Cluster {
	c := &model.Cluster{}
	nns := 2 + r.IntN(2)
	for _, name := range genNamespaces[:nns] {
		ns := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}}
		ns.Name = name
		ns.Labels = map[string]string{"team": pick(r, genTeams)}
		c.Namespaces = append(c.Namespaces, ns)
	}
	npods := 4 + r.IntN(3)
	for i := range npods {
		p := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}}
		p.Namespace = c.Namespaces[r.IntN(nns)].Name
		p.Name = fmt.Sprintf("p%d", i)
		p.Labels = map[string]string{"app": pick(r, genApps)}
		if r.IntN(2) == 0 {
			p.Labels["tier"] = pick(r, genTiers)
		}
		ctr := corev1.Container{Name: "c", Image: "example/c"}
		used := map[string]bool{}
		for _, k := range r.Perm(len(genPorts))[:1+r.IntN(3)] {
			cp := genPorts[k]
			if used[cp.Name] { // a container port name is unique within a pod
				continue
			}
			used[cp.Name] = true
			ctr.Ports = append(ctr.Ports, cp)
		}
		p.Spec.Containers = []corev1.Container{ctr}
		c.Pods = append(c.Pods, p)
	}
	c.Normalize()
	return c
}

func (g *gen) labelSelector(empty int, keys ...string) *metav1.LabelSelector {
	r := g.r
	if r.IntN(empty) == 0 {
		return &metav1.LabelSelector{}
	}
	switch r.IntN(4) {
	case 0:
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpExists}}}
	case 1:
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpNotIn, Values: []string{pick(r, genApps)}}}}
	}
	k := pick(r, keys)
	var v string
	switch k {
	case "app":
		v = pick(r, genApps)
	case "tier":
		v = pick(r, genTiers)
	case "team":
		v = pick(r, genTeams)
	case model.NamespaceNameLabel:
		v = pick(r, genNamespaces)
	}
	return &metav1.LabelSelector{MatchLabels: map[string]string{k: v}}
}

func (g *gen) podSelector() *metav1.LabelSelector { return g.labelSelector(3, "app", "tier") }
func (g *gen) nsSelector() *metav1.LabelSelector {
	s := g.labelSelector(3, "team", model.NamespaceNameLabel)
	if len(s.MatchExpressions) > 0 { // pod-label expressions make no sense here
		return &metav1.LabelSelector{MatchLabels: map[string]string{"team": pick(g.r, genTeams)}}
	}
	return s
}

// cidr returns a prefix around some pod's address: the pod itself, a small block, its
// node's range or the whole pod network.
func (g *gen) cidr() (netip.Prefix, netip.Addr) {
	ip := pick(g.r, g.ips)
	bits := ip.BitLen()
	choices := []int{bits, bits - 2, bits - 8, bits - 16}
	if ip.Is6() {
		choices = []int{128, 126, 64, 48}
	}
	p, _ := ip.Prefix(pick(g.r, choices))
	return p, ip
}

func (g *gen) ipBlock() *networkingv1.IPBlock {
	p, _ := g.cidr()
	b := &networkingv1.IPBlock{CIDR: p.String()}
	if p.Bits() < p.Addr().BitLen() && g.r.IntN(2) == 0 {
		for _, ip := range g.ips {
			if p.Contains(ip) && g.r.IntN(2) == 0 {
				b.Except = append(b.Except, netip.PrefixFrom(ip, ip.BitLen()).String())
			}
		}
	}
	return b
}

func (g *gen) npPorts() []networkingv1.NetworkPolicyPort {
	r := g.r
	var out []networkingv1.NetworkPolicyPort
	for range r.IntN(3) {
		proto := pick(r, genProtocols)
		pp := networkingv1.NetworkPolicyPort{Protocol: &proto}
		switch r.IntN(4) {
		case 0:
			cp := pick(r, genPorts)
			pp.Protocol = &cp.Protocol
			v := intstr.FromInt32(cp.ContainerPort)
			pp.Port = &v
		case 1:
			cp := pick(r, genPorts)
			pp.Protocol = &cp.Protocol
			v := intstr.FromInt32(cp.ContainerPort - int32(r.IntN(2)))
			end := cp.ContainerPort + int32(r.IntN(2))
			pp.Port, pp.EndPort = &v, &end
		case 2:
			v := intstr.FromString(pick(r, genPortNames))
			pp.Port = &v
		default: // every port of the protocol
		}
		out = append(out, pp)
	}
	return out
}

func (g *gen) npPeers() []networkingv1.NetworkPolicyPeer {
	var out []networkingv1.NetworkPolicyPeer
	for range g.r.IntN(3) {
		var p networkingv1.NetworkPolicyPeer
		switch g.r.IntN(4) {
		case 0:
			p.PodSelector = g.podSelector()
		case 1:
			p.NamespaceSelector = g.nsSelector()
		case 2:
			p.PodSelector, p.NamespaceSelector = g.podSelector(), g.nsSelector()
		default:
			p.IPBlock = g.ipBlock()
		}
		out = append(out, p)
	}
	return out
}

func (g *gen) networkPolicy(i int, namespaces []string) *networkingv1.NetworkPolicy {
	r := g.r
	np := &networkingv1.NetworkPolicy{TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"}}
	np.Namespace, np.Name = pick(r, namespaces), fmt.Sprintf("np%d", i)
	np.Spec.PodSelector = *g.podSelector()
	switch r.IntN(4) {
	case 0:
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	case 1:
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	case 2:
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	}
	for range r.IntN(3) {
		np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: g.npPeers(), Ports: g.npPorts()})
	}
	for range r.IntN(3) {
		np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: g.npPeers(), Ports: g.npPorts()})
	}
	return np
}

func (g *gen) subject() v1alpha1.AdminNetworkPolicySubject {
	if g.r.IntN(2) == 0 {
		return v1alpha1.AdminNetworkPolicySubject{Namespaces: g.nsSelector()}
	}
	return v1alpha1.AdminNetworkPolicySubject{Pods: &v1alpha1.NamespacedPod{NamespaceSelector: *g.nsSelector(), PodSelector: *g.podSelector()}}
}

func (g *gen) adminPorts() *[]v1alpha1.AdminNetworkPolicyPort {
	r := g.r
	if r.IntN(2) == 0 {
		return nil
	}
	var out []v1alpha1.AdminNetworkPolicyPort
	for range 1 + r.IntN(2) {
		cp := pick(r, genPorts)
		switch r.IntN(3) {
		case 0:
			out = append(out, v1alpha1.AdminNetworkPolicyPort{PortNumber: &v1alpha1.Port{Protocol: cp.Protocol, Port: cp.ContainerPort}})
		case 1:
			name := pick(r, genPortNames)
			out = append(out, v1alpha1.AdminNetworkPolicyPort{NamedPort: &name})
		default:
			out = append(out, v1alpha1.AdminNetworkPolicyPort{PortRange: &v1alpha1.PortRange{Protocol: cp.Protocol, Start: cp.ContainerPort - 1, End: cp.ContainerPort + int32(r.IntN(2))}})
		}
	}
	return &out
}

func (g *gen) adminIngressPeers() []v1alpha1.AdminNetworkPolicyIngressPeer {
	var out []v1alpha1.AdminNetworkPolicyIngressPeer
	for range 1 + g.r.IntN(2) {
		if g.r.IntN(2) == 0 {
			out = append(out, v1alpha1.AdminNetworkPolicyIngressPeer{Namespaces: g.nsSelector()})
		} else {
			out = append(out, v1alpha1.AdminNetworkPolicyIngressPeer{Pods: &v1alpha1.NamespacedPod{NamespaceSelector: *g.nsSelector(), PodSelector: *g.podSelector()}})
		}
	}
	return out
}

func (g *gen) adminNetworks() []v1alpha1.CIDR {
	var out []v1alpha1.CIDR
	for range 1 + g.r.IntN(2) {
		p, _ := g.cidr()
		out = append(out, v1alpha1.CIDR(p.String()))
	}
	return out
}

func (g *gen) anp(i, priority int) *v1alpha1.AdminNetworkPolicy {
	r := g.r
	o := &v1alpha1.AdminNetworkPolicy{TypeMeta: metav1.TypeMeta{APIVersion: "policy.networking.k8s.io/v1alpha1", Kind: "AdminNetworkPolicy"}}
	o.Name = fmt.Sprintf("anp%d", i)
	o.Spec.Priority = int32(priority)
	o.Spec.Subject = g.subject()
	actions := []v1alpha1.AdminNetworkPolicyRuleAction{v1alpha1.AdminNetworkPolicyRuleActionAllow, v1alpha1.AdminNetworkPolicyRuleActionDeny, v1alpha1.AdminNetworkPolicyRuleActionPass}
	for k := range r.IntN(3) {
		o.Spec.Ingress = append(o.Spec.Ingress, v1alpha1.AdminNetworkPolicyIngressRule{Name: fmt.Sprintf("in%d", k), Action: pick(r, actions), From: g.adminIngressPeers(), Ports: g.adminPorts()})
	}
	for k := range r.IntN(3) {
		var to []v1alpha1.AdminNetworkPolicyEgressPeer
		for _, p := range g.adminIngressPeers() {
			to = append(to, v1alpha1.AdminNetworkPolicyEgressPeer{Namespaces: p.Namespaces, Pods: p.Pods})
		}
		if r.IntN(3) == 0 {
			to = append(to, v1alpha1.AdminNetworkPolicyEgressPeer{Networks: g.adminNetworks()})
		}
		o.Spec.Egress = append(o.Spec.Egress, v1alpha1.AdminNetworkPolicyEgressRule{Name: fmt.Sprintf("out%d", k), Action: pick(r, actions), To: to, Ports: g.adminPorts()})
	}
	return o
}

func (g *gen) banp() *v1alpha1.BaselineAdminNetworkPolicy {
	r := g.r
	o := &v1alpha1.BaselineAdminNetworkPolicy{TypeMeta: metav1.TypeMeta{APIVersion: "policy.networking.k8s.io/v1alpha1", Kind: "BaselineAdminNetworkPolicy"}}
	o.Name = "default"
	o.Spec.Subject = g.subject()
	actions := []v1alpha1.BaselineAdminNetworkPolicyRuleAction{v1alpha1.BaselineAdminNetworkPolicyRuleActionAllow, v1alpha1.BaselineAdminNetworkPolicyRuleActionDeny}
	for k := range 1 + r.IntN(2) {
		o.Spec.Ingress = append(o.Spec.Ingress, v1alpha1.BaselineAdminNetworkPolicyIngressRule{Name: fmt.Sprintf("in%d", k), Action: pick(r, actions), From: g.adminIngressPeers(), Ports: g.adminPorts()})
	}
	for k := range r.IntN(2) {
		var to []v1alpha1.BaselineAdminNetworkPolicyEgressPeer
		for _, p := range g.adminIngressPeers() {
			to = append(to, v1alpha1.BaselineAdminNetworkPolicyEgressPeer{Namespaces: p.Namespaces, Pods: p.Pods})
		}
		if r.IntN(3) == 0 {
			to = append(to, v1alpha1.BaselineAdminNetworkPolicyEgressPeer{Networks: g.adminNetworks()})
		}
		o.Spec.Egress = append(o.Spec.Egress, v1alpha1.BaselineAdminNetworkPolicyEgressRule{Name: fmt.Sprintf("out%d", k), Action: pick(r, actions), To: to, Ports: g.adminPorts()})
	}
	return o
}

// policies are one random set of policies of every kind.
type policies struct {
	nps   []*networkingv1.NetworkPolicy
	anps  []*v1alpha1.AdminNetworkPolicy
	banps []*v1alpha1.BaselineAdminNetworkPolicy
}

func (g *gen) policies(namespaces []string) policies {
	var ps policies
	for i := range g.r.IntN(4) {
		ps.nps = append(ps.nps, g.networkPolicy(i, namespaces))
	}
	// Distinct priorities: the API leaves the order of equal ones undefined.
	for i, prio := range g.r.Perm(10)[:g.r.IntN(3)] {
		ps.anps = append(ps.anps, g.anp(i, prio*10))
	}
	if g.r.IntN(3) == 0 {
		ps.banps = append(ps.banps, g.banp())
	}
	return ps
}

func (ps policies) count() int { return len(ps.nps) + len(ps.anps) + len(ps.banps) }

// without returns the set with policy i (in nps, anps, banps order) left out.
func (ps policies) without(i int) policies {
	var out policies
	k := 0
	for _, p := range ps.nps {
		if k != i {
			out.nps = append(out.nps, p)
		}
		k++
	}
	for _, p := range ps.anps {
		if k != i {
			out.anps = append(out.anps, p)
		}
		k++
	}
	for _, p := range ps.banps {
		if k != i {
			out.banps = append(out.banps, p)
		}
		k++
	}
	return out
}

// on returns a cluster of base's namespaces, pods and nodes with these policies.
func (ps policies) on(base *model.Cluster) *model.Cluster {
	c := &model.Cluster{Namespaces: base.Namespaces, Pods: base.Pods, Nodes: base.Nodes,
		NetworkPolicies: ps.nps, AdminNetworkPolicies: ps.anps, BaselineAdminNetworkPolicies: ps.banps}
	c.Normalize()
	return c
}

// manifests prints the cluster as YAML documents that `netwarden verify -f FILE
// --keep-addresses` reads back into the same cluster.
func manifests(c *model.Cluster) string {
	var docs []string
	add := func(o any) {
		b, err := yaml.Marshal(o)
		if err != nil {
			docs = append(docs, "# "+err.Error())
			return
		}
		docs = append(docs, strings.TrimRight(string(b), "\n"))
	}
	for _, o := range c.Namespaces {
		add(o)
	}
	for _, o := range c.Nodes {
		add(o)
	}
	for _, o := range c.Pods {
		add(o)
	}
	for _, o := range c.NetworkPolicies {
		add(o)
	}
	for _, o := range c.AdminNetworkPolicies {
		add(o)
	}
	for _, o := range c.BaselineAdminNetworkPolicies {
		add(o)
	}
	return strings.Join(docs, "\n---\n") + "\n"
}
