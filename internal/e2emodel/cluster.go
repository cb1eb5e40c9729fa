// Package e2emodel is the Kubernetes NetworkPolicy end-to-end test model, restated for
// netwarden: three namespaces x, y and z, each with pods a, b and c serving ports 80 and 81
// over TCP, UDP and SCTP, and a catalogue of policy cases with the reachability each one
// must produce. The evaluator's tests run every case against the model; the dataplane's
// tests replay the same cases with real packets, so both are held to one truth table.
//
// The package has no dependency on netwarden's evaluator: a case's expected table is
// written by hand from the API's rules, not computed.
package e2emodel

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"

	"github.com/netwarden/netwarden/pkg/model"
)

// Namespaces and PodNames of the model, in table order.
var (
	Namespaces = []string{"x", "y", "z"}
	PodNames   = []string{"a", "b", "c"}
)

// PodCount is the number of pods in the model (3 namespaces × 3 pods).
const PodCount = 9

// ServedPorts are the container ports every pod declares, on TCP, UDP and SCTP each.
var ServedPorts = []int32{80, 81}

// ServedProtocols are the protocols every served port is declared with.
var ServedProtocols = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}

// NodeName is the one node every pod runs on.
const NodeName = "node-1"

// Node addresses, outside every pod range so no pod-oriented CIDR matches them by accident.
var (
	NodeIPv4 = netip.MustParseAddr("10.0.0.1")
	NodeIPv6 = netip.MustParseAddr("fd00::1")
)

// PodKeys returns "namespace/name" of every pod, in table order (x/a, x/b, ..., z/c).
func PodKeys() []string {
	keys := make([]string, 0, PodCount)
	for _, ns := range Namespaces {
		for _, p := range PodNames {
			keys = append(keys, ns+"/"+p)
		}
	}
	return keys
}

// PodIndex returns the table index of a pod key, or -1.
func PodIndex(key string) int {
	for i, k := range PodKeys() {
		if k == key {
			return i
		}
	}
	return -1
}

// PodIP returns a pod's address of family 4 or 6. Namespace x is 10.0.1.0/24 (fd00:0:0:1::/64),
// y 10.0.2.0/24, z 10.0.3.0/24; pods a, b, c are hosts .10, .11, .12 (::a, ::b, ::c), so
// every namespace and every pod is one CIDR away.
func PodIP(index, family int) netip.Addr {
	ns, pod := index/len(PodNames), index%len(PodNames)
	if family == 6 {
		return netip.AddrFrom16([16]byte{0xfd, 0, 0, 0, 0, 0, 0, byte(ns + 1), 14: 0, 15: byte(0xa + pod)})
	}
	return netip.AddrFrom4([4]byte{10, 0, byte(ns + 1), byte(10 + pod)})
}

// PortName is the container port name the model uses: serve-80-tcp, serve-81-sctp, ...
func PortName(port int32, proto corev1.Protocol) string {
	p := map[corev1.Protocol]string{corev1.ProtocolTCP: "tcp", corev1.ProtocolUDP: "udp", corev1.ProtocolSCTP: "sctp"}[proto]
	return fmt.Sprintf("serve-%d-%s", port, p)
}

// Cluster returns the IPv4 model: namespaces, one node and nine pods with addresses.
// Every call returns fresh objects, normalized, so callers may change them.
func Cluster() *model.Cluster { return build(false) }

// DualStackCluster is Cluster with an IPv6 address on every pod (after the IPv4 one) and
// on the node.
func DualStackCluster() *model.Cluster { return build(true) }

func build(dual bool) *model.Cluster {
	c := &model.Cluster{Sources: map[model.Ref]model.Source{}}
	for _, name := range Namespaces {
		ns := &corev1.Namespace{}
		ns.APIVersion, ns.Kind = "v1", model.KindNamespace
		ns.Name = name
		ns.Labels = map[string]string{"ns": name, model.NamespaceNameLabel: name}
		c.Namespaces = append(c.Namespaces, ns)
	}
	node := &corev1.Node{}
	node.APIVersion, node.Kind = "v1", model.KindNode
	node.Name = NodeName
	node.Labels = map[string]string{"kubernetes.io/hostname": NodeName}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: NodeIPv4.String()}}
	if dual {
		node.Status.Addresses = append(node.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: NodeIPv6.String()})
	}
	c.Nodes = append(c.Nodes, node)
	for i := range PodCount {
		ns, name := Namespaces[i/len(PodNames)], PodNames[i%len(PodNames)]
		pod := &corev1.Pod{}
		pod.APIVersion, pod.Kind = "v1", model.KindPod
		pod.Namespace, pod.Name = ns, name
		pod.Labels = map[string]string{"pod": name}
		pod.Spec.NodeName = NodeName
		for _, port := range ServedPorts {
			for _, proto := range ServedProtocols {
				pn := PortName(port, proto)
				pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{
					Name:  "cont-" + pn[len("serve-"):],
					Image: "registry.k8s.io/e2e-test-images/agnhost:2.53",
					Ports: []corev1.ContainerPort{{Name: pn, ContainerPort: port, Protocol: proto}},
				})
			}
		}
		pod.Status.Phase = corev1.PodRunning
		ips := []netip.Addr{PodIP(i, 4)}
		if dual {
			ips = append(ips, PodIP(i, 6))
		}
		pod.Status.PodIP = ips[0].String()
		for _, ip := range ips {
			pod.Status.PodIPs = append(pod.Status.PodIPs, corev1.PodIP{IP: ip.String()})
		}
		c.Pods = append(c.Pods, pod)
	}
	c.Normalize()
	return c
}
