package policy

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netwarden/netwarden/pkg/model"
)

func itoa(i int) string { return strconv.Itoa(i) }

// CompileError is a policy that cannot be compiled (only possible for objects that skipped
// validation, such as ones read from a cluster whose CRD is newer than netwarden).
type CompileError struct {
	Policy model.Ref
	Field  string
	Msg    string
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Policy, e.Field, e.Msg)
}

type compiler struct {
	e   *Engine
	ref model.Ref
	// podSets memoizes podSet by selector text: policies often repeat the same peers
	// (one namespace selector, a few app labels), and each podSet walks every identity.
	podSets map[podSetKey]bitset
}

type podSetKey struct {
	ownNS, ns, pod string
	nsAll          bool // nsSel selects by label (ns is its text); otherwise ownNS alone
}

// selectorKey is a selector's canonical text, and whether that text identifies it:
// labels.Nothing() prints as "" like labels.Everything(), so it is not memoized.
func selectorKey(s labels.Selector) (string, bool) {
	if s == nil || s.Empty() {
		return "", true
	}
	t := s.String()
	return t, t != ""
}

func (c *compiler) compileAll() error {
	for _, np := range c.e.Cluster.NetworkPolicies {
		if err := c.networkPolicy(np); err != nil {
			return err
		}
	}
	for _, o := range c.e.Cluster.AdminNetworkPolicies {
		if err := c.anp(o); err != nil {
			return err
		}
	}
	for _, o := range c.e.Cluster.ClusterNetworkPolicies {
		if err := c.cnp(o); err != nil {
			return err
		}
	}
	for _, o := range c.e.Cluster.BaselineAdminNetworkPolicies {
		if err := c.banp(o); err != nil {
			return err
		}
	}
	return nil
}

func (c *compiler) add(p *Policy) {
	p.Index = len(c.e.Policies)
	c.e.Policies = append(c.e.Policies, p)
}

func (c *compiler) selector(field string, s *metav1.LabelSelector) (labels.Selector, error) {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return nil, &CompileError{Policy: c.ref, Field: field, Msg: err.Error()}
	}
	return sel, nil
}

// podSet computes which identities a (namespace selector, pod selector) pair selects. A nil
// nsSel means "the namespace named ownNS"; a nil podSel means every pod.
func (c *compiler) podSet(nsSel labels.Selector, ownNS string, podSel labels.Selector) bitset {
	key := podSetKey{ownNS: ownNS, nsAll: nsSel != nil}
	var ok1, ok2 bool
	key.ns, ok1 = selectorKey(nsSel)
	key.pod, ok2 = selectorKey(podSel)
	if !key.nsAll {
		key.ns, ok1 = "", true
	} else {
		key.ownNS = "" // unused when a namespace selector is given
	}
	if !ok1 || !ok2 {
		return c.walkPodSet(nsSel, ownNS, podSel)
	}
	if b, ok := c.podSets[key]; ok {
		return slices.Clone(b) // callers own their sets
	}
	b := c.walkPodSet(nsSel, ownNS, podSel)
	if c.podSets == nil {
		c.podSets = map[podSetKey]bitset{}
	}
	c.podSets[key] = b
	return slices.Clone(b)
}

func (c *compiler) walkPodSet(nsSel labels.Selector, ownNS string, podSel labels.Selector) bitset {
	nsOK := make([]bool, len(c.e.namespaces))
	for i, ns := range c.e.namespaces {
		if nsSel == nil {
			nsOK[i] = ns.name == ownNS
		} else {
			nsOK[i] = nsSel.Matches(ns.labels)
		}
	}
	b := newBitset(len(c.e.idents))
	for id, ident := range c.e.idents {
		if nsOK[ident.ns] && (podSel == nil || podSel.Matches(ident.labels)) {
			b.set(int32(id))
		}
	}
	return b
}

func describeSel(s labels.Selector) string {
	if s == nil || s.Empty() {
		return ""
	}
	return "{" + s.String() + "}"
}

