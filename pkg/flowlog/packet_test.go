package flowlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/mdlayher/netlink"

	"github.com/netwarden/netwarden/pkg/policy"
)

// ipv4 builds an IPv4 packet: a 20-byte header plus options words of options, then l4.
func ipv4(proto byte, src, dst string, options int, fragOff uint16, l4 []byte) []byte {
	ihl := 5 + options
	b := make([]byte, ihl*4, ihl*4+len(l4))
	b[0] = 0x40 | byte(ihl)
	binary.BigEndian.PutUint16(b[6:8], fragOff)
	b[8], b[9] = 64, proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	return append(b, l4...)
}

// ipv6 builds an IPv6 packet whose header chain is next, then rest.
func ipv6(next byte, src, dst string, rest []byte) []byte {
	b := make([]byte, 40, 40+len(rest))
	b[0] = 0x60
	b[6], b[7] = next, 64
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	return append(b, rest...)
}

func ports(sp, dp uint16) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint16(b, sp)
	binary.BigEndian.PutUint16(b[2:], dp)
	return b
}

// ext is an IPv6 extension header of 8 bytes: next header, length 0.
func ext(next byte) []byte { return []byte{next, 0, 0, 0, 0, 0, 0, 0} }

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func TestParsePacket(t *testing.T) {
	const s4, d4, s6, d6 = "10.0.1.10", "10.0.1.20", "fd00::10", "fd00::20"
	fragHdr := func(next byte, offset uint16) []byte {
		b := ext(next)
		binary.BigEndian.PutUint16(b[2:4], offset<<3)
		return b
	}
	var tooMany []byte
	for range maxExtHeaders + 1 {
		tooMany = append(tooMany, ext(ipv6HopByHop)...)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want string // the header, or the error
	}{
		{"IPv4 TCP gives both ports", ipv4(6, s4, d4, 0, 0, ports(40000, 5432)), "10.0.1.10:40000 -> 10.0.1.20:5432 TCP"},
		{"IPv4 UDP", ipv4(17, s4, d4, 0, 0, ports(5353, 53)), "10.0.1.10:5353 -> 10.0.1.20:53 UDP"},
		{"IPv4 SCTP", ipv4(132, s4, d4, 0, 0, ports(1, 9899)), "10.0.1.10:1 -> 10.0.1.20:9899 SCTP"},
		{"IPv4 ICMP gives type and code", ipv4(1, s4, d4, 0, 0, []byte{8, 0, 0, 0}), "10.0.1.10 -> 10.0.1.20 ICMP type 8 code 0"},
		{"IPv4 options are skipped by the header length", ipv4(6, s4, d4, 2, 0, ports(1, 80)), "10.0.1.10:1 -> 10.0.1.20:80 TCP"},
		{"an IPv4 fragment past the first has no transport header", ipv4(6, s4, d4, 0, 185, []byte{1, 2}), "10.0.1.10 -> 10.0.1.20 TCP fragment"},
		{"IPv4 without ports for other protocols", ipv4(47, s4, d4, 0, 0, nil), "10.0.1.10 -> 10.0.1.20 47"},
		{"IPv6 TCP", ipv6(6, s6, d6, ports(40000, 443)), "[fd00::10]:40000 -> [fd00::20]:443 TCP"},
		{"IPv6 ICMPv6", ipv6(58, s6, d6, []byte{128, 0, 0, 0}), "fd00::10 -> fd00::20 ICMPv6 type 128 code 0"},
		{"IPv6 extension headers are walked to the transport header", ipv6(ipv6HopByHop, s6, d6, cat(ext(ipv6DestOpts), ext(ipv6Routing), ext(17), ports(1, 53))), "[fd00::10]:1 -> [fd00::20]:53 UDP"},
		{"an IPv6 authentication header counts in 4-byte words", ipv6(ipv6AH, s6, d6, cat([]byte{6, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, ports(2, 22))), "[fd00::10]:2 -> [fd00::20]:22 TCP"},
		{"the first IPv6 fragment has the ports", ipv6(ipv6Fragment, s6, d6, cat(fragHdr(17, 0), ports(1, 53))), "[fd00::10]:1 -> [fd00::20]:53 UDP"},
		{"a later IPv6 fragment has none", ipv6(ipv6Fragment, s6, d6, cat(fragHdr(17, 100), []byte{9, 9, 9, 9})), "fd00::10 -> fd00::20 UDP fragment"},
		{"ESP ends the walk without ports", ipv6(ipv6ESP, s6, d6, []byte{1, 2, 3, 4}), "fd00::10 -> fd00::20 50"},
		{"nothing at all is truncated", nil, "error: packet truncated"},
		{"a short IPv4 header is truncated", ipv4(6, s4, d4, 0, 0, nil)[:19], "error: packet truncated"},
		{"IPv4 options past the end are truncated", ipv4(6, s4, d4, 2, 0, nil)[:24], "error: packet truncated"},
		{"TCP ports cut by the copy range are truncated", ipv4(6, s4, d4, 0, 0, []byte{1, 2}), "error: packet truncated"},
		{"a header length below 20 is refused", append([]byte{0x44}, make([]byte, 30)...), "error: IPv4 header length 16 is below 20"},
		{"a short IPv6 header is truncated", ipv6(6, s6, d6, nil)[:39], "error: packet truncated"},
		{"an IPv6 extension header past the end is truncated", ipv6(ipv6HopByHop, s6, d6, []byte{6, 3, 0, 0, 0, 0, 0, 0}), "error: packet truncated"},
		{"endless IPv6 extension headers are refused", ipv6(ipv6HopByHop, s6, d6, tooMany), "error: more than 16 IPv6 extension headers"},
		{"other IP versions are refused", []byte{0x50, 1, 2, 3}, "error: not an IP packet (version 5)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ParsePacket(tc.b)
			got := headerText(h)
			if err != nil {
				got = "error: " + err.Error()
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func headerText(h Header) string {
	suffix := ""
	if h.Fragment {
		suffix = " fragment"
	}
	switch {
	case h.Port().HasPort() && !h.Fragment:
		return fmt.Sprintf("%s -> %s %s", netip.AddrPortFrom(h.Src, h.SrcPort), netip.AddrPortFrom(h.Dst, h.DstPort), h.Proto)
	case (h.Proto == policy.ProtoICMP || h.Proto == policy.ProtoICMPv6) && !h.Fragment:
		return fmt.Sprintf("%s -> %s %s type %d code %d", h.Src, h.Dst, h.Proto, h.ICMPType, h.ICMPCode)
	}
	return fmt.Sprintf("%s -> %s %s%s", h.Src, h.Dst, h.Proto, suffix)
}

// logMessage builds an NFULNL_MSG_PACKET body as the kernel sends it.
func logMessage(t testing.TB, group uint16, prefix string, payload []byte, seq *uint32, ts *time.Time) []byte {
	ae := netlink.NewAttributeEncoder()
	ae.ByteOrder = binary.BigEndian
	ae.Bytes(1, []byte{0x08, 0x00, 3, 0}) // NFULA_PACKET_HDR: IPv4, hook output
	if ts != nil {
		b := make([]byte, 16)
		binary.BigEndian.PutUint64(b, uint64(ts.Unix()))
		binary.BigEndian.PutUint64(b[8:], uint64(ts.Nanosecond()/1e3))
		ae.Bytes(attrTimestamp, b)
	}
	if payload != nil {
		ae.Bytes(attrPayload, payload)
	}
	if prefix != "" {
		ae.Bytes(attrPrefix, append([]byte(prefix), 0))
	}
	if seq != nil {
		ae.Uint32(attrSeq, *seq)
	}
	attrs, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	hdr := []byte{2, 0, 0, 0} // AF_INET, version 0, group
	binary.BigEndian.PutUint16(hdr[2:], group)
	return append(hdr, attrs...)
}

func TestParseMessage(t *testing.T) {
	received := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	stamped := time.Date(2026, 12, 3, 9, 59, 59, 250000e3, time.UTC)
	seq := uint32(41)
	pkt := ipv4(17, "10.77.0.1", "10.77.0.9", 0, 0, ports(1234, 40000))
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"prefix, payload and sequence number are read; the receive time stands in for a missing stamp",
			logMessage(t, 27, "nw:d:acct_x", pkt, &seq, nil), "group 27 nw:d:acct_x seq 41 2026-12-03T10:00:00Z 10.77.0.1:1234 -> 10.77.0.9:40000 UDP"},
		{"the kernel's timestamp wins when present",
			logMessage(t, 27, "nw:a:ingress", pkt, nil, &stamped), "group 27 nw:a:ingress no seq 2026-12-03T09:59:59.25Z 10.77.0.1:1234 -> 10.77.0.9:40000 UDP"},
		{"a message without payload is an error", logMessage(t, 27, "nw:d:x", nil, nil, nil), "error: log message without a packet payload"},
		{"a message shorter than its header is truncated", []byte{2, 0}, "error: log message of 2 bytes: packet truncated"},
		{"a bad payload is an error", logMessage(t, 27, "nw:d:x", []byte{0x45}, nil, nil), "error: packet truncated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := parseMessage(tc.data, received)
			var got string
			if err != nil {
				got = "error: " + err.Error()
			} else {
				s := "no seq"
				if m.HasSeq {
					s = fmt.Sprint("seq ", m.Seq)
				}
				got = fmt.Sprintf("group %d %s %s %s %s", m.Group, m.Prefix, s, m.Time.UTC().Format(time.RFC3339Nano), headerText(m.Packet))
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestConfigMessage(t *testing.T) {
	m := configMessage(2718)
	if m.Header.Type != 0x0401 || m.Header.Flags != netlink.Request|netlink.Acknowledge {
		t.Errorf("type %#x flags %v", m.Header.Type, m.Header.Flags)
	}
	if g := binary.BigEndian.Uint16(m.Data[2:4]); g != 2718 || m.Data[0] != 0 || m.Data[1] != 0 {
		t.Errorf("nfgenmsg % x", m.Data[:4])
	}
	ad, err := netlink.NewAttributeDecoder(m.Data[4:])
	if err != nil {
		t.Fatal(err)
	}
	ad.ByteOrder = binary.BigEndian
	got := map[uint16][]byte{}
	for ad.Next() {
		got[ad.Type()] = ad.Bytes()
	}
	want := map[uint16]string{
		attrCfgCmd:   "01",
		attrCfgMode:  "000000800200", // copy 128 bytes of the packet
		attrCfgBuf:   "00010000",
		attrCfgTime:  "00000005",
		attrCfgQueue: "00000010",
		attrCfgFlags: "0001",
	}
	for k, v := range want {
		if s := fmt.Sprintf("%x", got[k]); s != v {
			t.Errorf("attribute %d = %s, want %s", k, s, v)
		}
	}
	if errors.Is(ad.Err(), nil) && len(got) != len(want) {
		t.Errorf("%d attributes, want %d", len(got), len(want))
	}
}
