package validation

import (
	"regexp"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"
)

// The limits and rules below are the CRD schemas' (OpenAPI and CEL) of network-policy-api v0.3.0.
const (
	maxANPRules  = 100
	maxANPPeers  = 100
	maxCNPRules  = 25
	maxCNPPeers  = 25
	maxNetworks  = 25
	maxRuleName  = 100
	maxPriority  = 1000
	maxProtocols = 25
)

const (
	maxANPPorts    = 100
	maxDomainNames = 25
)

var domainNameRE = regexp.MustCompile(`^(\*\.)?([a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$`)

func priority(path *field.Path, p int32) field.ErrorList {
	if p < 0 || p > maxPriority {
		return field.ErrorList{field.Invalid(path, p, "must be between 0 and 1000")}
	}
	return nil
}

func ruleName(path *field.Path, name string) field.ErrorList {
	if len(name) > maxRuleName {
		return field.ErrorList{field.TooLong(path, name, maxRuleName)}
	}
	return nil
}

func count(path *field.Path, n, min, max int) field.ErrorList {
	if n < min {
		return field.ErrorList{field.Required(path, "must have at least one item")}
	}
	if n > max {
		return field.ErrorList{field.TooMany(path, n, max)}
	}
	return nil
}

// onePeer checks the "exactly one field" rule that every subject and peer type has.
func onePeer(path *field.Path, set int) field.ErrorList {
	switch {
	case set == 0:
		return field.ErrorList{field.Required(path, "exactly one of the peer fields must be set")}
	case set > 1:
		return field.ErrorList{field.Forbidden(path, "exactly one of the peer fields may be set")}
	}
	return nil
}

func namespacedPod(path *field.Path, nsSel, podSel *metav1.LabelSelector) field.ErrorList {
	errs := selector(path.Child("namespaceSelector"), nsSel)
	return append(errs, selector(path.Child("podSelector"), podSel)...)
}

func networks(path *field.Path, nets []string) field.ErrorList {
	errs := count(path, len(nets), 1, maxNetworks)
	for i, n := range nets {
		_, e := cidr(path.Index(i), n)
		errs = append(errs, e...)
	}
	return errs
}

func domainNames(path *field.Path, names []string) field.ErrorList {
	errs := count(path, len(names), 1, maxDomainNames)
	for i, n := range names {
		if !domainNameRE.MatchString(n) {
			errs = append(errs, field.Invalid(path.Index(i), n, "must be a domain name, optionally starting with '*.'"))
		}
	}
	return errs
}

func adminObject(m *metav1.ObjectMeta) field.ErrorList {
	return objectMeta(m, false)
}

type anpPeerFields struct {
	namespaces *metav1.LabelSelector
	pods       *v1alpha1.NamespacedPod
	nodes      *metav1.LabelSelector
	networks   []v1alpha1.CIDR
	domains    []v1alpha1.DomainName
}

func (f anpPeerFields) validate(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	set := 0
	if f.namespaces != nil {
		set++
		errs = append(errs, selector(path.Child("namespaces"), f.namespaces)...)
	}
	if f.pods != nil {
		set++
		errs = append(errs, namespacedPod(path.Child("pods"), &f.pods.NamespaceSelector, &f.pods.PodSelector)...)
	}
	if f.nodes != nil {
		set++
		errs = append(errs, selector(path.Child("nodes"), f.nodes)...)
	}
	if f.networks != nil {
		set++
		ns := make([]string, len(f.networks))
		for i, n := range f.networks {
			ns[i] = string(n)
		}
		errs = append(errs, networks(path.Child("networks"), ns)...)
	}
	if f.domains != nil {
		set++
		ds := make([]string, len(f.domains))
		for i, d := range f.domains {
			ds[i] = string(d)
		}
		errs = append(errs, domainNames(path.Child("domainNames"), ds)...)
	}
	return append(onePeer(path, set), errs...)
}

