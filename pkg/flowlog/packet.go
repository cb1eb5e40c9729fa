package flowlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/netwarden/netwarden/pkg/policy"
)

// Header is what a flow record needs of a logged packet: the addresses, the transport
// protocol after any IPv6 extension headers, and the ports or the ICMP type.
type Header struct {
	Src, Dst netip.Addr
	// Proto is the IP protocol number of the transport header.
	Proto policy.Proto
	// SrcPort and DstPort are set for TCP, UDP and SCTP.
	SrcPort, DstPort uint16
	// ICMPType and ICMPCode are set for ICMP and ICMPv6.
	ICMPType, ICMPCode uint8
	// Fragment marks a fragment other than the first: it carries no transport header,
	// so ports and ICMP type are unknown.
	Fragment bool
}

// Port is the header as the policy engine decides it: the protocol and destination port.
func (h Header) Port() policy.Port {
	p := policy.Port{Proto: h.Proto}
	if p.HasPort() {
		p.Num = h.DstPort
	}
	return p
}

// ErrTruncated: the packet ends before a header it announces. The NFLOG copy range cuts
// payloads, so a reader must expect it; 128 bytes hold every header the parser reads.
var ErrTruncated = errors.New("packet truncated")

// IPv6 extension headers the parser walks to reach the transport header.
const (
	ipv6HopByHop = 0
	ipv6Routing  = 43
	ipv6Fragment = 44
	ipv6ESP      = 50
	ipv6AH       = 51
	ipv6NoNext   = 59
	ipv6DestOpts = 60
	ipv6Mobility = 135
	// maxExtHeaders bounds the walk; real packets have a handful at most.
	maxExtHeaders = 16
)

// ParsePacket reads a packet starting at its IP header (what NFLOG hands out for the
// inet, ip and ip6 families). It never panics: any input either parses or gives an error.
func ParsePacket(b []byte) (Header, error) {
	if len(b) < 1 {
		return Header{}, ErrTruncated
	}
	switch b[0] >> 4 {
	case 4:
		return parseIPv4(b)
	case 6:
		return parseIPv6(b)
	}
	return Header{}, fmt.Errorf("not an IP packet (version %d)", b[0]>>4)
}

func parseIPv4(b []byte) (Header, error) {
	if len(b) < 20 {
		return Header{}, ErrTruncated
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 {
		return Header{}, fmt.Errorf("IPv4 header length %d is below 20", ihl)
	}
	if len(b) < ihl {
		return Header{}, ErrTruncated
	}
	h := Header{
		Src:   netip.AddrFrom4([4]byte(b[12:16])),
		Dst:   netip.AddrFrom4([4]byte(b[16:20])),
		Proto: policy.Proto(b[9]),
	}
	if binary.BigEndian.Uint16(b[6:8])&0x1fff != 0 {
		h.Fragment = true
		return h, nil
	}
	return h, h.transport(b[ihl:])
}

func parseIPv6(b []byte) (Header, error) {
	if len(b) < 40 {
		return Header{}, ErrTruncated
	}
	h := Header{
		Src: netip.AddrFrom16([16]byte(b[8:24])),
		Dst: netip.AddrFrom16([16]byte(b[24:40])),
	}
	next, rest := b[6], b[40:]
	for range maxExtHeaders {
		switch next {
		case ipv6HopByHop, ipv6Routing, ipv6DestOpts, ipv6Mobility:
			if len(rest) < 8 {
				return h, ErrTruncated
			}
			n := (int(rest[1]) + 1) * 8
			if len(rest) < n {
				return h, ErrTruncated
			}
			next, rest = rest[0], rest[n:]
		case ipv6AH:
			if len(rest) < 8 {
				return h, ErrTruncated
			}
			n := (int(rest[1]) + 2) * 4
			if len(rest) < n {
				return h, ErrTruncated
			}
			next, rest = rest[0], rest[n:]
		case ipv6Fragment:
			if len(rest) < 8 {
				return h, ErrTruncated
			}
			if binary.BigEndian.Uint16(rest[2:4])>>3 != 0 {
				h.Proto, h.Fragment = policy.Proto(rest[0]), true
				return h, nil
			}
			next, rest = rest[0], rest[8:]
		default:
			h.Proto = policy.Proto(next)
			return h, h.transport(rest)
		}
	}
	return h, fmt.Errorf("more than %d IPv6 extension headers", maxExtHeaders)
}

// transport reads the ports or ICMP type from the transport header. Protocols without
// either (ESP, GRE, no next header, ...) leave them zero.
func (h *Header) transport(b []byte) error {
	switch h.Proto {
	case policy.ProtoTCP, policy.ProtoUDP, policy.ProtoSCTP:
		if len(b) < 4 {
			return ErrTruncated
		}
		h.SrcPort = binary.BigEndian.Uint16(b[0:2])
		h.DstPort = binary.BigEndian.Uint16(b[2:4])
	case policy.ProtoICMP, policy.ProtoICMPv6:
		if len(b) < 2 {
			return ErrTruncated
		}
		h.ICMPType, h.ICMPCode = b[0], b[1]
	}
	return nil
}
