// Package policy is netwarden's semantic core: it compiles cluster state into flat match
// tables once, then decides any connection without I/O or allocation, with the tier, policy
// and rule that decided. Everything else (matrix, explain, lint, diff, the nftables
// dataplane) is built on these decisions; they are the specification of the product.
package policy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Proto is an IP protocol number.
type Proto uint8

// The protocols policies can name, plus ICMP, which only rules without ports match.
const (
	ProtoICMP   Proto = 1
	ProtoTCP    Proto = 6
	ProtoUDP    Proto = 17
	ProtoICMPv6 Proto = 58
	ProtoSCTP   Proto = 132
)

func (p Proto) String() string {
	switch p {
	case ProtoTCP:
		return "TCP"
	case ProtoUDP:
		return "UDP"
	case ProtoSCTP:
		return "SCTP"
	case ProtoICMP:
		return "ICMP"
	case ProtoICMPv6:
		return "ICMPv6"
	case 0:
		return "any"
	}
	return strconv.Itoa(int(p))
}

// ParseProto reads a Kubernetes protocol name (case-insensitive).
func ParseProto(s string) (Proto, error) {
	switch strings.ToUpper(s) {
	case "TCP":
		return ProtoTCP, nil
	case "UDP":
		return ProtoUDP, nil
	case "SCTP":
		return ProtoSCTP, nil
	case "ICMP":
		return ProtoICMP, nil
	case "ICMPV6":
		return ProtoICMPv6, nil
	}
	return 0, fmt.Errorf("unknown protocol %q (want TCP, UDP, SCTP, ICMP or ICMPv6)", s)
}

// Port is what a connection is made to: a protocol and, for TCP, UDP and SCTP, a
// destination port number. ICMP has no port (Num is 0).
type Port struct {
	Proto Proto
	Num   uint16
}

// String prints the NUMBER/PROTOCOL form used by every output ("80/TCP", "ICMP").
func (p Port) String() string {
	if !p.HasPort() {
		return p.Proto.String()
	}
	return strconv.Itoa(int(p.Num)) + "/" + p.Proto.String()
}

// HasPort reports whether the protocol carries port numbers.
func (p Port) HasPort() bool {
	return p.Proto == ProtoTCP || p.Proto == ProtoUDP || p.Proto == ProtoSCTP
}

// ParsePort reads "80/TCP", "53/udp", "80" (TCP) or "ICMP".
func ParsePort(s string) (Port, error) {
	num, proto, found := strings.Cut(s, "/")
	if !found {
		if pr, err := ParseProto(num); err == nil && (pr == ProtoICMP || pr == ProtoICMPv6) {
			return Port{Proto: pr}, nil
		}
		proto = "TCP"
	}
	pr, err := ParseProto(proto)
	if err != nil {
		return Port{}, fmt.Errorf("port %q: %w", s, err)
	}
	if pr == ProtoICMP || pr == ProtoICMPv6 {
		return Port{}, fmt.Errorf("port %q: ICMP has no port number; write just %s", s, pr)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > 65535 {
		return Port{}, fmt.Errorf("port %q: the number must be between 1 and 65535", s)
	}
	return Port{Proto: pr, Num: uint16(n)}, nil
}

// Direction is one side of a connection's check: egress at the source, ingress at the
// destination. A connection passes only when both allow it.
type Direction uint8

const (
	Egress Direction = iota
	Ingress
)

func (d Direction) String() string {
	if d == Ingress {
		return "ingress"
	}
	return "egress"
}

// Tier orders policy evaluation. Admin policies come first, then NetworkPolicies, then
// baseline policies, then the Kubernetes default (allow).
type Tier uint8

const (
	TierAdmin Tier = iota
	TierNetworkPolicy
	TierBaseline
	TierDefault
)

func (t Tier) String() string {
	switch t {
	case TierAdmin:
		return "Admin"
	case TierNetworkPolicy:
		return "NetworkPolicy"
	case TierBaseline:
		return "Baseline"
	}
	return "Default"
}

// Action is what a matching rule does. NetworkPolicy rules always Allow.
type Action uint8

const (
	Allow Action = iota
	Deny
	Pass
)

func (a Action) String() string {
	switch a {
	case Deny:
		return "Deny"
	case Pass:
		return "Pass"
	}
	return "Allow"
}

// Endpoint is one end of a connection: a pod (Pod is its index in Engine.Pods) or an
// address outside the pod network (Pod is -1). IP is the address the connection uses; it
// may be invalid for pods read from manifests, which have no addresses yet, and then
// ipBlock and network peers cannot match the pod.
type Endpoint struct {
	Pod int32
	IP  netip.Addr
}

// External is an endpoint for an address that belongs to no pod. An IPv4-mapped IPv6
// address is its IPv4 address, as on the wire.
func External(ip netip.Addr) Endpoint { return Endpoint{Pod: -1, IP: ip.Unmap()} }

// IsPod reports whether the endpoint is a pod.
func (e Endpoint) IsPod() bool { return e.Pod >= 0 }
