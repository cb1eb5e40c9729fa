package dataplane

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"go4.org/netipx"

	"github.com/netwarden/netwarden/pkg/policy"
)

// TestDisjointKeepsTheUnionWithoutOverlap: over random boxes in a small space, every
// point is in the result exactly when it is in one of the input boxes, and no two
// result boxes share a point (the kernel refuses overlapping interval elements).
func TestDisjointKeepsTheUnionWithoutOverlap(t *testing.T) {
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}) }
	protos := []policy.Proto{policy.ProtoTCP, policy.ProtoUDP}
	for seed := range 500 {
		r := rand.New(rand.NewPCG(uint64(seed), 1))
		var in []box
		for range 1 + r.IntN(8) {
			a := r.IntN(32)
			b := a + r.IntN(32-a)
			lo := r.IntN(20)
			hi := lo + r.IntN(20-lo)
			in = append(in, box{netipx.IPRangeFrom(addr(a), addr(b)), protos[r.IntN(2)], uint16(lo), uint16(hi)})
		}
		out := disjoint(in)
		covers := func(bs []box, a netip.Addr, p policy.Proto, port uint16) int {
			n := 0
			for _, b := range bs {
				if b.proto == p && b.addrs.Contains(a) && b.lo <= port && port <= b.hi {
					n++
				}
			}
			return n
		}
		for i := range 32 {
			for _, p := range protos {
				for port := uint16(0); port < 21; port++ {
					want := covers(in, addr(i), p, port) > 0
					got := covers(out, addr(i), p, port)
					if got > 1 || (got == 1) != want {
						t.Fatalf("seed %d: %s %s/%d is in %d result boxes, in the union: %v\nin:  %v\nout: %v", seed, addr(i), p, port, got, want, in, out)
					}
				}
			}
		}
	}
}

func TestDisjointMergesNeighbours(t *testing.T) {
	r := func(a, b string) netipx.IPRange {
		return netipx.IPRangeFrom(netip.MustParseAddr(a), netip.MustParseAddr(b))
	}
	for _, tc := range []struct {
		name string
		in   []box
		want int
	}{
		{"the same ports on neighbouring addresses are one range", []box{
			{r("10.0.0.1", "10.0.0.1"), policy.ProtoTCP, 80, 80},
			{r("10.0.0.2", "10.0.0.2"), policy.ProtoTCP, 80, 80},
		}, 1},
		{"neighbouring ports on the same addresses are one range", []box{
			{r("10.0.0.0", "10.0.0.255"), policy.ProtoTCP, 80, 89},
			{r("10.0.0.0", "10.0.0.255"), policy.ProtoTCP, 90, 99},
		}, 1},
		{"a box inside another disappears", []box{
			{r("10.0.0.0", "10.0.0.255"), policy.ProtoTCP, 1, 1024},
			{r("10.0.0.7", "10.0.0.7"), policy.ProtoTCP, 80, 80},
		}, 1},
		{"protocols stay apart", []box{
			{r("10.0.0.0", "10.0.0.255"), policy.ProtoTCP, 80, 80},
			{r("10.0.0.0", "10.0.0.255"), policy.ProtoUDP, 80, 80},
		}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := disjoint(tc.in); len(got) != tc.want {
				t.Fatalf("got %d boxes %v, want %d", len(got), got, tc.want)
			}
		})
	}
}

// TestDisjointOwnedGivesEachPointToTheFirstBox: over random boxes (some of them fills)
// in a small space, every point covered by a box that is not a fill is in exactly one
// result box, whose owner is the lowest-ranked box covering the point, fills included;
// points only fills cover are in none.
func TestDisjointOwnedGivesEachPointToTheFirstBox(t *testing.T) {
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}) }
	protos := []policy.Proto{policy.ProtoTCP, policy.ProtoUDP}
	rank := func(o int32) int { return int(o) }
	for seed := range 500 {
		r := rand.New(rand.NewPCG(uint64(seed), 2))
		var in []ownedBox
		for i := range 1 + r.IntN(8) {
			a := r.IntN(32)
			b := a + r.IntN(32-a)
			lo := r.IntN(20)
			hi := lo + r.IntN(20-lo)
			// Owners are ranks in a shuffled order, so input order does not decide.
			in = append(in, ownedBox{box{netipx.IPRangeFrom(addr(a), addr(b)), protos[r.IntN(2)], uint16(lo), uint16(hi)}, int32((i * 5) % 8), r.IntN(4) == 0})
		}
		out := disjointOwned(in, rank)
		for i := range 32 {
			for _, p := range protos {
				for port := uint16(0); port < 21; port++ {
					first, real := int32(-1), false
					for _, b := range in {
						if b.proto == p && b.addrs.Contains(addr(i)) && b.lo <= port && port <= b.hi {
							if first < 0 || b.owner < first {
								first = b.owner
							}
							real = real || !b.fill
						}
					}
					var got []int32
					for _, b := range out {
						if b.proto == p && b.addrs.Contains(addr(i)) && b.lo <= port && port <= b.hi {
							got = append(got, b.owner)
						}
					}
					switch {
					case !real && len(got) != 0:
						t.Fatalf("seed %d: %s %s/%d is covered by fills only, yet in result boxes of %v\nin:  %v\nout: %v", seed, addr(i), p, port, got, in, out)
					case real && (len(got) != 1 || got[0] != first):
						t.Fatalf("seed %d: %s %s/%d goes to %v, want only %d\nin:  %v\nout: %v", seed, addr(i), p, port, got, first, in, out)
					}
				}
			}
		}
	}
}
