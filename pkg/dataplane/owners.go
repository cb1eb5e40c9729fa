package dataplane

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"

	"go4.org/netipx"

	"github.com/netwarden/netwarden/pkg/policy"
)

// A union's maps must send every key to the rule of lowest rank covering it, while a
// packet meets the maps in a fixed order and stops at the first that holds its key. Keys
// are cut so that the answer is exact, and the cuts come in two kinds:
//
//   - Pod and node addresses (the hash maps, first in the chain). For each such address
//     the builder works out which rule owns each port of it, over every rule of the run,
//     ipBlocks containing the address included, and writes only what the later lookups
//     would get wrong: a port whose owner differs from its range's, a range whose owner
//     differs from the address's any-port owner. Pods of one identity in one ipBlock
//     piece share that work.
//   - ipBlocks (the interval maps, last). Their pieces are cut where rules' boxes meet,
//     and a box that an earlier any-port ipBlock covers goes to that rule. They decide
//     only addresses no pod or node rule covers, so pods never cut them.

type unionBuilder struct {
	c        *compiler
	d        policy.Direction
	fam      Family
	parts    []part // by rank
	rps      []*rulePeers
	targets  []string // account chain by rank
	shadowed bool

	segs []portMatch // the run's port ranges, cut where they meet, by protocol and port
	// Elementary address intervals of the parts' ipBlocks: cuts[k] starts interval k;
	// netParts[k] are the parts covering it, by rank.
	cuts     []netip.Addr
	netParts [][]int32
	// Parts covering a pod identity, a node address, or (egress named ports) an address
	// on its named ports, by rank.
	identParts [][]int32 // by identity; nil when no part has pod peers
	nodeParts  map[netip.Addr][]int32
	namedAt    map[netip.Addr][]namedPoint

	templates map[[2]int32][]item
	buf       []cand
}

type namedPoint struct {
	part int32
	port portMatch
}

// cand is a part covering one address: through its peers (pods, nodes: exact; ipBlocks:
// nets) on its ports, or through egress named ports on the points in named.
type cand struct {
	idx         int32
	exact, nets bool
	named       []portMatch
}

func (c cand) peer() bool { return c.exact || c.nets }

// item is what one address puts in the maps: a point, a range (segs[seg]), or any port.
type item struct {
	kind  uint8
	seg   int32
	port  portMatch
	owner int32 // part index
}

const (
	itemPoint = iota
	itemSeg
	itemAny
)

func newUnionBuilder(c *compiler, d policy.Direction, fam Family, parts []part, targets []string) *unionBuilder {
	b := &unionBuilder{c: c, d: d, fam: fam, parts: parts, targets: targets,
		nodeParts: map[netip.Addr][]int32{}, namedAt: map[netip.Addr][]namedPoint{},
		templates: map[[2]int32][]item{}}
	var ranges []struct {
		r netipx.IPRange
		p int32
	}
	for i, p := range parts {
		b.shadowed = b.shadowed || p.shadow
		rp := c.rulePeers(d, p.ref, fam)
		b.rps = append(b.rps, rp)
		if rp.idents != nil {
			if b.identParts == nil {
				b.identParts = make([][]int32, len(c.byIdent))
			}
			rp.idents.each(func(id int) { b.identParts[id] = append(b.identParts[id], int32(i)) })
		}
		for _, a := range rp.nodes {
			if l := b.nodeParts[a]; len(l) == 0 || l[len(l)-1] != int32(i) {
				b.nodeParts[a] = append(l, int32(i))
			}
		}
		if !p.resolved && rp.hasNamed {
			for _, e := range rp.named {
				b.namedAt[e.Addr] = append(b.namedAt[e.Addr], namedPoint{int32(i), portMatch{e.Proto, e.Port, e.Port}})
			}
		}
		for _, r := range rp.nets {
			ranges = append(ranges, struct {
				r netipx.IPRange
				p int32
			}{r, int32(i)})
			b.cuts = append(b.cuts, r.From())
			if n := r.To().Next(); n.IsValid() {
				b.cuts = append(b.cuts, n)
			}
		}
	}
	slices.SortFunc(b.cuts, netip.Addr.Compare)
	b.cuts = slices.Compact(b.cuts)
	b.netParts = make([][]int32, len(b.cuts))
	for _, r := range ranges {
		k := b.interval(r.r.From())
		for ; k < len(b.cuts) && r.r.To().Compare(b.cuts[k]) >= 0; k++ {
			b.netParts[k] = append(b.netParts[k], r.p)
		}
	}

	// The run's port ranges, cut at every edge of every range, so that a range map holds
	// pieces a rule either covers whole or not at all.
	edges := map[policy.Proto][]uint32{}
	for _, p := range parts {
		for _, pm := range p.ports {
			if pm.lo != pm.hi {
				edges[pm.proto] = append(edges[pm.proto], uint32(pm.lo), uint32(pm.hi)+1)
			}
		}
	}
	protos := make([]policy.Proto, 0, len(edges))
	for pr := range edges {
		protos = append(protos, pr)
	}
	slices.Sort(protos)
	for _, pr := range protos {
		e := edges[pr]
		slices.Sort(e)
		e = slices.Compact(e)
		for k := 0; k+1 < len(e); k++ {
			seg := portMatch{pr, uint16(e[k]), uint16(e[k+1] - 1)}
			if b.anyPartCovers(seg) {
				b.segs = append(b.segs, seg)
			}
		}
	}
	return b
}

