package dataplane

import (
	"strings"
	"testing"

	"github.com/netwarden/netwarden/pkg/policy"
)

func TestRuleText(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Rule
		want string
	}{
		{"conntrack states print in nft's order", rule().ctState(ctRelated | ctEstablished).accept(), "ct state established,related accept"},
		{"an IPv4 source address set", rule().addr(Saddr, IPv4, "peers").ret(), "ip saddr @peers return"},
		{"an IPv6 destination address set", rule().addr(Daddr, IPv6, "peers").drop(), "ip6 daddr @peers drop"},
		{"one port", rule().dport(policy.ProtoTCP, 80, 80).ret(), "tcp dport 80 return"},
		{"a port range", rule().dport(policy.ProtoUDP, 8000, 9000).ret(), "udp dport 8000-9000 return"},
		{"every port of a protocol is the protocol alone", rule().dport(policy.ProtoSCTP, 0, 65535).ret(), "meta l4proto sctp return"},
		{"address, protocol and port in a set", rule().tuple(Daddr, IPv4, "named").ret(), "ip daddr . meta l4proto . th dport @named return"},
		{"source and destination in a set", rule().pair(IPv6, "self").accept(), "ip6 saddr . ip6 daddr @self accept"},
		{"ICMPv6 types", rule().icmpv6Type(133, 136).accept(), "icmpv6 type 133-136 accept"},
		{"a verdict map", rule().vmap(Daddr, IPv4, "ingress4"), "ip daddr vmap @ingress4"},
		{"a verdict map keyed by address, protocol and port", rule().tupleVmap(Saddr, IPv6, "m"), "ip6 saddr . meta l4proto . th dport vmap @m"},
		{"a port range before a verdict map", rule().dport(policy.ProtoUDP, 50, 60).vmap(Saddr, IPv4, "m"), "udp dport 50-60 ip saddr vmap @m"},
		{"a named counter", rule().count("acct_x"), `counter name "acct_x"`},
		{"a limited log", rule().log(LogOptions{Group: 7}, LogDeny, "acct_x").drop(), `limit name "log_limit" log prefix "nw:d:acct_x" group 7 drop`},
		{"a map lookup is not unconditional", rule().vmap(Daddr, IPv4, "m"), "ip daddr vmap @m"},
		{"goto", rule().goTo("in-x"), "goto in-x"},
		{"comments are quoted", rule().drop().note("NetworkPolicy a/b ingress[0]"), `drop comment "NetworkPolicy a/b ingress[0]"`},
		{"comments lose what nft cannot take", rule().drop().note(`say "hi"`), `drop comment "say _hi_"`},
		{"long comments are cut to nft's limit", rule().drop().note(strings.Repeat("x", 200)), `drop comment "` + strings.Repeat("x", maxComment-4) + `..."`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.String(); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			if tc.r.verdict.Kind == VMap && tc.r.Unconditional() {
				t.Fatalf("%s decides every packet, yet it decides only the keys its map holds", tc.r)
			}
		})
	}
}

func TestRulesBuiltFromOnePrefixStayApart(t *testing.T) {
	// Three matches: append would leave spare capacity for the next one to share.
	prefix := rule().ctState(ctNew).addr(Saddr, IPv4, "a").addr(Daddr, IPv4, "b")
	a := prefix.dport(policy.ProtoTCP, 80, 80).ret()
	b := prefix.dport(policy.ProtoUDP, 53, 53).ret()
	if !strings.HasSuffix(a.String(), "tcp dport 80 return") || !strings.HasSuffix(b.String(), "udp dport 53 return") {
		t.Fatalf("rules share storage: %q, %q", a, b)
	}
}