func podsText(nsSel labels.Selector, ownNS string, podSel labels.Selector) string {
	who := "all pods"
	if d := describeSel(podSel); d != "" {
		who = "pods " + d
	}
	switch {
	case nsSel == nil:
		return who + " in namespace " + ownNS
	case nsSel.Empty():
		return who + " in all namespaces"
	}
	return who + " in namespaces " + describeSel(nsSel)
}

// --- NetworkPolicy ---

func (c *compiler) networkPolicy(np *networkingv1.NetworkPolicy) error {
	c.ref = model.Ref{Kind: model.KindNetworkPolicy, Namespace: np.Namespace, Name: np.Name}
	podSel, err := c.selector("spec.podSelector", &np.Spec.PodSelector)
	if err != nil {
		return err
	}
	p := &Policy{Ref: c.ref, Tier: TierNetworkPolicy, kindOrder: 0, Audit: isAudit(np.Annotations)}
	p.subject = c.podSet(nil, np.Namespace, podSel)
	p.Subject = podsText(nil, np.Namespace, podSel)
	// policyTypes default: Ingress always, Egress when there are egress rules (the API
	// server's defaulting).
	types := np.Spec.PolicyTypes
	if len(types) == 0 {
		types = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(np.Spec.Egress) > 0 {
			types = append(types, networkingv1.PolicyTypeEgress)
		}
	}
	for _, t := range types {
		if t == networkingv1.PolicyTypeIngress {
			p.affects[Ingress] = true
		} else if t == networkingv1.PolicyTypeEgress {
			p.affects[Egress] = true
		}
	}
	if p.affects[Ingress] {
		for i, r := range np.Spec.Ingress {
			rule, err := c.npRule(fmt.Sprintf("spec.ingress[%d]", i), i, np.Namespace, r.From, r.Ports)
			if err != nil {
				return err
			}
			p.Ingress = append(p.Ingress, rule)
		}
	}
	if p.affects[Egress] {
		for i, r := range np.Spec.Egress {
			rule, err := c.npRule(fmt.Sprintf("spec.egress[%d]", i), i, np.Namespace, r.To, r.Ports)
			if err != nil {
				return err
			}
			p.Egress = append(p.Egress, rule)
		}
	}
	c.add(p)
	return nil
}

func (c *compiler) npRule(path string, idx int, ns string, peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) (Rule, error) {
	r := Rule{Index: idx, Action: Allow, AnyPeer: len(peers) == 0, AnyPort: len(ports) == 0}
	peerField := "from"
	if strings.Contains(path, "egress") {
		peerField = "to"
	}
	for j, peer := range peers {
		f := fmt.Sprintf("%s.%s[%d]", path, peerField, j)
		if peer.IPBlock != nil {
			pr, err := c.ipBlock(f+".ipBlock", peer.IPBlock)
			if err != nil {
				return r, err
			}
			r.Peers = append(r.Peers, pr)
			continue
		}
		if peer.PodSelector == nil && peer.NamespaceSelector == nil {
			// Not valid input; an empty peer allows nothing (the safe reading).
			r.Peers = append(r.Peers, Peer{Kind: PeerNone, Text: "an empty peer (matches nothing)"})
			continue
		}
		var nsSel, podSel labels.Selector
		var err error
		if peer.NamespaceSelector != nil {
			if nsSel, err = c.selector(f+".namespaceSelector", peer.NamespaceSelector); err != nil {
				return r, err
			}
		}
		if peer.PodSelector != nil {
			if podSel, err = c.selector(f+".podSelector", peer.PodSelector); err != nil {
				return r, err
			}
		}
		r.Peers = append(r.Peers, Peer{Kind: PeerPods, NamespaceSelector: nsSel, PodSelector: podSel,
			pods: c.podSet(nsSel, ns, podSel), Text: podsText(nsSel, ns, podSel)})
	}
	for j, port := range ports {
		proto := ProtoTCP
		if port.Protocol != nil {
			proto = protoOf(*port.Protocol)
		}
		m := PortMatch{Proto: proto, Lo: 0, Hi: 65535}
		switch {
		case port.Port == nil:
		case port.Port.Type == intstr.String:
			m.Named = port.Port.StrVal
		default:
			m.Lo, m.Hi = uint16(port.Port.IntVal), uint16(port.Port.IntVal)
			if port.EndPort != nil {
				if *port.EndPort < port.Port.IntVal {
					return r, &CompileError{Policy: c.ref, Field: fmt.Sprintf("%s.ports[%d].endPort", path, j), Msg: "must be greater than or equal to port"}
				}
				m.Hi = uint16(*port.EndPort)
			}
		}
		r.Ports = append(r.Ports, m)
	}
	return r, nil
}

