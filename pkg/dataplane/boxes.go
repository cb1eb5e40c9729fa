package dataplane

import (
	"cmp"
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
	byProto := map[policy.Proto][]box{}
	for _, b := range boxes {
		if b.addrs.IsValid() && b.lo <= b.hi {
			byProto[b.proto] = append(byProto[b.proto], b)
		}
	}
	protos := make([]policy.Proto, 0, len(byProto))
	for p := range byProto {
		protos = append(protos, p)
	}
	slices.Sort(protos)
	var out []box
	for _, p := range protos {
		out = append(out, disjointPorts(p, byProto[p])...)
	}
	slices.SortFunc(out, func(a, b box) int {
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
	})
	return out
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
	byProto := map[policy.Proto][]ownedBox{}
	for _, b := range boxes {
		if b.addrs.IsValid() && b.lo <= b.hi {
			byProto[b.proto] = append(byProto[b.proto], b)
		}
	}
	protos := make([]policy.Proto, 0, len(byProto))
	for p := range byProto {
		protos = append(protos, p)
	}
	slices.Sort(protos)
	var out []ownedBox
	for _, p := range protos {
		out = append(out, disjointOwnedPorts(p, byProto[p], rank)...)
	}
	slices.SortFunc(out, func(a, b ownedBox) int {
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
	})
	return out
}

type ownedSpan struct {
	lo, hi uint16
	owner  int32
	fill   bool
	addrs  netipx.IPSetBuilder
	set    *netipx.IPSet
}

type ownedRange struct {
	r     netipx.IPRange
	owner int32
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
		sp.set, _ = sp.addrs.IPSet()
	}
	// By rank, so that the first span to claim an address is its owner.
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
	for k := 0; k+1 < len(cuts); k++ {
		lo, hi := cuts[k], cuts[k+1]-1
		var cover, claimed netipx.IPSetBuilder
		var active []*ownedSpan
		for _, sp := range order {
			if uint32(sp.lo) <= lo && hi <= uint32(sp.hi) {
				active = append(active, sp)
				if !sp.fill {
					cover.AddSet(sp.set)
				}
			}
		}
		coverSet, _ := cover.IPSet()
		var pieces []ownedRange
		for i := 0; i < len(active); {
			owner := active[i].owner
			var own netipx.IPSetBuilder
			for ; i < len(active) && active[i].owner == owner; i++ {
				own.AddSet(active[i].set)
			}
			cl, _ := claimed.IPSet()
			ownSet, _ := own.IPSet()
			claimed.AddSet(ownSet)
			own.RemoveSet(cl)
			own.Intersect(coverSet)
			s, _ := own.IPSet()
			for _, r := range s.Ranges() {
				pieces = append(pieces, ownedRange{r, owner})
			}
		}
		slices.SortFunc(pieces, func(a, b ownedRange) int { return a.r.From().Compare(b.r.From()) })
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
