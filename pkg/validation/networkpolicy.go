package validation

import (
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// NetworkPolicy follows the API server's networking/v1 validation.
func NetworkPolicy(np *networkingv1.NetworkPolicy) field.ErrorList {
	errs := objectMeta(&np.ObjectMeta, true)
	spec := field.NewPath("spec")
	errs = append(errs, selector(spec.Child("podSelector"), &np.Spec.PodSelector)...)
	for i, r := range np.Spec.Ingress {
		p := spec.Child("ingress").Index(i)
		for j := range r.Ports {
			errs = append(errs, npPort(p.Child("ports").Index(j), &r.Ports[j])...)
		}
		for j := range r.From {
			errs = append(errs, npPeer(p.Child("from").Index(j), &r.From[j])...)
		}
	}
	for i, r := range np.Spec.Egress {
		p := spec.Child("egress").Index(i)
		for j := range r.Ports {
			errs = append(errs, npPort(p.Child("ports").Index(j), &r.Ports[j])...)
		}
		for j := range r.To {
			errs = append(errs, npPeer(p.Child("to").Index(j), &r.To[j])...)
		}
	}
	seen := map[networkingv1.PolicyType]bool{}
	for i, t := range np.Spec.PolicyTypes {
		p := spec.Child("policyTypes").Index(i)
		switch t {
		case networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress:
		default:
			errs = append(errs, field.NotSupported(p, t, []string{"Ingress", "Egress"}))
		}
		if seen[t] {
			errs = append(errs, field.Duplicate(p, t))
		}
		seen[t] = true
	}
	return errs
}

func npPort(path *field.Path, port *networkingv1.NetworkPolicyPort) field.ErrorList {
	var errs field.ErrorList
	if port.Protocol != nil {
		errs = append(errs, protocol(path.Child("protocol"), *port.Protocol)...)
	}
	if port.Port != nil {
		if port.Port.Type == intstr.Int {
			errs = append(errs, portNumber(path.Child("port"), port.Port.IntVal)...)
		} else {
			for _, msg := range validation.IsValidPortName(port.Port.StrVal) {
				errs = append(errs, field.Invalid(path.Child("port"), port.Port.StrVal, msg))
			}
		}
	}
	if port.EndPort != nil {
		switch {
		case port.Port == nil:
			errs = append(errs, field.Required(path.Child("port"), "must be specified when endPort is specified"))
		case port.Port.Type == intstr.String:
			errs = append(errs, field.Forbidden(path.Child("endPort"), "may not be specified when port is non-numeric"))
		case *port.EndPort < port.Port.IntVal:
			errs = append(errs, field.Invalid(path.Child("endPort"), *port.EndPort, "must be greater than or equal to port"))
		default:
			errs = append(errs, portNumber(path.Child("endPort"), *port.EndPort)...)
		}
	}
	return errs
}

func npPeer(path *field.Path, peer *networkingv1.NetworkPolicyPeer) field.ErrorList {
	var errs field.ErrorList
	n := 0
	if peer.PodSelector != nil {
		n++
		errs = append(errs, selector(path.Child("podSelector"), peer.PodSelector)...)
	}
	if peer.NamespaceSelector != nil {
		n++
		errs = append(errs, selector(path.Child("namespaceSelector"), peer.NamespaceSelector)...)
	}
	if peer.IPBlock != nil {
		n++
		errs = append(errs, ipBlock(path.Child("ipBlock"), peer.IPBlock)...)
		if n > 1 {
			errs = append(errs, field.Forbidden(path, "may not specify more than 1 peer type when ipBlock is set"))
		}
	}
	if n == 0 {
		errs = append(errs, field.Required(path, "must specify a peer"))
	}
	return errs
}

func ipBlock(path *field.Path, b *networkingv1.IPBlock) field.ErrorList {
	if b.CIDR == "" {
		return field.ErrorList{field.Required(path.Child("cidr"), "")}
	}
	// The API server accepts host bits in ipBlock.cidr (legacy); the network is what counts.
	outer, errs := cidr(path.Child("cidr"), b.CIDR)
	if len(errs) > 0 && outer.IsValid() {
		errs = nil
		outer = outer.Masked()
	}
	if len(errs) > 0 {
		return errs
	}
	for i, e := range b.Except {
		p := path.Child("except").Index(i)
		inner, ierrs := cidr(p, e)
		if len(ierrs) > 0 && inner.IsValid() {
			ierrs = nil
			inner = inner.Masked()
		}
		if len(ierrs) > 0 {
			errs = append(errs, ierrs...)
			continue
		}
		if inner.Addr().Is4() != outer.Addr().Is4() || inner.Bits() <= outer.Bits() || !outer.Contains(inner.Addr()) {
			errs = append(errs, field.Invalid(p, e, fmt.Sprintf("must be a strict subset of `cidr` %s", b.CIDR)))
		}
	}
	return errs
}