func (c *compiler) ipBlock(field string, b *networkingv1.IPBlock) (Peer, error) {
	pr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return Peer{}, &CompileError{Policy: c.ref, Field: field + ".cidr", Msg: "invalid CIDR " + strconv.Quote(b.CIDR)}
	}
	p := Peer{Kind: PeerIPBlock, CIDR: pr.Masked()}
	text := "ipBlock " + p.CIDR.String()
	for i, x := range b.Except {
		xp, err := netip.ParsePrefix(x)
		if err != nil {
			return Peer{}, &CompileError{Policy: c.ref, Field: fmt.Sprintf("%s.except[%d]", field, i), Msg: "invalid CIDR " + strconv.Quote(x)}
		}
		p.Except = append(p.Except, xp.Masked())
	}
	if len(p.Except) > 0 {
		xs := make([]string, len(p.Except))
		for i, x := range p.Except {
			xs[i] = x.String()
		}
		text += " except " + strings.Join(xs, ", ")
	}
	p.Text = text
	return p, nil
}

// --- admin kinds (ANP, BANP, CNP) ---

// adminPeer is the union of the admin kinds' peer fields.
type adminPeer struct {
	namespaces *metav1.LabelSelector
	pods       *v1alpha1.NamespacedPod
	nodes      *metav1.LabelSelector
	networks   []string
	domains    []string
}

// adminRule is the union of the admin kinds' rule shapes.
type adminRule struct {
	name   string
	action Action
	peers  []adminPeer
	ports  *[]v1alpha1.AdminNetworkPolicyPort     // ANP/BANP
	protos []v1beta1.ClusterNetworkPolicyProtocol // CNP
	cnp    bool
}

func (c *compiler) subject(path string, namespaces *metav1.LabelSelector, pods *v1alpha1.NamespacedPod) (bitset, string, error) {
	switch {
	case namespaces != nil:
		nsSel, err := c.selector(path+".namespaces", namespaces)
		if err != nil {
			return nil, "", err
		}
		return c.podSet(nsSel, "", labels.Everything()), podsText(nsSel, "", nil), nil
	case pods != nil:
		nsSel, err := c.selector(path+".pods.namespaceSelector", &pods.NamespaceSelector)
		if err != nil {
			return nil, "", err
		}
		podSel, err := c.selector(path+".pods.podSelector", &pods.PodSelector)
		if err != nil {
			return nil, "", err
		}
		return c.podSet(nsSel, "", podSel), podsText(nsSel, "", podSel), nil
	}
	// No subject field: a newer API than netwarden knows; select nothing and say so.
	c.e.Warnings = append(c.e.Warnings, Warning{Policy: c.ref, Code: "unknown-subject", Message: c.ref.String() + " has no subject netwarden understands; it selects no pods"})
	return newBitset(len(c.e.idents)), "no pods (unknown subject)", nil
}

