package analysis

import "github.com/netwarden/netwarden/pkg/policy"

// MemberSet is a set of pods (a workload, a namespace) summarised by class, so that the
// verdicts of all pairs between two sets are added up once per class pair.
type MemberSet struct {
	classes []memberClass
}

type memberClass struct {
	class int32
	pods  []int32 // in the set's order
}

// Members summarises pods (in the order given) by the matrix's classes.
func (m *ClassMatrix) Members(pods []int32) MemberSet {
	var s MemberSet
	at := map[int32]int{}
	for _, p := range pods {
		c := m.Classes.Of[p]
		i, ok := at[c]
		if !ok {
			i = len(s.classes)
			at[c] = i
			s.classes = append(s.classes, memberClass{class: c})
		}
		s.classes[i].pods = append(s.classes[i].pods, p)
	}
	return s
}

// CountPairs calls add for the pairs (a in from, b in to, a != b) connecting on pt,
// grouped by outcome: n pairs share the decisions eg and in, and a -> b is one of them.
// Pairs of one class pair share their decisions, except where the own-node rule holds
// for some of them (a peer that is a node or a hostNetwork pod); those are split by node.
// ok is false when pt is not probed on some destination class (decide those pairs with
// Engine.Decide).
func (m *ClassMatrix) CountPairs(from, to MemberSet, pt policy.Port, add func(eg, in policy.Decision, n, a, b int32)) (ok bool) {
	return m.countPairs(from, to, pt, func(eg, in, _, _ policy.Decision, n, a, b int32) { add(eg, in, n, a, b) })
}

// countPairs is CountPairs that also gives the decisions of the other view (the same
// decisions when the matrix has no marks): the split by class pair and own node is the
// same in both.
func (m *ClassMatrix) countPairs(from, to MemberSet, pt policy.Port, add func(eg, in, oeg, oin policy.Decision, n, a, b int32)) (ok bool) {
	t, f, e := m.tables, m.features, m.Engine
	// decide gives the decisions of both views for entries resolved with the own-node
	// conditions; without marks the other view is not looked up at all.
	o := m.other
	decide := func(egEntry, inEntry, oegEntry, oinEntry uint32, egOwn, inOwn bool, n, a, b int32) {
		eg, in := t.ids.decision(t.resolve(egEntry, egOwn)), t.ids.decision(t.resolve(inEntry, inOwn))
		oeg, oin := eg, in
		if o != nil {
			oeg, oin = o.ids.decision(o.resolve(oegEntry, egOwn)), o.ids.decision(o.resolve(oinEntry, inOwn))
		}
		add(eg, in, oeg, oin, n, a, b)
	}
	ks := make([]int, len(to.classes))
	for j, cb := range to.classes {
		ks[j] = -1
		for i, pi := range m.dstPorts[cb.class] {
			if m.Ports[pi] == pt {
				ks[j] = i
				break
			}
		}
		if ks[j] < 0 {
			return false
		}
	}
	// Source classes outside, destination classes inside, each in order of first member.
	for _, ca := range from.classes {
		for j, cb := range to.classes {
			k := ks[j]
			egEntry, inEntry := t.entries(ca.class, cb.class, k)
			var oegEntry, oinEntry uint32
			if o != nil {
				oegEntry, oinEntry = o.entries(ca.class, cb.class, k)
			}
			slot := t.slotOf[cb.class]
			b0, a0 := cb.pods[0], ca.pods[0]
			// The own-node rule can only hold where the peer is some node's: a
			// hostNetwork pod or an address of a node. Peers of a class are alike in that.
			nodeish := len(f.owners[b0][0]) > 0 || len(f.owners[a0][slot]) > 0
			if !nodeish {
				n := int32(len(ca.pods)) * int32(len(cb.pods))
				a, b := a0, b0
				if ca.class == cb.class {
					// The sets may share pods, and a pod with itself is no pair.
					n -= shared(ca.pods, cb.pods)
					a, b = firstPair(ca.pods, cb.pods)
				}
				if n > 0 {
					decide(egEntry, inEntry, oegEntry, oinEntry, false, false, n, a, b)
				}
				continue
			}
			// Split by the two own-node conditions; a member's condition depends only on
			// its node, since the other class's peers are alike.
			var counts [2][2]int32
			var example [2][2][2]int32
			for _, a := range ca.pods {
				egOwn := f.ownNode(e, a, b0, 0)
				for _, b := range cb.pods {
					if a == b {
						continue
					}
					inOwn := f.ownNode(e, b, a, slot)
					x, y := b2i(egOwn), b2i(inOwn)
					if counts[x][y] == 0 {
						example[x][y] = [2]int32{a, b}
					}
					counts[x][y]++
				}
			}
			for x := range 2 {
				for y := range 2 {
					if n := counts[x][y]; n > 0 {
						ex := example[x][y]
						decide(egEntry, inEntry, oegEntry, oinEntry, x == 1, y == 1, n, ex[0], ex[1])
					}
				}
			}
		}
	}
	return true
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// shared counts the pods in both lists.
func shared(x, y []int32) int32 {
	if len(x) > len(y) {
		x, y = y, x
	}
	in := make(map[int32]bool, len(x))
	for _, p := range x {
		in[p] = true
	}
	n := int32(0)
	for _, p := range y {
		if in[p] {
			n++
		}
	}
	return n
}

// firstPair returns the first pair of distinct pods (x before y in order), or the first
// pods when there is none.
func firstPair(x, y []int32) (int32, int32) {
	for _, a := range x {
		for _, b := range y {
			if a != b {
				return a, b
			}
		}
	}
	return x[0], y[0]
}