// interval returns the elementary interval holding a, or -1.
func (b *unionBuilder) interval(a netip.Addr) int {
	return sort.Search(len(b.cuts), func(k int) bool { return b.cuts[k].Compare(a) > 0 }) - 1
}

func (b *unionBuilder) anyPartCovers(seg portMatch) bool {
	for _, p := range b.parts {
		if clausesCover(p.ports, seg) {
			return true
		}
	}
	return false
}

// clausesCover says whether port clauses (nil: any port) hold every port of pm.
func clausesCover(ports []portMatch, pm portMatch) bool {
	if ports == nil {
		return true
	}
	for _, q := range ports {
		if q.proto == pm.proto && q.lo <= pm.lo && pm.hi <= q.hi {
			return true
		}
	}
	return false
}

// covers says whether the candidate covers every port of pm at its address; nets
// restricts it to coverage through ipBlocks.
func (b *unionBuilder) covers(c cand, pm portMatch, netsOnly bool) bool {
	if netsOnly {
		return c.nets && clausesCover(b.parts[c.idx].ports, pm)
	}
	if c.peer() && clausesCover(b.parts[c.idx].ports, pm) {
		return true
	}
	for _, q := range c.named {
		if q == pm {
			return true
		}
	}
	return false
}

func (b *unionBuilder) rank(idx int32) int { return b.parts[idx].rank }

// first returns the first candidate (an index into cs) covering pm, or -1.
func (b *unionBuilder) first(cs []cand, pm portMatch, netsOnly bool) int {
	for i, c := range cs {
		if b.covers(c, pm, netsOnly) {
			return i
		}
	}
	return -1
}

// cands lists the parts covering address a of pods (and a node address or named ports
// there), by rank. The list is the builder's buffer, valid until the next call.
func (b *unionBuilder) cands(a netip.Addr, pods []int32) []cand {
	out := b.buf[:0]
	for _, pod := range pods {
		if b.identParts == nil {
			break
		}
		for _, idx := range b.identParts[b.c.e.Pods[pod].Ident] {
			out = append(out, cand{idx: idx, exact: true})
		}
	}
	for _, idx := range b.nodeParts[a] {
		out = append(out, cand{idx: idx, exact: true})
	}
	if k := b.interval(a); k >= 0 {
		for _, idx := range b.netParts[k] {
			out = append(out, cand{idx: idx, nets: true})
		}
	}
	for _, np := range b.namedAt[a] {
		out = append(out, cand{idx: np.part, named: []portMatch{np.port}})
	}
	slices.SortStableFunc(out, func(x, y cand) int { return int(x.idx) - int(y.idx) })
	// One candidate per part, its ways of covering merged.
	n := 0
	for i := range out {
		if n > 0 && out[n-1].idx == out[i].idx {
			c := &out[n-1]
			c.exact = c.exact || out[i].exact
			c.nets = c.nets || out[i].nets
			for _, pm := range out[i].named {
				c.named = appendPort(c.named, pm)
			}
			continue
		}
		out[n] = out[i]
		n++
	}
	b.buf = out
	return out[:n]
}

