package dataplane

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/netwarden/netwarden/pkg/policy"
)

// randomSet is a sorted tuple set (or verdict map) of n elements drawn from a space a
// few times larger, so two draws share most elements.
func randomSet(r *rand.Rand, n int, isMap bool) *Set {
	var es []Element
	for range n {
		e := Element{Addr: netip.AddrFrom4([4]byte{10, byte(r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(256))})}
		if isMap {
			e.Verdict = Verdict{Kind: Jump, Target: fmt.Sprintf("in-%d", r.IntN(3))}
		} else {
			e.Proto, e.Port = policy.ProtoTCP, uint16(80+r.IntN(2))
		}
		es = append(es, e)
	}
	if isMap { // one element per key
		slices.SortFunc(es, func(a, b Element) int { return compareElements(&a, &b) })
		es = slices.CompactFunc(es, func(a, b Element) bool { return compareElements(&a, &b) == 0 })
	}
	return &Set{Name: "s", Key: KeyTuple4, Map: isMap, Elements: sortElements(es)}
}

// changed returns a copy of s with k elements deleted, k added and, for maps, k verdicts
// changed.
func changed(r *rand.Rand, s *Set, k int) *Set {
	es := slices.Clone(s.Elements)
	for range k {
		if len(es) > 0 {
			i := r.IntN(len(es))
			es = slices.Delete(es, i, i+1)
		}
	}
	extra := randomSet(r, k, s.Map).Elements
	es = append(es, extra...)
	if s.Map {
		for range k {
			i := r.IntN(len(es))
			es[i].Verdict.Target += "x"
		}
		slices.SortFunc(es, func(a, b Element) int { return compareElements(&a, &b) })
		es = slices.CompactFunc(es, func(a, b Element) bool { return compareElements(&a, &b) == 0 })
	}
	return &Set{Name: s.Name, Key: s.Key, Map: s.Map, Elements: sortElements(es)}
}

// TestChunkedDiffFindsWhatTheFullWalkFinds: skipping equal chunks of big sets never
// loses a difference, whatever changed (elements coming, going, verdicts changing), and
// sets that are equal have equal digests.
func TestChunkedDiffFindsWhatTheFullWalkFinds(t *testing.T) {
	for seed := range 200 {
		r := rand.New(rand.NewPCG(uint64(seed), 3))
		isMap := seed%2 == 1
		a := randomSet(r, 500+r.IntN(5000), isMap)
		b := changed(r, a, r.IntN(20))
		wantA, wantB := diffSorted(a.Elements, b.Elements)
		gotA, gotB := diffSets(a, b)
		if !slices.Equal(gotA, wantA) || !slices.Equal(gotB, wantB) {
			t.Fatalf("seed %d: chunked diff found -%d +%d, the full walk -%d +%d", seed, len(gotA), len(gotB), len(wantA), len(wantB))
		}
		if (len(wantA)+len(wantB) == 0) != (a.Digest() == b.Digest()) {
			t.Fatalf("seed %d: %d differences, yet digests equal: %v", seed, len(wantA)+len(wantB), a.Digest() == b.Digest())
		}
		if len(a.Elements) >= chunkedSize && len(a.chunks) == 0 {
			t.Fatalf("seed %d: a set of %d elements has no chunks", seed, len(a.Elements))
		}
	}
}
