package flowlog

import (
	"testing"
	"time"
)

// FuzzParsePacket: any bytes parse or give an error, never a panic, and what parses
// has valid addresses of one family.
func FuzzParsePacket(f *testing.F) {
	f.Add(ipv4(6, "10.0.1.10", "10.0.1.20", 0, 0, ports(40000, 5432)))
	f.Add(ipv6(ipv6HopByHop, "fd00::10", "fd00::20", cat(ext(ipv6Fragment), ext(17), ports(1, 53))))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParsePacket(b)
		if err != nil {
			return
		}
		if !h.Src.IsValid() || !h.Dst.IsValid() || h.Src.Is4() != h.Dst.Is4() {
			t.Fatalf("parsed addresses %v %v", h.Src, h.Dst)
		}
	})
}

// FuzzParseMessage: any NFLOG message body parses or gives an error, never a panic.
func FuzzParseMessage(f *testing.F) {
	seq := uint32(7)
	f.Add(logMessage(f, 27, "nw:d:acct_x", ipv4(17, "10.77.0.1", "10.77.0.9", 0, 0, ports(1, 2)), &seq, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseMessage(b, time.Time{})
	})
}
