package dataplane

import (
	"math"
	"slices"
	"strings"
)

// A set's name says what it is made of (the rules of a union, see unionBase), so when a
// policy joins or leaves the pods it selects, their union becomes a set of another name
// holding nearly the same elements: tens of thousands of pod addresses written anew and
// the old set deleted, for a change of a few hundred. Inherit names such a set after the
// one it replaces, so that Diff writes only the difference of their elements.

// Inherit renames each set of p that prev does not have to the name of a set of prev
// that p does not have, when the two are of one kind and the difference of their
// elements is smaller than the new set. Names do not change what a program decides;
// they only decide what an update writes. Call it before Diff(prev, p), on a program
// nothing else has seen yet.
func (p *Program) Inherit(prev *Program) { p.inherit(prev, false) }

// inherit is Inherit; any makes a set take over any name it can, whatever the
// difference (for tests of the renaming).
func (p *Program) inherit(prev *Program, any bool) {
	if prev == nil || prev.Table != p.Table {
		return
	}
	have := make(map[string]bool, len(p.Sets))
	for _, s := range p.Sets {
		have[s.Name] = true
	}
	var gone []*Set // prev's sets p does not have
	for _, s := range prev.Sets {
		if !have[s.Name] {
			gone = append(gone, s)
		}
	}
	if len(gone) == 0 {
		return
	}
	old := make(map[string]bool, len(prev.Sets))
	for _, s := range prev.Sets {
		old[s.Name] = true
	}
	renamed := map[string]string{}
	taken := map[string]bool{}
	// budget bounds the elements compared, so that a sync changing many sets at once
	// (which a whole rewrite serves as well) does not spend longer naming than writing.
	budget := 4 << 20
	for _, s := range p.Sets {
		if old[s.Name] || len(s.Elements) == 0 {
			continue
		}
		best, bestCost := "", len(s.Elements) // writing the set anew costs its elements
		if any {
			bestCost = math.MaxInt
		}
		for _, g := range gone {
			// The difference is at least that of the sizes: a cheap way past most.
			if taken[g.Name] || !alike(g, s) || abs(len(g.Elements)-len(s.Elements)) >= bestCost || budget <= 0 {
				continue
			}
			budget -= len(g.Elements) + len(s.Elements)
			if cost := symmetricDifference(g.Elements, s.Elements, bestCost); cost < bestCost {
				best, bestCost = g.Name, cost
			}
		}
		if best != "" {
			taken[best] = true
			renamed[s.Name] = best
		}
	}
	if len(renamed) == 0 {
		return
	}
	for _, s := range p.Sets {
		if to, ok := renamed[s.Name]; ok {
			s.Name = to
		}
	}
	slices.SortFunc(p.Sets, func(a, b *Set) int { return strings.Compare(a.Name, b.Name) })
	for _, c := range p.Chains {
		for i := range c.Rules {
			c.Rules[i] = c.Rules[i].renameSets(renamed)
		}
	}
}

// alike reports whether a set can take over another's name: same key, same kind, same
// role (the part of the name after the last '_': "ports4", "addrs6", ...).
func alike(a, b *Set) bool {
	return a.Key == b.Key && a.Interval == b.Interval && a.Map == b.Map && role(a.Name) == role(b.Name)
}

func abs(n int) int { return max(n, -n) }

func role(name string) string { return name[strings.LastIndexByte(name, '_')+1:] }

// symmetricDifference counts the elements in exactly one of two sorted lists (an
// element that changes its verdict is deleted and added: it counts once), giving up
// (returning limit) once the count reaches limit.
func symmetricDifference(a, b []Element, limit int) int {
	n := 0
	walkDifference(a, b, func(_, _ *Element) bool {
		n++
		return n < limit
	})
	return min(n, limit)
}

// renameSets returns the rule with the sets it looks up renamed.
func (r Rule) renameSets(to map[string]string) Rule {
	name := func(s string) string {
		if n, ok := to[s]; ok {
			return n
		}
		return s
	}
	var ms []match
	for i, m := range r.matches {
		var nm match
		switch m := m.(type) {
		case addrMatch:
			m.set = name(m.set)
			nm = m
		case tupleMatch:
			m.set = name(m.set)
			nm = m
		case pairMatch:
			m.set = name(m.set)
			nm = m
		default:
			if ms != nil {
				ms = append(ms, m)
			}
			continue
		}
		if ms == nil {
			ms = append(make([]match, 0, len(r.matches)), r.matches[:i]...)
		}
		ms = append(ms, nm)
	}
	if ms != nil {
		r.matches = ms
	}
	if r.verdict.Kind == VMap {
		r.verdict.Target = name(r.verdict.Target)
	}
	return r
}
