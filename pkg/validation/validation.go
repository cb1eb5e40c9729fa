// Package validation checks objects the way the API server (for built-in kinds) and the
// network-policy-api CRD schemas (for the admin kinds) would, so that manifests refused by a
// cluster are refused here too, with the same field paths.
package validation

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var selectorOpts = metav1validation.LabelSelectorValidationOptions{}

func objectMeta(m *metav1.ObjectMeta, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("metadata")
	if m.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), "every object needs a name"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(m.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), m.Name, msg))
		}
	}
	if namespaced && m.Namespace != "" {
		for _, msg := range validation.IsDNS1123Label(m.Namespace) {
			errs = append(errs, field.Invalid(p.Child("namespace"), m.Namespace, msg))
		}
	}
	errs = append(errs, metav1validation.ValidateLabels(m.Labels, p.Child("labels"))...)
	return errs
}

// Namespace validates a Namespace: names are DNS-1123 labels.
func Namespace(ns *corev1.Namespace) field.ErrorList {
	errs := objectMeta(&ns.ObjectMeta, false)
	if ns.Name != "" {
		for _, msg := range validation.IsDNS1123Label(ns.Name) {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), ns.Name, msg))
		}
	}
	return errs
}

// Node validates the parts of a Node that policies read: labels and addresses.
func Node(n *corev1.Node) field.ErrorList {
	errs := objectMeta(&n.ObjectMeta, false)
	for i, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP || a.Type == corev1.NodeExternalIP {
			if _, err := netip.ParseAddr(a.Address); err != nil {
				errs = append(errs, field.Invalid(field.NewPath("status", "addresses").Index(i).Child("address"), a.Address, "must be a valid IP address"))
			}
		}
	}
	return errs
}

// Pod validates what decides a pod's connectivity: labels, container ports and IPs.
func Pod(p *corev1.Pod) field.ErrorList {
	errs := objectMeta(&p.ObjectMeta, true)
	spec := field.NewPath("spec")
	check := func(path *field.Path, cs []corev1.Container) {
		for i, c := range cs {
			for j, port := range c.Ports {
				pp := path.Index(i).Child("ports").Index(j)
				if port.Name != "" {
					for _, msg := range validation.IsValidPortName(port.Name) {
						errs = append(errs, field.Invalid(pp.Child("name"), port.Name, msg))
					}
				}
				for _, msg := range validation.IsValidPortNum(int(port.ContainerPort)) {
					errs = append(errs, field.Invalid(pp.Child("containerPort"), port.ContainerPort, msg))
				}
				if port.Protocol != "" {
					errs = append(errs, protocol(pp.Child("protocol"), port.Protocol)...)
				}
			}
		}
	}
	check(spec.Child("initContainers"), p.Spec.InitContainers)
	check(spec.Child("containers"), p.Spec.Containers)
	if p.Status.PodIP != "" {
		if _, err := netip.ParseAddr(p.Status.PodIP); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("status", "podIP"), p.Status.PodIP, "must be a valid IP address"))
		}
	}
	for i, ip := range p.Status.PodIPs {
		if _, err := netip.ParseAddr(ip.IP); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("status", "podIPs").Index(i).Child("ip"), ip.IP, "must be a valid IP address"))
		}
	}
	return errs
}

var protocols = []string{string(corev1.ProtocolTCP), string(corev1.ProtocolUDP), string(corev1.ProtocolSCTP)}

func protocol(path *field.Path, p corev1.Protocol) field.ErrorList {
	switch p {
	case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		return nil
	}
	return field.ErrorList{field.NotSupported(path, p, protocols)}
}

func selector(path *field.Path, s *metav1.LabelSelector) field.ErrorList {
	return metav1validation.ValidateLabelSelector(s, selectorOpts, path)
}

func portNumber(path *field.Path, n int32) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsValidPortNum(int(n)) {
		errs = append(errs, field.Invalid(path, n, msg))
	}
	return errs
}

// cidr parses a CIDR in the canonical form the API requires (no host bits set).
func cidr(path *field.Path, s string) (netip.Prefix, field.ErrorList) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, field.ErrorList{field.Invalid(path, s, "must be a valid CIDR, e.g. 10.0.0.0/8 or fd00::/8")}
	}
	if p.Masked() != p {
		return p, field.ErrorList{field.Invalid(path, s, fmt.Sprintf("must not have host bits set (did you mean %s?)", p.Masked()))}
	}
	return p, nil
}
