package testbed

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/netwarden/netwarden/pkg/policy"
)

// Mode is how pods are wired to their node.
type Mode string

const (
	// Routed gives each pod a /32 (and /128) route on the node side of its veth, with the
	// gateway address on every node-side veth (the ptp/kindnet way).
	Routed Mode = "routed"
	// Bridged puts every node-side veth in a Linux bridge that holds the gateway address,
	// with bridge netfilter on, so the inet forward hook sees bridged traffic.
	Bridged Mode = "bridge"
)

// ParseMode reads a mode name.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case Routed, "":
		return Routed, nil
	case Bridged, "bridged":
		return Bridged, nil
	}
	return "", fmt.Errorf("unknown mode %q (want routed or bridge)", s)
}

// Spec is the cluster to build: nodes, and pods with their addresses and listening ports.
// Plan derives one from cluster state; tests may write one by hand.
type Spec struct {
	Mode Mode
	// Families are the IP families every pod and node gets an address of (4, 6 or both),
	// in this order.
	Families []int
	Nodes    []Node
	Pods     []Pod
}

// Node is one emulated node.
type Node struct {
	Name string
	// IPs are the node's addresses on the fabric that links nodes (one per family).
	IPs []netip.Addr
	// PodCIDRs are the node's pod ranges (one per family).
	PodCIDRs []netip.Prefix
}

// Pod is one emulated pod.
type Pod struct {
	// Key is "namespace/name", as policy.PodInfo.Key.
	Key  string
	Node int
	// HostNetwork pods live in their node's namespace and have its addresses.
	HostNetwork bool
	IPs         []netip.Addr
	// Ports are served: TCP and SCTP accept connections, UDP echoes each datagram.
	Ports []policy.Port
}

// Limits of the address plan below (Plan's; a hand-written Spec may use any addresses).
const (
	maxNodes       = 250
	maxPodsPerNode = 250
)

// The address plan. Everything is private and exists only inside the testbed's
// namespaces: node i has pods in 10.244.i.0/24 and fd00:10:244:i::/64, and the address
// 172.18.0.(i+2) / fd00:172:18::(i+2) on the fabric that links nodes.
func podCIDR(node, family int) netip.Prefix {
	if family == 6 {
		return netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 0, 0, 0x10, 0x02, 0x44, 0, byte(node)}), 64)
	}
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 244, byte(node), 0}), 24)
}

// podAddr is the slot-th address of a node's pod range; slot 1 is the gateway.
func podAddr(node, slot, family int) netip.Addr {
	a := podCIDR(node, family).Addr().As16()
	if family == 4 {
		return netip.AddrFrom4([4]byte{10, 244, byte(node), byte(slot)})
	}
	a[14], a[15] = byte(slot>>8), byte(slot)
	return netip.AddrFrom16(a)
}

func nodeAddr(node, family int) netip.Addr {
	if family == 6 {
		return netip.AddrFrom16([16]byte{0xfd, 0, 0x01, 0x72, 0, 0x18, 14: 0, 15: byte(node + 2)})
	}
	return netip.AddrFrom4([4]byte{172, 18, 0, byte(node + 2)})
}

// The gateway every pod routes through when its address is not in its node's pod range
// (routed mode, or addresses kept from the input): a link-local address carried by the
// node side of every pod link, as Calico does with 169.254.1.1.
var (
	linkGateway4 = netip.MustParseAddr("169.254.1.1")
	linkGateway6 = netip.MustParseAddr("fe80::1")
)

func linkGateway(family int) netip.Addr {
	if family == 6 {
		return linkGateway6
	}
	return linkGateway4
}

// podPrefix is the node's pod range of family that holds ip, if any.
func (n *Node) podPrefix(ip netip.Addr) (netip.Prefix, bool) {
	for _, p := range n.PodCIDRs {
		if p.Contains(ip) {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// bridgeGateway is the address a node's bridge carries for its pod range p: the range's
// first host.
func bridgeGateway(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }

// addressFor returns a node's or a pod's address of family, if it has one.
func addressFor(ips []netip.Addr, family int) (netip.Addr, bool) {
	for _, ip := range ips {
		if ip.Is4() == (family == 4) {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

func (s *Spec) check() error {
	if len(s.Nodes) == 0 {
		return fmt.Errorf("testbed: no nodes")
	}
	if len(s.Nodes) > maxNodes {
		return fmt.Errorf("testbed: %d nodes; the address plan holds at most %d", len(s.Nodes), maxNodes)
	}
	if len(s.Families) == 0 {
		return fmt.Errorf("testbed: no IP family")
	}
	for _, f := range s.Families {
		if f != 4 && f != 6 {
			return fmt.Errorf("testbed: IP family %d (want 4 or 6)", f)
		}
	}
	if s.Mode != Routed && s.Mode != Bridged {
		return fmt.Errorf("testbed: unknown mode %q", s.Mode)
	}
	seen := map[netip.Addr]string{}
	for _, n := range s.Nodes {
		for _, f := range s.Families {
			ip, ok := addressFor(n.IPs, f)
			if !ok {
				return fmt.Errorf("testbed: node %s has no IPv%d address", n.Name, f)
			}
			if other, dup := seen[ip]; dup {
				return fmt.Errorf("testbed: nodes %s and %s both have address %s", other, n.Name, ip)
			}
			seen[ip] = "node " + n.Name
		}
	}
	for _, p := range s.Pods {
		if p.Node < 0 || p.Node >= len(s.Nodes) {
			return fmt.Errorf("testbed: pod %s is on node %d, which does not exist", p.Key, p.Node)
		}
		if p.HostNetwork {
			continue
		}
		for _, f := range s.Families {
			ip, ok := addressFor(p.IPs, f)
			if !ok {
				return fmt.Errorf("testbed: pod %s has no IPv%d address", p.Key, f)
			}
			if !ip.IsGlobalUnicast() || ip == linkGateway(f) {
				return fmt.Errorf("testbed: pod %s address %s cannot be used (want a unicast address)", p.Key, ip)
			}
			if pr, ok := s.Nodes[p.Node].podPrefix(ip); ok && ip == bridgeGateway(pr) {
				return fmt.Errorf("testbed: pod %s address %s is its node's gateway", p.Key, ip)
			}
			for j := range s.Nodes {
				if _, ok := s.Nodes[j].podPrefix(ip); ok && j != p.Node {
					return fmt.Errorf("testbed: pod %s on node %s has address %s, in node %s's pod range", p.Key, s.Nodes[p.Node].Name, ip, s.Nodes[j].Name)
				}
			}
			if other, dup := seen[ip]; dup {
				return fmt.Errorf("testbed: pods %s and %s both have address %s", other, p.Key, ip)
			}
			seen[ip] = p.Key
		}
	}
	return nil
}

// families returns the families in order, defaulting to IPv4.
func families(fs []int) []int {
	if len(fs) == 0 {
		return []int{4}
	}
	out := slices.Clone(fs)
	slices.Sort(out)
	return slices.Compact(out)
}
