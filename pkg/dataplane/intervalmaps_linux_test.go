package dataplane

import (
	"net/netip"
	"testing"

	"github.com/netwarden/netwarden/pkg/policy"
)

// TestIntervalMapsAreNftsOwn: verdict maps of address ranges and of (range . protocol .
// port range) boxes, with neighbouring pieces going to different chains, load through
// netlink as their text loads through nft.
func TestIntervalMapsAreNftsOwn(t *testing.T) {
	needRoot(t)
	el := func(from, to, target string) Element {
		return Element{Addr: netip.MustParseAddr(from), Last: netip.MustParseAddr(to), Verdict: Verdict{Kind: Goto, Target: target}}
	}
	box := func(from, to string, lo, hi uint16, target string) Element {
		e := el(from, to, target)
		e.Proto, e.Port, e.PortLast = policy.ProtoTCP, lo, hi
		return e
	}
	p := &Program{Table: DefaultTableName, Sets: []*Set{
		{Name: "boxes4", Key: KeyTuple4, Interval: true, Map: true, Elements: sortElements([]Element{
			box("10.0.0.0", "10.0.0.255", 80, 80, "a"), box("10.0.0.0", "10.0.0.255", 81, 90, "b"),
			box("10.0.1.0", "10.0.1.255", 80, 80, "b"), box("10.1.0.0", "10.1.255.255", 0, 65535, "a")})},
		{Name: "nets4", Key: KeyAddr4, Interval: true, Map: true, Elements: sortElements([]Element{
			el("10.0.0.0", "10.0.0.255", "a"), el("10.0.1.0", "10.0.1.255", "b"), el("10.0.3.0", "10.0.3.7", "a"),
			el("192.168.0.0", "255.255.255.255", "b")})},
		{Name: "nets6", Key: KeyAddr6, Interval: true, Map: true, Elements: sortElements([]Element{
			el("::", "fd00::ffff", "a"), el("fd00::1:0", "fd00::1:ffff", "b")})},
	}, Chains: []*Chain{
		{Name: "forward", Hook: HookForward, Rules: []Rule{
			rule().vmap(Saddr, IPv4, "nets4"), rule().vmap(Saddr, IPv6, "nets6"), rule().tupleVmap(Saddr, IPv4, "boxes4"),
		}},
		{Name: "a", Rules: []Rule{rule().accept()}},
		{Name: "b", Rules: []Rule{rule().drop()}},
	}}
	nsA, pathA := newNetns(t)
	nsB, _ := newNetns(t)
	if err := openConn(t, pathA).Apply(p); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	viaNetlink := mustNft(t, nsA, "", "list", "table", "inet", "netwarden")
	mustNft(t, nsB, p.String(), "-f", "-")
	if viaText := mustNft(t, nsB, "", "list", "table", "inet", "netwarden"); viaNetlink != viaText {
		t.Fatalf("the kernel lists different tables for the netlink and the text forms\n--- netlink:\n%s\n--- nft -f:\n%s\n--- text:\n%s", viaNetlink, viaText, p)
	}
}
