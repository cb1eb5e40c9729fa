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
	t, f, e := m.tables, m.features, m.Engine
	for _, cb := range to.classes {
		k := -1
		for i, pi := range m.dstPorts[cb.class] {
			if m.Ports[pi] == pt {
				k = i
				break
			}
		}
		if k < 0 {
			return false
		}
		for _, ca := range from.classes {
			egEntry, inEntry := t.entries(ca.class, cb.class, k)
			slot := t.slotOf[cb.class]
			b0, a0 := cb.pods[0], ca.pods[0]
			// The own-node rule can only hold where the peer is some node's: a
			// hostNetwork pod or an address of a node. Peers of a class are alike in that.
			nodeish := len(f.owners[b0][0]) > 0 || len(f.owners[a0][slot]) > 0
			if !nodeish {
				n := int32(len(ca.pods)) * int32(len(cb.pods))
				a, b := a0, b0
				if ca.class == cb.class {
					n = int32(len(ca.pods)) * int32(len(ca.pods)-1)
					if len(cb.pods) > 1 {
						b = cb.pods[1]
					}
				}
				if n > 0 {
					add(t.ids.decision(t.resolve(egEntry, false)), t.ids.decision(t.resolve(inEntry, false)), n, a, b)
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
						add(t.ids.decision(t.resolve(egEntry, x == 1)), t.ids.decision(t.resolve(inEntry, y == 1)), n, ex[0], ex[1])
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