func (c *compiler) adminRules(path string, rules []adminRule) ([]Rule, error) {
	var out []Rule
	for i, ar := range rules {
		rp := fmt.Sprintf("%s[%d]", path, i)
		r := Rule{Index: i, Name: ar.name, Action: ar.action}
		for j, ap := range ar.peers {
			peer, err := c.adminPeer(fmt.Sprintf("%s.peers[%d]", rp, j), ap, ar.action)
			if err != nil {
				return nil, err
			}
			if peer.Kind == PeerNone && ar.action != Allow {
				// Fail closed: the API reads a Deny or Pass rule with an unreadable peer as
				// "deny all"; a Pass would hand unknown traffic to weaker tiers.
				r.AnyPeer = true
				r.Action = Deny
			}
			r.Peers = append(r.Peers, peer)
		}
		if ar.cnp {
			r.AnyPort = len(ar.protos) == 0
			for _, pr := range ar.protos {
				r.Ports = append(r.Ports, cnpProtocol(pr)...)
			}
		} else {
			r.AnyPort = ar.ports == nil
			if ar.ports != nil {
				for _, pt := range *ar.ports {
					r.Ports = append(r.Ports, anpPort(pt)...)
				}
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func (c *compiler) adminPeer(path string, ap adminPeer, action Action) (Peer, error) {
	switch {
	case ap.namespaces != nil:
		nsSel, err := c.selector(path+".namespaces", ap.namespaces)
		if err != nil {
			return Peer{}, err
		}
		return Peer{Kind: PeerPods, NamespaceSelector: nsSel, PodSelector: labels.Everything(),
			pods: c.podSet(nsSel, "", nil), Text: podsText(nsSel, "", nil)}, nil
	case ap.pods != nil:
		nsSel, err := c.selector(path+".pods.namespaceSelector", &ap.pods.NamespaceSelector)
		if err != nil {
			return Peer{}, err
		}
		podSel, err := c.selector(path+".pods.podSelector", &ap.pods.PodSelector)
		if err != nil {
			return Peer{}, err
		}
		return Peer{Kind: PeerPods, NamespaceSelector: nsSel, PodSelector: podSel,
			pods: c.podSet(nsSel, "", podSel), Text: podsText(nsSel, "", podSel)}, nil
	case ap.nodes != nil:
		sel, err := c.selector(path+".nodes", ap.nodes)
		if err != nil {
			return Peer{}, err
		}
		p := Peer{Kind: PeerNodes, NodeSelector: sel, nodeIPs: map[netip.Addr]struct{}{}, nodeNames: map[string]struct{}{}}
		for _, n := range c.e.Cluster.Nodes {
			if sel.Matches(labels.Set(n.Labels)) {
				p.Nodes = append(p.Nodes, n.Name)
				p.nodeNames[n.Name] = struct{}{}
				for _, ip := range c.e.nodeIPs[n.Name] {
					p.nodeIPs[ip] = struct{}{}
				}
			}
		}
		p.Text = "nodes " + describeSel(sel)
		if sel.Empty() {
			p.Text = "all nodes"
		}
		return p, nil
	case ap.networks != nil:
		p := Peer{Kind: PeerNetworks}
		for i, n := range ap.networks {
			pr, err := netip.ParsePrefix(n)
			if err != nil {
				return Peer{}, &CompileError{Policy: c.ref, Field: fmt.Sprintf("%s.networks[%d]", path, i), Msg: "invalid CIDR " + strconv.Quote(n)}
			}
			p.Networks = append(p.Networks, pr.Masked())
		}
		p.Text = "networks " + strings.Join(ap.networks, ", ")
		return p, nil
	case ap.domains != nil:
		c.e.Warnings = append(c.e.Warnings, Warning{Policy: c.ref, Code: "domain-names",
			Message: c.ref.String() + " has domainNames peers; netwarden decides by address and treats them as matching no address"})
		return Peer{Kind: PeerDomains, Domains: ap.domains, Text: "domains " + strings.Join(ap.domains, ", ")}, nil
	}
	c.e.Warnings = append(c.e.Warnings, Warning{Policy: c.ref, Code: "unknown-peer",
		Message: fmt.Sprintf("%s: %s has no peer field netwarden understands; read fail-closed (matches nothing in %s rules; a Deny or Pass rule denies everything)", c.ref, path, "Allow/Accept")})
	return Peer{Kind: PeerNone, Text: "an unknown peer (fail-closed)"}, nil
}

func anpPort(pt v1alpha1.AdminNetworkPolicyPort) []PortMatch {
	switch {
	case pt.PortNumber != nil:
		n := uint16(pt.PortNumber.Port)
		return []PortMatch{{Proto: protoOf(pt.PortNumber.Protocol), Lo: n, Hi: n}}
	case pt.NamedPort != nil:
		return []PortMatch{{Named: *pt.NamedPort}}
	case pt.PortRange != nil:
		return []PortMatch{{Proto: protoOf(pt.PortRange.Protocol), Lo: uint16(pt.PortRange.Start), Hi: uint16(pt.PortRange.End)}}
	}
	return nil
}

func cnpProtocol(pr v1beta1.ClusterNetworkPolicyProtocol) []PortMatch {
	port := func(proto Proto, dp *v1beta1.Port) []PortMatch {
		switch {
		case dp == nil:
			return []PortMatch{{Proto: proto, Lo: 0, Hi: 65535}}
		case dp.Range != nil:
			return []PortMatch{{Proto: proto, Lo: uint16(dp.Range.Start), Hi: uint16(dp.Range.End)}}
		}
		return []PortMatch{{Proto: proto, Lo: uint16(dp.Number), Hi: uint16(dp.Number)}}
	}
	switch {
	case pr.TCP != nil:
		return port(ProtoTCP, pr.TCP.DestinationPort)
	case pr.UDP != nil:
		return port(ProtoUDP, pr.UDP.DestinationPort)
	case pr.SCTP != nil:
		return port(ProtoSCTP, pr.SCTP.DestinationPort)
	case pr.DestinationNamedPort != "":
		return []PortMatch{{Named: pr.DestinationNamedPort}}
	}
	return nil
}

func anpAction(a string) Action {
	switch a {
	case "Allow", "Accept":
		return Allow
	case "Pass":
		return Pass
	}
	// Deny, and anything unknown: fail closed.
	return Deny
}

func (c *compiler) anp(o *v1alpha1.AdminNetworkPolicy) error {
	c.ref = model.Ref{Kind: model.KindAdminNetworkPolicy, Name: o.Name}
	p := &Policy{Ref: c.ref, Tier: TierAdmin, Priority: o.Spec.Priority, kindOrder: 1, Audit: isAudit(o.Annotations)}
	var in, eg []adminRule
	for _, r := range o.Spec.Ingress {
		in = append(in, anpIngress(r.Name, string(r.Action), r.From, r.Ports))
	}
	for _, r := range o.Spec.Egress {
		ar := adminRule{name: r.Name, action: anpAction(string(r.Action)), ports: r.Ports}
		for _, t := range r.To {
			ar.peers = append(ar.peers, adminPeer{namespaces: t.Namespaces, pods: t.Pods, nodes: t.Nodes, networks: cidrs(t.Networks), domains: domains(t.DomainNames)})
		}
		eg = append(eg, ar)
	}
	return c.finishANP(p, &o.Spec.Subject, in, eg)
}

func (c *compiler) banp(o *v1alpha1.BaselineAdminNetworkPolicy) error {
	c.ref = model.Ref{Kind: model.KindBaselineAdminNetworkPolicy, Name: o.Name}
	// A BANP has no priority; it comes after every Baseline-tier ClusterNetworkPolicy.
	p := &Policy{Ref: c.ref, Tier: TierBaseline, Priority: 1 << 20, kindOrder: 2, Audit: isAudit(o.Annotations)}
	var in, eg []adminRule
	for _, r := range o.Spec.Ingress {
		in = append(in, anpIngress(r.Name, string(r.Action), r.From, r.Ports))
	}
	for _, r := range o.Spec.Egress {
		ar := adminRule{name: r.Name, action: anpAction(string(r.Action)), ports: r.Ports}
		for _, t := range r.To {
			ar.peers = append(ar.peers, adminPeer{namespaces: t.Namespaces, pods: t.Pods, nodes: t.Nodes, networks: cidrs(t.Networks)})
		}
		eg = append(eg, ar)
	}
	return c.finishANP(p, &o.Spec.Subject, in, eg)
}

// anpIngress reads an ANP or BANP ingress rule; the two kinds share its shape.
func anpIngress(name, action string, from []v1alpha1.AdminNetworkPolicyIngressPeer, ports *[]v1alpha1.AdminNetworkPolicyPort) adminRule {
	ar := adminRule{name: name, action: anpAction(action), ports: ports}
	for _, f := range from {
		ar.peers = append(ar.peers, adminPeer{namespaces: f.Namespaces, pods: f.Pods})
	}
	return ar
}

func (c *compiler) finishANP(p *Policy, subject *v1alpha1.AdminNetworkPolicySubject, in, eg []adminRule) error {
	var err error
	if p.subject, p.Subject, err = c.subject("spec.subject", subject.Namespaces, subject.Pods); err != nil {
		return err
	}
	return c.finishAdmin(p, in, eg)
}

func (c *compiler) cnp(o *v1beta1.ClusterNetworkPolicy) error {
	c.ref = model.Ref{Kind: model.KindClusterNetworkPolicy, Name: o.Name}
	tier := TierAdmin
	if o.Spec.Tier == v1beta1.BaselineTier {
		tier = TierBaseline
	} else if o.Spec.Tier != v1beta1.AdminTier {
		return &CompileError{Policy: c.ref, Field: "spec.tier", Msg: fmt.Sprintf("unsupported tier %q (want Admin or Baseline)", o.Spec.Tier)}
	}
	p := &Policy{Ref: c.ref, Tier: tier, Priority: o.Spec.Priority, kindOrder: 0, Audit: isAudit(o.Annotations)}
	var pods *v1alpha1.NamespacedPod
	if o.Spec.Subject.Pods != nil {
		pods = &v1alpha1.NamespacedPod{NamespaceSelector: o.Spec.Subject.Pods.NamespaceSelector, PodSelector: o.Spec.Subject.Pods.PodSelector}
	}
	var err error
	if p.subject, p.Subject, err = c.subject("spec.subject", o.Spec.Subject.Namespaces, pods); err != nil {
		return err
	}
	nsPod := func(np *v1beta1.NamespacedPod) *v1alpha1.NamespacedPod {
		if np == nil {
			return nil
		}
		return &v1alpha1.NamespacedPod{NamespaceSelector: np.NamespaceSelector, PodSelector: np.PodSelector}
	}
	var in, eg []adminRule
	for _, r := range o.Spec.Ingress {
		ar := adminRule{name: r.Name, action: anpAction(string(r.Action)), protos: r.Protocols, cnp: true}
		for _, f := range r.From {
			ar.peers = append(ar.peers, adminPeer{namespaces: f.Namespaces, pods: nsPod(f.Pods)})
		}
		in = append(in, ar)
	}
	for _, r := range o.Spec.Egress {
		ar := adminRule{name: r.Name, action: anpAction(string(r.Action)), protos: r.Protocols, cnp: true}
		for _, t := range r.To {
			doms := strs(t.DomainNames)
			sort.Strings(doms)
			ar.peers = append(ar.peers, adminPeer{namespaces: t.Namespaces, pods: nsPod(t.Pods), nodes: t.Nodes, networks: strs(t.Networks), domains: doms})
		}
		eg = append(eg, ar)
	}
	return c.finishAdmin(p, in, eg)
}

func (c *compiler) finishAdmin(p *Policy, in, eg []adminRule) error {
	var err error
	if p.Ingress, err = c.adminRules("spec.ingress", in); err != nil {
		return err
	}
	if p.Egress, err = c.adminRules("spec.egress", eg); err != nil {
		return err
	}
	p.affects[Ingress] = len(p.Ingress) > 0
	p.affects[Egress] = len(p.Egress) > 0
	c.add(p)
	return nil
}

func cidrs(in []v1alpha1.CIDR) []string { return strs(in) }

func domains(in []v1alpha1.DomainName) []string {
	out := strs(in)
	sort.Strings(out)
	return out
}

// strs converts a list of string-typed API values, keeping nil (field absent) apart from
// empty.
func strs[T ~string](in []T) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = string(s)
	}
	return out
}