func anpPorts(path *field.Path, ports *[]v1alpha1.AdminNetworkPolicyPort) field.ErrorList {
	if ports == nil {
		return nil
	}
	// An empty list is not "no ports": the CRD refuses it (minItems 1).
	errs := count(path, len(*ports), 1, maxANPPorts)
	for i, p := range *ports {
		pp := path.Index(i)
		set := 0
		if p.PortNumber != nil {
			set++
			proto := p.PortNumber.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP // the CRD's default, as for portRange
			}
			errs = append(errs, protocol(pp.Child("portNumber", "protocol"), proto)...)
			errs = append(errs, portNumber(pp.Child("portNumber", "port"), p.PortNumber.Port)...)
		}
		if p.NamedPort != nil {
			set++
			for _, msg := range validation.IsValidPortName(*p.NamedPort) {
				errs = append(errs, field.Invalid(pp.Child("namedPort"), *p.NamedPort, msg))
			}
		}
		if p.PortRange != nil {
			set++
			r := p.PortRange
			proto := r.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			errs = append(errs, protocol(pp.Child("portRange", "protocol"), proto)...)
			errs = append(errs, portNumber(pp.Child("portRange", "start"), r.Start)...)
			errs = append(errs, portNumber(pp.Child("portRange", "end"), r.End)...)
			if r.Start >= r.End {
				errs = append(errs, field.Invalid(pp.Child("portRange"), r.End, "start must be less than end"))
			}
		}
		switch {
		case set == 0:
			errs = append(errs, field.Required(pp, "exactly one of portNumber, namedPort and portRange must be set"))
		case set > 1:
			errs = append(errs, field.Forbidden(pp, "exactly one of portNumber, namedPort and portRange may be set"))
		}
	}
	return errs
}

func hasNamedPort(ports *[]v1alpha1.AdminNetworkPolicyPort) bool {
	if ports == nil {
		return false
	}
	for _, p := range *ports {
		if p.NamedPort != nil {
			return true
		}
	}
	return false
}

func anpSubject(path *field.Path, s *v1alpha1.AdminNetworkPolicySubject) field.ErrorList {
	return anpPeerFields{namespaces: s.Namespaces, pods: s.Pods}.validate(path)
}

func action(path *field.Path, a string, allowed ...string) field.ErrorList {
	for _, x := range allowed {
		if a == x {
			return nil
		}
	}
	return field.ErrorList{field.NotSupported(path, a, allowed)}
}

// anpRule is one AdminNetworkPolicy or BaselineAdminNetworkPolicy rule of either direction:
// the two kinds share their rule schema but for the actions they allow.
type anpRule struct {
	name   string
	action string
	peers  []anpPeerFields
	ports  *[]v1alpha1.AdminNetworkPolicyPort
}

// anpRules validates the rules of one direction; peerField is "from" or "to".
func anpRules(path *field.Path, peerField string, rules []anpRule, actions ...string) field.ErrorList {
	errs := count(path, len(rules), 0, maxANPRules)
	for i, r := range rules {
		p := path.Index(i)
		errs = append(errs, ruleName(p.Child("name"), r.name)...)
		errs = append(errs, action(p.Child("action"), r.action, actions...)...)
		errs = append(errs, count(p.Child(peerField), len(r.peers), 1, maxANPPeers)...)
		for j, peer := range r.peers {
			pp := p.Child(peerField).Index(j)
			errs = append(errs, peer.validate(pp)...)
			if (peer.nodes != nil || peer.networks != nil || peer.domains != nil) && hasNamedPort(r.ports) {
				errs = append(errs, field.Forbidden(p.Child("ports"), "namedPort cannot be used with nodes, networks or domainNames peers: they have no named ports"))
			}
			if peer.domains != nil && r.action != string(v1alpha1.AdminNetworkPolicyRuleActionAllow) {
				errs = append(errs, field.Forbidden(pp.Child("domainNames"), "domainNames peers are only supported in Allow rules"))
			}
		}
		errs = append(errs, anpPorts(p.Child("ports"), r.ports)...)
	}
	return errs
}

func ingressPeers(from []v1alpha1.AdminNetworkPolicyIngressPeer) []anpPeerFields {
	out := make([]anpPeerFields, len(from))
	for i, f := range from {
		out[i] = anpPeerFields{namespaces: f.Namespaces, pods: f.Pods}
	}
	return out
}