// template works out what one address puts in the maps, given the parts covering it.
func (b *unionBuilder) template(cs []cand) []item {
	var out []item
	if b.shadowed {
		// Only the points of the named ports; the common lookups after them decide the rest.
		for _, c := range cs {
			if b.parts[c.idx].shadow || !c.peer() {
				continue
			}
			for _, pm := range b.parts[c.idx].ports {
				if o := b.first(cs, pm, false); o >= 0 && !hasPoint(out, pm) {
					out = append(out, item{kind: itemPoint, port: pm, owner: cs[o].idx})
				}
			}
		}
		return out
	}
	any := -1 // the first candidate covering every port
	for i, c := range cs {
		if c.peer() && b.parts[c.idx].ports == nil {
			any = i
			break
		}
	}
	before := cs
	if any >= 0 {
		before = cs[:any]
	}
	// fallback is who the lookups after a map would name for pm: the any-port owner, or
	// the ipBlock maps.
	fallback := func(pm portMatch) int32 {
		if any >= 0 {
			return cs[any].idx
		}
		if o := b.first(cs, pm, true); o >= 0 {
			return cs[o].idx
		}
		return -1
	}
	segOwner := map[int32]int32{}
	for si, seg := range b.segs {
		o := b.first(before, seg, false)
		if o < 0 {
			continue
		}
		if f := fallback(seg); f < 0 || b.rank(f) != b.rank(cs[o].idx) {
			out = append(out, item{kind: itemSeg, seg: int32(si), port: seg, owner: cs[o].idx})
			segOwner[int32(si)] = cs[o].idx
		}
	}
	for _, c := range cs {
		var pts []portMatch
		if c.peer() {
			for _, pm := range b.parts[c.idx].ports {
				if pm.lo == pm.hi {
					pts = append(pts, pm)
				}
			}
		}
		pts = append(pts, c.named...)
		for _, pm := range pts {
			if hasPoint(out, pm) {
				continue
			}
			o := cs[b.first(cs, pm, false)].idx
			f := fallback(pm)
			if si := b.segOf(pm); si >= 0 {
				if so, ok := segOwner[int32(si)]; ok {
					f = so
				}
			}
			if f < 0 || b.rank(f) != b.rank(o) {
				out = append(out, item{kind: itemPoint, port: pm, owner: o})
			}
		}
	}
	if any >= 0 {
		out = append(out, item{kind: itemAny, owner: cs[any].idx})
	}
	return out
}

func hasPoint(items []item, pm portMatch) bool {
	for _, it := range items {
		if it.kind == itemPoint && it.port == pm {
			return true
		}
	}
	return false
}

// segOf returns the index of the run's port range holding the single port pm, or -1.
func (b *unionBuilder) segOf(pm portMatch) int {
	for i, s := range b.segs {
		if s.proto == pm.proto && s.lo <= pm.lo && pm.lo <= s.hi {
			return i
		}
	}
	return -1
}

// addresses lists the pod and node addresses the union's hash maps may hold, sorted,
// with their pods (-1 for a node or named-only address).
func (b *unionBuilder) addresses() []podAddr {
	c := b.c
	// In a shadowed union, the shadows' pods matter only inside its own ipBlocks.
	ownNets := false
	for i, p := range b.parts {
		ownNets = ownNets || !p.shadow && len(b.rps[i].nets) > 0
	}
	idents := newIdentSet(len(c.byIdent))
	var out []podAddr
	for i, rp := range b.rps {
		if rp.idents != nil && (!b.parts[i].shadow || ownNets) {
			idents.or(rp.idents)
		}
	}
	pods := 0
	idents.each(func(id int) { pods += len(c.byIdent[id]) })
	out = make([]podAddr, 0, pods+len(b.nodeParts)+len(b.namedAt))
	if pods > 0 && pods >= len(c.sortedPods(b.fam))/8 {
		for _, a := range c.sortedPods(b.fam) {
			if idents.has(int(c.e.Pods[a.pod].Ident)) {
				out = append(out, a)
			}
		}
	} else if pods > 0 {
		idents.each(func(id int) {
			for _, pod := range c.byIdent[id] {
				for _, ip := range c.e.Pods[pod].IPs {
					if familyOf(ip) == b.fam {
						out = append(out, podAddr{ip, pod})
					}
				}
			}
		})
	}
	sorted := len(out) > 0 && pods >= len(c.sortedPods(b.fam))/8
	for a := range b.nodeParts {
		out = append(out, podAddr{a, -1})
		sorted = false
	}
	for a := range b.namedAt {
		out = append(out, podAddr{a, -1})
		sorted = false
	}
	if !sorted {
		slices.SortFunc(out, func(x, y podAddr) int {
			if c := x.ip.Compare(y.ip); c != 0 {
				return c
			}
			return int(x.pod) - int(y.pod)
		})
	}
	return out
}

