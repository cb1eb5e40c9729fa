package flowlog

import (
	"net/netip"
	"strconv"
	"strings"
)

// Text is the record as one line for people:
//
//	10:00:00.123 DENY   TCP prod/web -> prod/db:5432 ingress  isolated by NetworkPolicy prod/default-deny; nothing allowed it
//
// The time is in the local zone; the audit part and staleness follow the reason.
func (r *Record) Text() string {
	var b strings.Builder
	b.WriteString(r.Time.Local().Format("15:04:05.000"))
	b.WriteByte(' ')
	pad(&b, strings.ToUpper(r.Verdict), 6)
	b.WriteByte(' ')
	b.WriteString(r.Protocol)
	b.WriteByte(' ')
	b.WriteString(r.Src.String())
	b.WriteString(" -> ")
	dst := r.Dst.String()
	if r.Port != 0 {
		if dst == r.Dst.IP {
			if a, err := netip.ParseAddr(dst); err == nil {
				dst = netip.AddrPortFrom(a, r.Port).String()
			}
		} else {
			dst += ":" + strconv.Itoa(int(r.Port))
		}
	}
	b.WriteString(dst)
	if r.ICMP != nil {
		b.WriteString(" type " + strconv.Itoa(int(r.ICMP.Type)))
	}
	b.WriteByte(' ')
	pad(&b, r.Direction, 8)
	b.WriteByte(' ')
	b.WriteString(r.Reason)
	if r.Audit != nil {
		b.WriteString("; audit: " + r.Audit.Reason)
	}
	if r.Stale {
		b.WriteString(" (stale: the policies in force now decide it otherwise)")
	}
	return b.String()
}

func pad(b *strings.Builder, s string, n int) {
	b.WriteString(s)
	for i := len(s); i < n; i++ {
		b.WriteByte(' ')
	}
}