// AdminNetworkPolicy validates a v1alpha1 AdminNetworkPolicy against its CRD schema.
func AdminNetworkPolicy(o *v1alpha1.AdminNetworkPolicy) field.ErrorList {
	errs := adminObject(&o.ObjectMeta)
	spec := field.NewPath("spec")
	errs = append(errs, priority(spec.Child("priority"), o.Spec.Priority)...)
	errs = append(errs, anpSubject(spec.Child("subject"), &o.Spec.Subject)...)
	var in, eg []anpRule
	for _, r := range o.Spec.Ingress {
		in = append(in, anpRule{r.Name, string(r.Action), ingressPeers(r.From), r.Ports})
	}
	for _, r := range o.Spec.Egress {
		peers := make([]anpPeerFields, len(r.To))
		for j, t := range r.To {
			peers[j] = anpPeerFields{t.Namespaces, t.Pods, t.Nodes, t.Networks, t.DomainNames}
		}
		eg = append(eg, anpRule{r.Name, string(r.Action), peers, r.Ports})
	}
	errs = append(errs, anpRules(spec.Child("ingress"), "from", in, "Allow", "Deny", "Pass")...)
	return append(errs, anpRules(spec.Child("egress"), "to", eg, "Allow", "Deny", "Pass")...)
}

// BaselineAdminNetworkPolicy validates a v1alpha1 BaselineAdminNetworkPolicy; the CRD allows
// only one, named "default".
func BaselineAdminNetworkPolicy(o *v1alpha1.BaselineAdminNetworkPolicy) field.ErrorList {
	errs := adminObject(&o.ObjectMeta)
	if o.Name != "" && o.Name != "default" {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), o.Name, "only one baseline admin network policy with metadata.name=\"default\" can be created in the cluster"))
	}
	spec := field.NewPath("spec")
	errs = append(errs, anpSubject(spec.Child("subject"), &o.Spec.Subject)...)
	var in, eg []anpRule
	for _, r := range o.Spec.Ingress {
		in = append(in, anpRule{r.Name, string(r.Action), ingressPeers(r.From), r.Ports})
	}
	for _, r := range o.Spec.Egress {
		peers := make([]anpPeerFields, len(r.To))
		for j, t := range r.To {
			peers[j] = anpPeerFields{namespaces: t.Namespaces, pods: t.Pods, nodes: t.Nodes, networks: t.Networks}
		}
		eg = append(eg, anpRule{r.Name, string(r.Action), peers, r.Ports})
	}
	errs = append(errs, anpRules(spec.Child("ingress"), "from", in, "Allow", "Deny")...)
	return append(errs, anpRules(spec.Child("egress"), "to", eg, "Allow", "Deny")...)
}

// ClusterNetworkPolicy validates a v1beta1 (or v1alpha2) ClusterNetworkPolicy.
func ClusterNetworkPolicy(o *v1beta1.ClusterNetworkPolicy) field.ErrorList {
	errs := adminObject(&o.ObjectMeta)
	spec := field.NewPath("spec")
	errs = append(errs, action(spec.Child("tier"), string(o.Spec.Tier), "Admin", "Baseline")...)
	errs = append(errs, priority(spec.Child("priority"), o.Spec.Priority)...)
	errs = append(errs, anpPeerFields{namespaces: o.Spec.Subject.Namespaces, pods: cnpPods(o.Spec.Subject.Pods)}.validate(spec.Child("subject"))...)
	errs = append(errs, count(spec.Child("ingress"), len(o.Spec.Ingress), 0, maxCNPRules)...)
	errs = append(errs, count(spec.Child("egress"), len(o.Spec.Egress), 0, maxCNPRules)...)
	actions := []string{"Accept", "Deny", "Pass"}
	for i, r := range o.Spec.Ingress {
		p := spec.Child("ingress").Index(i)
		errs = append(errs, ruleName(p.Child("name"), r.Name)...)
		errs = append(errs, action(p.Child("action"), string(r.Action), actions...)...)
		errs = append(errs, count(p.Child("from"), len(r.From), 1, maxCNPPeers)...)
		for j, peer := range r.From {
			errs = append(errs, anpPeerFields{namespaces: peer.Namespaces, pods: cnpPods(peer.Pods)}.validate(p.Child("from").Index(j))...)
		}
		errs = append(errs, cnpProtocols(p.Child("protocols"), r.Protocols)...)
	}
	for i, r := range o.Spec.Egress {
		p := spec.Child("egress").Index(i)
		errs = append(errs, ruleName(p.Child("name"), r.Name)...)
		errs = append(errs, action(p.Child("action"), string(r.Action), actions...)...)
		errs = append(errs, count(p.Child("to"), len(r.To), 1, maxCNPPeers)...)
		named := false
		for _, pr := range r.Protocols {
			named = named || pr.DestinationNamedPort != ""
		}
		for j, peer := range r.To {
			pp := p.Child("to").Index(j)
			f := anpPeerFields{namespaces: peer.Namespaces, nodes: peer.Nodes, pods: cnpPods(peer.Pods)}
			if peer.Networks != nil {
				f.networks = make([]v1alpha1.CIDR, len(peer.Networks))
				for k, n := range peer.Networks {
					f.networks[k] = v1alpha1.CIDR(n)
				}
			}
			if peer.DomainNames != nil {
				f.domains = make([]v1alpha1.DomainName, len(peer.DomainNames))
				for k, d := range peer.DomainNames {
					f.domains[k] = v1alpha1.DomainName(d)
				}
			}
			errs = append(errs, f.validate(pp)...)
			if (peer.Nodes != nil || peer.Networks != nil || peer.DomainNames != nil) && named {
				errs = append(errs, field.Forbidden(p.Child("protocols"), "networks/nodes/domainNames peer cannot be set with namedPorts since there are no namedPorts for networks/nodes/domainNames"))
			}
			if peer.DomainNames != nil && r.Action != v1beta1.ClusterNetworkPolicyRuleActionAccept {
				errs = append(errs, field.Forbidden(pp.Child("domainNames"), "domainNames peers are only supported in Accept rules"))
			}
		}
		errs = append(errs, cnpProtocols(p.Child("protocols"), r.Protocols)...)
	}
	return errs
}