// build makes the union's maps, named after base.
func (b *unionBuilder) build(base string) union {
	c, fam := b.c, b.fam
	var hasExact, hasPoints, hasAny bool
	for i, p := range b.parts {
		rp := b.rps[i]
		hasExact = hasExact || rp.exact || rp.hasNamed
		if p.shadow {
			continue
		}
		hasAny = hasAny || p.ports == nil
		hasPoints = hasPoints || rp.hasNamed && !p.resolved
		for _, pm := range p.ports {
			hasPoints = hasPoints || pm.lo == pm.hi
		}
	}
	if b.shadowed {
		hasAny = false
	}
	segs := len(b.segs) > 0 && hasExact && !b.shadowed
	goTo := func(idx int32) Verdict { return Verdict{Kind: Goto, Target: b.targets[b.parts[idx].rank]} }

	var points, anys, fine []Element
	bySeg := make([][]Element, len(b.segs))
	if hasExact {
		all := b.addresses()
		// Sized first: the big unions hold every pod of the cluster.
		if hasPoints {
			points = make([]Element, 0, len(all))
		}
		if hasAny {
			anys = make([]Element, 0, len(all))
		}
		var pods []int32
		for i := 0; i < len(all); {
			a := all[i].ip
			pods = pods[:0]
			j := i
			for ; j < len(all) && all[j].ip == a; j++ {
				if all[j].pod >= 0 && (len(pods) == 0 || pods[len(pods)-1] != all[j].pod) {
					pods = append(pods, all[j].pod)
				}
			}
			i = j
			items := b.itemsAt(a, pods)
			for k, it := range items {
				switch it.kind {
				case itemPoint:
					points = append(points, Element{Addr: a, Proto: it.port.proto, Port: it.port.lo, Verdict: goTo(it.owner)})
				case itemAny:
					anys = append(anys, Element{Addr: a, Verdict: goTo(it.owner)})
				case itemSeg:
					if len(b.segs) <= maxRangeSets {
						bySeg[it.seg] = append(bySeg[it.seg], Element{Addr: a, Verdict: goTo(it.owner)})
						continue
					}
					// Neighbouring ranges of one rule are one interval.
					if k > 0 && items[k-1].kind == itemSeg && len(fine) > 0 {
						prev := &fine[len(fine)-1]
						if prev.Addr == a && prev.Proto == it.port.proto && uint32(prev.PortLast)+1 == uint32(it.port.lo) && prev.Verdict == goTo(it.owner) {
							prev.PortLast = it.port.hi
							continue
						}
					}
					fine = append(fine, Element{Addr: a, Last: a, Proto: it.port.proto, Port: it.port.lo, PortLast: it.port.hi, Verdict: goTo(it.owner)})
				}
			}
		}
	}

	var u union
	if hasExact && hasPoints {
		u.ports = fmt.Sprintf("%s_ports%d", base, fam)
		c.addSet(&Set{Name: u.ports, Key: tupleKey(fam), Map: true, Elements: points})
	}
	if segs && len(b.segs) <= maxRangeSets {
		for i, pm := range b.segs {
			name := fmt.Sprintf("%s_%s%d-%d_addrs%d", base, protoName(pm.proto), pm.lo, pm.hi, fam)
			c.addSet(&Set{Name: name, Key: addrKey(fam), Map: true, Elements: bySeg[i]})
			u.byRange = append(u.byRange, rangeSet{name, pm})
		}
	} else if segs {
		u.podRanges = fmt.Sprintf("%s_podranges%d", base, fam)
		c.addSet(&Set{Name: u.podRanges, Key: tupleKey(fam), Interval: true, Map: true, Elements: fine})
	}
	if hasExact && hasAny {
		u.addrs = fmt.Sprintf("%s_addrs%d", base, fam)
		c.addSet(&Set{Name: u.addrs, Key: addrKey(fam), Map: true, Elements: anys})
	}
	if els := b.ranges(goTo); len(els) > 0 {
		u.ranges = fmt.Sprintf("%s_ranges%d", base, fam)
		c.addSet(&Set{Name: u.ranges, Key: tupleKey(fam), Interval: true, Map: true, Elements: els})
	}
	if els := b.nets(goTo); len(els) > 0 {
		u.nets = fmt.Sprintf("%s_nets%d", base, fam)
		c.addSet(&Set{Name: u.nets, Key: addrKey(fam), Interval: true, Map: true, Elements: els})
	}
	return u
}

