package dataplane

import (
	"slices"
	"sort"
)

// Delta turns one program into another by changing only what differs: set elements (what
// pods coming and going amount to, on this node or any other), and the sets and chains
// that only one of them has (what a new policy, or a local pod with a new combination of
// policies, amounts to). Chains are named by their rules, so a chain both programs have
// is the same chain; the base chains never change.
type Delta struct {
	// Delete and Add are elements of existing hash sets, verdict maps and concatenated
	// interval sets, by set name. Deletes go first, so a map element whose verdict
	// changed is replaced.
	Delete map[string][]Element
	Add    map[string][]Element
	// Refill names interval sets of single addresses whose contents changed; they are
	// flushed and filled anew (the kernel keeps their ranges as boundaries shared with
	// the neighbours, so single ranges do not delete cleanly). They change only with
	// policies.
	Refill []string

	// AddSets and AddChains are created, with their elements and rules, before any
	// element changes (new dispatch elements jump to new chains); DeleteChains and
	// DeleteSets are removed after them (once nothing refers to them). Sorted.
	AddSets, DeleteSets     []string
	AddChains, DeleteChains []string

	// AddObjects are the stateful objects (objects.go) only new has, made first of all
	// (new rules count in them); DeleteObjects those only old has, removed last of all
	// (once the rules counting in them are gone). The objects both have stay as they
	// are, with their counts. In the order of Program.Objects.
	AddObjects, DeleteObjects []Object
}

// Empty reports whether the delta changes nothing.
func (d Delta) Empty() bool {
	return len(d.Delete)+len(d.Add)+len(d.Refill)+len(d.AddSets)+len(d.DeleteSets)+len(d.AddChains)+len(d.DeleteChains)+
		len(d.AddObjects)+len(d.DeleteObjects) == 0
}

// Elements counts the elements the delta writes (deleted, added, and refilled or in new
// sets).
func (d Delta) Elements(new *Program) int {
	n := 0
	for _, es := range d.Delete {
		n += len(es)
	}
	for _, es := range d.Add {
		n += len(es)
	}
	for _, name := range append(append([]string(nil), d.Refill...), d.AddSets...) {
		if s := new.Set(name); s != nil {
			n += len(s.Elements)
		}
	}
	return n
}

// Diff returns the changes from old to new, or ok false when only Apply can get from one
// to the other: another table name, other base chains, a set whose type changed, or a
// log limit whose rate changed (which replaces the table, so its counts start again).
//
// It costs little when little changed: sets whose digests are equal are skipped without
// looking at their elements, so the time goes to the sets that did change.
func Diff(old, new *Program) (d Delta, ok bool) {
	if old == nil || new == nil || old.Table != new.Table {
		return Delta{}, false
	}
	d = Delta{Delete: map[string][]Element{}, Add: map[string][]Element{}}

	// Sets: both lists are sorted by name.
	i, j := 0, 0
	for i < len(old.Sets) || j < len(new.Sets) {
		switch {
		case j == len(new.Sets) || i < len(old.Sets) && old.Sets[i].Name < new.Sets[j].Name:
			d.DeleteSets = append(d.DeleteSets, old.Sets[i].Name)
			i++
		case i == len(old.Sets) || new.Sets[j].Name < old.Sets[i].Name:
			d.AddSets = append(d.AddSets, new.Sets[j].Name)
			j++
		default:
			was, ns := old.Sets[i], new.Sets[j]
			i, j = i+1, j+1
			if was.Key != ns.Key || was.Interval != ns.Interval || was.Map != ns.Map {
				return Delta{}, false
			}
			if len(was.Elements) == len(ns.Elements) && was.Digest() == ns.Digest() {
				continue
			}
			if ns.Interval && !ns.Key.concat() {
				d.Refill = append(d.Refill, ns.Name)
				continue
			}
			del, add := diffSets(was, ns)
			if len(del) > 0 {
				d.Delete[ns.Name] = del
			}
			if len(add) > 0 {
				d.Add[ns.Name] = add
			}
		}
	}

	// Chains: base chains must be equal; the others are equal when their names are.
	oldChains := make(map[string]*Chain, len(old.Chains))
	for _, c := range old.Chains {
		oldChains[c.Name] = c
	}
	seen := make(map[string]bool, len(new.Chains))
	for _, c := range new.Chains {
		seen[c.Name] = true
		was := oldChains[c.Name]
		switch {
		case was == nil && c.Hook != "":
			return Delta{}, false
		case was == nil:
			d.AddChains = append(d.AddChains, c.Name)
		case was.Hook != c.Hook || !sameRules(was.Rules, c.Rules):
			return Delta{}, false
		}
	}
	for _, c := range old.Chains {
		if !seen[c.Name] {
			if c.Hook != "" {
				return Delta{}, false
			}
			d.DeleteChains = append(d.DeleteChains, c.Name)
		}
	}
	sort.Strings(d.AddChains)
	sort.Strings(d.DeleteChains)
	if !diffObjects(&d, old, new) {
		return Delta{}, false
	}
	return d, true
}