// cnpPods reads a ClusterNetworkPolicy pods peer as the identical v1alpha1 shape.
func cnpPods(p *v1beta1.NamespacedPod) *v1alpha1.NamespacedPod {
	if p == nil {
		return nil
	}
	return &v1alpha1.NamespacedPod{NamespaceSelector: p.NamespaceSelector, PodSelector: p.PodSelector}
}

func cnpProtocols(path *field.Path, ps []v1beta1.ClusterNetworkPolicyProtocol) field.ErrorList {
	if ps == nil {
		return nil
	}
	errs := count(path, len(ps), 1, maxProtocols)
	for i, p := range ps {
		pp := path.Index(i)
		set := 0
		port := func(name string, dp *v1beta1.Port) {
			set++
			if dp == nil {
				errs = append(errs, field.Required(pp.Child(name, "destinationPort"), "must be set"))
				return
			}
			errs = append(errs, cnpPort(pp.Child(name, "destinationPort"), dp)...)
		}
		if p.TCP != nil {
			port("tcp", p.TCP.DestinationPort)
		}
		if p.UDP != nil {
			port("udp", p.UDP.DestinationPort)
		}
		if p.SCTP != nil {
			port("sctp", p.SCTP.DestinationPort)
		}
		if p.DestinationNamedPort != "" {
			set++
			for _, msg := range validation.IsValidPortName(p.DestinationNamedPort) {
				errs = append(errs, field.Invalid(pp.Child("destinationNamedPort"), p.DestinationNamedPort, msg))
			}
		}
		switch {
		case set == 0:
			errs = append(errs, field.Required(pp, "exactly one of tcp, udp, sctp and destinationNamedPort must be set"))
		case set > 1:
			errs = append(errs, field.Forbidden(pp, "exactly one of tcp, udp, sctp and destinationNamedPort may be set"))
		}
	}
	return errs
}

func cnpPort(path *field.Path, p *v1beta1.Port) field.ErrorList {
	var errs field.ErrorList
	switch {
	case p.Number != 0 && p.Range != nil:
		return field.ErrorList{field.Forbidden(path, "exactly one of number and range may be set")}
	case p.Number != 0:
		errs = append(errs, portNumber(path.Child("number"), p.Number)...)
	case p.Range != nil:
		errs = append(errs, portNumber(path.Child("range", "start"), p.Range.Start)...)
		errs = append(errs, portNumber(path.Child("range", "end"), p.Range.End)...)
		if p.Range.Start >= p.Range.End {
			errs = append(errs, field.Invalid(path.Child("range"), p.Range.End, "Start port must be less than End port"))
		}
	default:
		errs = append(errs, field.Required(path, "exactly one of number and range must be set"))
	}
	return errs
}
