package flowlog

import (
	"strings"
	"testing"
	"time"
)

func TestRecordText(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 0, 0, 123e6, time.Local)
	pod := func(key string) Endpoint {
		ns, _, _ := strings.Cut(key, "/")
		return Endpoint{IP: "10.0.1.1", Pod: key, Namespace: ns}
	}
	zero := 0
	for _, tc := range []struct {
		name string
		r    Record
		want string
	}{
		{"a denial between pods names both and the port",
			Record{Time: at, Verdict: "deny", Direction: "ingress", Protocol: "TCP", Port: 5432, Src: pod("prod/web"), Dst: pod("prod/db"),
				Reason: "isolated by NetworkPolicy prod/default-deny; nothing allowed it"},
			"10:00:00.123 DENY   TCP prod/web -> prod/db:5432 ingress  isolated by NetworkPolicy prod/default-deny; nothing allowed it"},
		{"a bare IPv6 address is bracketed before its port",
			Record{Time: at, Verdict: "allow", Direction: "egress", Protocol: "UDP", Port: 53, Src: pod("prod/db"), Dst: Endpoint{IP: "2001:db8::53"},
				Reason: "no policy decided", Audit: &Audit{Verdict: "deny", Rule: &zero, Reason: "would be isolated by NetworkPolicy prod/x; nothing would allow it"}},
			"10:00:00.123 ALLOW  UDP prod/db -> [2001:db8::53]:53 egress   no policy decided; audit: would be isolated by NetworkPolicy prod/x; nothing would allow it"},
		{"ICMP shows its type; a node is node/NAME; staleness is said",
			Record{Time: at, Verdict: "deny", Direction: "egress", Protocol: "ICMP", ICMP: &ICMP{Type: 8}, Src: pod("staging/app"), Dst: Endpoint{IP: "10.0.0.1", Node: "node-a"},
				Reason: "denied by X", Stale: true},
			"10:00:00.123 DENY   ICMP staging/app -> node/node-a type 8 egress   denied by X (stale: the policies in force now decide it otherwise)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.Text(); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