// diffObjects adds to d the objects only one program has: counters by a walk of both
// sorted account lists, then the log limit. It is false when both have the limit with
// another rate: nothing updates a limit in place.
func diffObjects(d *Delta, old, new *Program) bool {
	a, b := old.Accounts, new.Accounts
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i].Name < b[j].Name:
			d.DeleteObjects = append(d.DeleteObjects, Object{Type: ObjCounter, Name: a[i].Name})
			i++
		case i == len(a) || b[j].Name < a[i].Name:
			d.AddObjects = append(d.AddObjects, Object{Type: ObjCounter, Name: b[j].Name})
			j++
		default:
			i, j = i+1, j+1
		}
	}
	was, is := old.logLimit(), new.logLimit()
	switch {
	case was != nil && is != nil:
		return *was == *is
	case is != nil:
		d.AddObjects = append(d.AddObjects, *is)
	case was != nil:
		d.DeleteObjects = append(d.DeleteObjects, *was)
	}
	return true
}

func sameRules(a, b []Rule) bool {
	return slices.EqualFunc(a, b, func(x, y Rule) bool {
		return x.verdict == y.verdict && x.comment == y.comment && slices.Equal(x.matches, y.matches) && slices.Equal(x.stmts, y.stmts)
	})
}

// diffSets returns what only a has and what only b has, skipping the chunks they share
// when both are big.
func diffSets(a, b *Set) (onlyA, onlyB []Element) {
	a.Digest()
	b.Digest()
	if a.chunks == nil || b.chunks == nil {
		return diffSorted(a.Elements, b.Elements)
	}
	ea, eb := a.Elements, b.Elements
	start := func(cs []chunk, k int) int32 {
		if k == 0 {
			return 0
		}
		return cs[k-1].end
	}
	i, j, ci, cj := 0, 0, 0, 0
	for i < len(ea) && j < len(eb) {
		if ci < len(a.chunks) && cj < len(b.chunks) && int32(i) == start(a.chunks, ci) && int32(j) == start(b.chunks, cj) &&
			a.chunks[ci].sum == b.chunks[cj].sum && a.chunks[ci].end-int32(i) == b.chunks[cj].end-int32(j) {
			i, j = int(a.chunks[ci].end), int(b.chunks[cj].end)
			ci, cj = ci+1, cj+1
			continue
		}
		if ea[i] == eb[j] {
			i, j = i+1, j+1
		} else {
			switch c := compareElements(&ea[i], &eb[j]); {
			case c < 0:
				onlyA = append(onlyA, ea[i])
				i++
			case c > 0:
				onlyB = append(onlyB, eb[j])
				j++
			default:
				onlyA, onlyB = append(onlyA, ea[i]), append(onlyB, eb[j])
				i, j = i+1, j+1
			}
		}
		for ci < len(a.chunks) && int(a.chunks[ci].end) <= i {
			ci++
		}
		for cj < len(b.chunks) && int(b.chunks[cj].end) <= j {
			cj++
		}
	}
	return append(onlyA, ea[i:]...), append(onlyB, eb[j:]...)
}

// diffSorted walks two sorted element lists once and returns what only a has and what
// only b has. An element whose key is in both with another verdict is in both results.
func diffSorted(a, b []Element) (onlyA, onlyB []Element) {
	walkDifference(a, b, func(ea, eb *Element) bool {
		if ea != nil {
			onlyA = append(onlyA, *ea)
		}
		if eb != nil {
			onlyB = append(onlyB, *eb)
		}
		return true
	})
	return onlyA, onlyB
}

// walkDifference walks two sorted element lists once and calls f for each difference:
// an element only a has (eb nil), one only b has (ea nil), or a key both have with
// other verdicts (both set). It stops when f returns false.
func walkDifference(a, b []Element, f func(ea, eb *Element) bool) {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i] == b[j] {
			i, j = i+1, j+1
			continue
		}
		var more bool
		switch c := compareElements(&a[i], &b[j]); {
		case c < 0:
			more = f(&a[i], nil)
			i++
		case c > 0:
			more = f(nil, &b[j])
			j++
		default:
			more = f(&a[i], &b[j])
			i, j = i+1, j+1
		}
		if !more {
			return
		}
	}
	for ; i < len(a); i++ {
		if !f(&a[i], nil) {
			return
		}
	}
	for ; j < len(b); j++ {
		if !f(nil, &b[j]) {
			return
		}
	}
}

// sortedKeys returns a map's keys in order, so transactions are built deterministically.
func sortedKeys(m map[string][]Element) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
