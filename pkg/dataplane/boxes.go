package dataplane

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"

	"go4.org/netipx"

	"github.com/netwarden/netwarden/pkg/policy"
)

// A box is a block of the space a concatenated interval set covers: peer addresses in a
// range, one protocol, destination ports in a range. A rule allowing an ipBlock on ports
// 8000-9000/TCP is one box per range of the ipBlock (its exceptions cut it into ranges).
type box struct {
	addrs  netipx.IPRange
	proto  policy.Proto
	lo, hi uint16
}

// disjoint returns the union of boxes as boxes that do not overlap, sorted as set
// elements are. The kernel refuses overlapping elements in a concatenated interval set,
// and overlap is common (an ipBlock on 80/TCP and a wider one on 1-1024/TCP), so the
// union is recut: per protocol, the port axis is split at every box edge; each piece
// gets the union of the address ranges of the boxes covering it; neighbouring pieces
// with the same addresses are merged back.
//
// The result is exact, not minimal. Every box of the result lies in the union and every
// point of the union is in exactly one box of the result.
func disjoint(boxes []box) []box {
	return perProto(boxes, func(b box) box { return b }, disjointPorts)
}

// perProto cuts boxes protocol by protocol (cut gets the valid boxes of one protocol)
// and sorts the pieces as set elements are.
func perProto[T any](boxes []T, of func(T) box, cut func(policy.Proto, []T) []T) []T {
	byProto := map[policy.Proto][]T{}
	for _, x := range boxes {
		if b := of(x); b.addrs.IsValid() && b.lo <= b.hi {
			byProto[b.proto] = append(byProto[b.proto], x)
		}
	}
	var out []T
	for _, p := range slices.Sorted(maps.Keys(byProto)) {
		out = append(out, cut(p, byProto[p])...)
	}
	slices.SortFunc(out, func(a, b T) int { return compareBoxes(of(a), of(b)) })
	return out
}

