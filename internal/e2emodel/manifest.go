package e2emodel

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// The helpers below keep the case catalogue short: a case writes only each policy's spec,
// indented with tabs like the Go code around it.

func netpol(ns, name, spec string) string {
	return "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: \"" + name + "\", namespace: \"" + ns + "\"}\nspec:\n" + block(spec)
}

func anp(name, spec string) string {
	return "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: " + name + "}\nspec:\n" + block(spec)
}

// banp is the BaselineAdminNetworkPolicy; the API allows only one, named default.
func banp(spec string) string {
	return "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec:\n" + block(spec)
}

func cnp(name, spec string) string {
	return "apiVersion: policy.networking.k8s.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {name: " + name + "}\nspec:\n" + block(spec)
}

func docs(ds ...string) string { return strings.Join(ds, "\n---\n") }

// block removes the common leading tabs of s, turns the remaining ones into YAML
// indentation, and indents the result under a "spec:" key.
func block(s string) string {
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	common := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, "\t"))
		if common < 0 || n < common {
			common = n
		}
	}
	var b strings.Builder
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		l = l[common:]
		n := len(l) - len(strings.TrimLeft(l, "\t"))
		b.WriteString("  " + strings.Repeat("  ", n) + l[n:] + "\n")
	}
	return b.String()
}

func tcp(port int32, want Table) Probe {
	return Probe{Protocol: corev1.ProtocolTCP, Port: port, Want: want}
}
func udp(port int32, want Table) Probe {
	return Probe{Protocol: corev1.ProtocolUDP, Port: port, Want: want}
}
func sctp(port int32, want Table) Probe {
	return Probe{Protocol: corev1.ProtocolSCTP, Port: port, Want: want}
}
func icmp(want Table) Probe { return Probe{Protocol: ProtocolICMP, Want: want} }