// itemsAt is the template of one address, shared by pods of one identity in one ipBlock
// interval.
func (b *unionBuilder) itemsAt(a netip.Addr, pods []int32) []item {
	shared := len(pods) == 1 && len(b.nodeParts[a]) == 0 && len(b.namedAt[a]) == 0
	var key [2]int32
	if shared {
		key = [2]int32{b.c.e.Pods[pods[0]].Ident, int32(b.interval(a))}
		if t, ok := b.templates[key]; ok {
			return t
		}
	}
	var t []item
	if cs := b.cands(a, pods); !b.shadowed || b.ownCovers(cs) {
		t = b.template(cs)
	}
	if shared {
		b.templates[key] = t
	}
	return t
}

func (b *unionBuilder) ownCovers(cs []cand) bool {
	for _, c := range cs {
		if !b.parts[c.idx].shadow && c.peer() {
			return true
		}
	}
	return false
}

// ranges cuts the ipBlocks on ports into boxes that do not overlap, each going to the
// first rule covering it; ipBlocks on any port (and, in a shadowed union, the shadows)
// take part in choosing owners but add no boxes.
func (b *unionBuilder) ranges(goTo func(int32) Verdict) []Element {
	var boxes []ownedBox
	protos := map[policy.Proto]bool{}
	for i, p := range b.parts {
		if p.shadow || p.ports == nil {
			continue
		}
		for _, rg := range b.rps[i].nets {
			for _, pm := range p.ports {
				boxes = append(boxes, ownedBox{box{rg, pm.proto, pm.lo, pm.hi}, int32(i), false})
				protos[pm.proto] = true
			}
		}
	}
	if len(boxes) == 0 {
		return nil
	}
	for i, p := range b.parts {
		if !p.shadow && p.ports != nil {
			continue
		}
		for _, rg := range b.rps[i].nets {
			if p.ports == nil {
				for pr := range protos {
					boxes = append(boxes, ownedBox{box{rg, pr, 0, 65535}, int32(i), true})
				}
				continue
			}
			for _, pm := range p.ports {
				boxes = append(boxes, ownedBox{box{rg, pm.proto, pm.lo, pm.hi}, int32(i), true})
			}
		}
	}
	rank := func(idx int32) int { return b.parts[idx].rank }
	var out []Element
	for _, ob := range disjointOwned(boxes, rank) {
		out = append(out, Element{Addr: ob.addrs.From(), Last: ob.addrs.To(), Proto: ob.proto, Port: ob.lo, PortLast: ob.hi, Verdict: goTo(ob.owner)})
	}
	return out
}

// nets gives each address of the ipBlocks on any port to the first rule covering it.
func (b *unionBuilder) nets(goTo func(int32) Verdict) []Element {
	if b.shadowed {
		return nil
	}
	var boxes []ownedBox
	for i, p := range b.parts {
		if p.ports != nil {
			continue
		}
		for _, rg := range b.rps[i].nets {
			boxes = append(boxes, ownedBox{box: box{addrs: rg}, owner: int32(i)})
		}
	}
	var out []Element
	for _, ob := range disjointOwned(boxes, func(idx int32) int { return b.parts[idx].rank }) {
		out = append(out, Element{Addr: ob.addrs.From(), Last: ob.addrs.To(), Verdict: goTo(ob.owner)})
	}
	return out
}