// compareBoxes orders boxes as set elements are: by address range, protocol, then port.
func compareBoxes(a, b box) int {
	if c := a.addrs.From().Compare(b.addrs.From()); c != 0 {
		return c
	}
	if c := a.addrs.To().Compare(b.addrs.To()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.proto, b.proto); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

// portSpan is the union of the address ranges allowed on one port range.
type portSpan struct {
	lo, hi uint16
	addrs  netipx.IPSetBuilder
}

// disjointPorts recuts the boxes of one protocol.
func disjointPorts(proto policy.Proto, boxes []box) []box {
	// Boxes on the same ports (the usual case: many peers, a few ports) become one span.
	spans := map[[2]uint16]*portSpan{}
	var order []*portSpan
	for _, b := range boxes {
		k := [2]uint16{b.lo, b.hi}
		sp := spans[k]
		if sp == nil {
			sp = &portSpan{lo: b.lo, hi: b.hi}
			spans[k] = sp
			order = append(order, sp)
		}
		sp.addrs.AddRange(b.addrs)
	}
	sets := make([]*netipx.IPSet, len(order))
	for i, sp := range order {
		sets[i], _ = sp.addrs.IPSet()
	}
	if len(order) == 1 {
		return emit(nil, proto, order[0].lo, order[0].hi, sets[0].Ranges())
	}

	// Every span edge cuts the port axis (hi+1 may be 65536).
	var cuts []uint32
	for _, sp := range order {
		cuts = append(cuts, uint32(sp.lo), uint32(sp.hi)+1)
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	// Sweep the pieces left to right, keeping the spans that cover the current one.
	byLo := make([]int, len(order))
	for i := range byLo {
		byLo[i] = i
	}
	slices.SortFunc(byLo, func(a, b int) int { return cmp.Compare(order[a].lo, order[b].lo) })
	var active []int
	next := 0
	var out []box
	var runRanges []netipx.IPRange
	var runLo, runHi uint32
	flush := func() {
		if len(runRanges) > 0 {
			out = emit(out, proto, uint16(runLo), uint16(runHi), runRanges)
		}
		runRanges = nil
	}
	for k := 0; k+1 < len(cuts); k++ {
		lo, hi := cuts[k], cuts[k+1]-1
		for next < len(byLo) && uint32(order[byLo[next]].lo) <= lo {
			active = append(active, byLo[next])
			next++
		}
		active = slices.DeleteFunc(active, func(i int) bool { return uint32(order[i].hi) < lo })
		var ranges []netipx.IPRange
		switch len(active) {
		case 0:
		case 1:
			ranges = sets[active[0]].Ranges()
		default:
			var u netipx.IPSetBuilder
			for _, i := range active {
				u.AddSet(sets[i])
			}
			s, _ := u.IPSet()
			ranges = s.Ranges()
		}
		if len(runRanges) > 0 && runHi+1 == lo && slices.Equal(runRanges, ranges) {
			runHi = hi
			continue
		}
		flush()
		runRanges, runLo, runHi = ranges, lo, hi
	}
	flush()
	return out
}

func emit(out []box, proto policy.Proto, lo, hi uint16, ranges []netipx.IPRange) []box {
	for _, r := range ranges {
		out = append(out, box{addrs: r, proto: proto, lo: lo, hi: hi})
	}
	return out
}

// ownedBox is a box of one part of a union (owner, a part index). A fill box takes part
// in choosing owners where other boxes are, but adds no space of its own.
type ownedBox struct {
	box
	owner int32
	fill  bool
}

// disjointOwned cuts boxes into pieces that do not overlap, each given to the owner of
// lowest rank among the boxes covering it, as a first-match list would decide it; what
// only fill boxes cover is left out. Pieces that meet on the port axis with the same
// addresses and owners are merged back. Like disjoint, the result is exact, not minimal.
func disjointOwned(boxes []ownedBox, rank func(int32) int) []ownedBox {
	return perProto(boxes, func(b ownedBox) box { return b.box }, func(p policy.Proto, bs []ownedBox) []ownedBox {
		return disjointOwnedPorts(p, bs, rank)
	})
}

type ownedSpan struct {
	lo, hi uint16
	owner  int32
	fill   bool
	addrs  netipx.IPSetBuilder
	ranges []netipx.IPRange
}

type ownedRange struct {
	r     netipx.IPRange
	owner int32
}

// edge is where one span's range starts (or, with end, where the address after it is).
type edge struct {
	at   netip.Addr
	span int
	end  bool
}

func disjointOwnedPorts(proto policy.Proto, boxes []ownedBox, rank func(int32) int) []ownedBox {
	type key struct {
		lo, hi uint16
		owner  int32
		fill   bool
	}
	spans := map[key]*ownedSpan{}
	var order []*ownedSpan
	var cuts []uint32
	for _, b := range boxes {
		k := key{b.lo, b.hi, b.owner, b.fill}
		sp := spans[k]
		if sp == nil {
			sp = &ownedSpan{lo: b.lo, hi: b.hi, owner: b.owner, fill: b.fill}
			spans[k] = sp
			order = append(order, sp)
			cuts = append(cuts, uint32(b.lo), uint32(b.hi)+1)
		}
		sp.addrs.AddRange(b.addrs)
	}
	for _, sp := range order {
		set, _ := sp.addrs.IPSet()
		sp.ranges = set.Ranges()
	}
	// By rank, so that the lowest index among the spans covering an address is its owner.
	slices.SortStableFunc(order, func(a, b *ownedSpan) int { return rank(a.owner) - rank(b.owner) })
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)

	var out []ownedBox
	var run []ownedRange
	var runLo, runHi uint32
	flush := func() {
		for _, r := range run {
			out = append(out, ownedBox{box{r.r, proto, uint16(runLo), uint16(runHi)}, r.owner, false})
		}
		run = nil
	}
	var edges []edge
	for k := 0; k+1 < len(cuts); k++ {
		lo, hi := cuts[k], cuts[k+1]-1
		// Sweep the addresses of the spans covering these ports: between two edges the
		// same spans cover, and the first of them owns the piece if a span that is not
		// a fill is among them.
		edges = edges[:0]
		for i, sp := range order {
			if uint32(sp.lo) <= lo && hi <= uint32(sp.hi) {
				for _, r := range sp.ranges {
					edges = append(edges, edge{r.From(), i, false})
					if n := r.To().Next(); n.IsValid() {
						edges = append(edges, edge{n, i, true})
					}
				}
			}
		}
		slices.SortFunc(edges, func(a, b edge) int { return a.at.Compare(b.at) })
		var pieces []ownedRange
		var active []int // span indices, sorted
		fills := 0
		for i := 0; i < len(edges); {
			at := edges[i].at
			for ; i < len(edges) && edges[i].at == at; i++ {
				e := edges[i]
				j, _ := slices.BinarySearch(active, e.span)
				if e.end {
					active = slices.Delete(active, j, j+1)
				} else {
					active = slices.Insert(active, j, e.span)
				}
				switch {
				case order[e.span].fill && e.end:
					fills--
				case order[e.span].fill:
					fills++
				}
			}
			if len(active) == 0 || len(active) == fills {
				continue
			}
			last := lastOf(at)
			if i < len(edges) {
				last = edges[i].at.Prev()
			}
			owner := order[active[0]].owner
			if n := len(pieces); n > 0 && pieces[n-1].owner == owner && pieces[n-1].r.To().Next() == at {
				pieces[n-1].r = netipx.IPRangeFrom(pieces[n-1].r.From(), last)
				continue
			}
			pieces = append(pieces, ownedRange{netipx.IPRangeFrom(at, last), owner})
		}
		if len(run) > 0 && runHi+1 == lo && slices.Equal(run, pieces) {
			runHi = hi
			continue
		}
		flush()
		run, runLo, runHi = pieces, lo, hi
	}
	flush()
	return out
}

// lastOf is the last address of a's family.
func lastOf(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.AddrFrom4([4]byte{255, 255, 255, 255})
	}
	return netip.AddrFrom16([16]byte{0: 255, 1: 255, 2: 255, 3: 255, 4: 255, 5: 255, 6: 255, 7: 255, 8: 255, 9: 255, 10: 255, 11: 255, 12: 255, 13: 255, 14: 255, 15: 255})
}
