package dataplane

import (
	"sort"
	"strings"
)

// Delta turns one program into another of the same structure by changing set elements
// only: what pods coming and going (on this node or any other) amount to.
type Delta struct {
	// Delete and Add are elements of hash sets and verdict maps, by set name. Deletes go
	// first, so a map element whose verdict changed is replaced.
	Delete map[string][]Element
	Add    map[string][]Element
	// Refill names interval sets whose contents changed; they are flushed and filled
	// anew (deleting single ranges would need their neighbours' boundaries).
	Refill []string
}

// Empty reports whether the delta changes nothing.
func (d Delta) Empty() bool { return len(d.Delete)+len(d.Add)+len(d.Refill) == 0 }

// Diff returns the element changes from old to new, or ok false when their structure
// differs (table, set types, chains or rules) and only Apply can get from one to the
// other.
func Diff(old, new *Program) (d Delta, ok bool) {
	if old == nil || new == nil || old.shape() != new.shape() {
		return Delta{}, false
	}
	d = Delta{Delete: map[string][]Element{}, Add: map[string][]Element{}}
	for i, ns := range new.Sets {
		was := old.Sets[i] // same shape: same sets in the same order
		if ns.Interval {
			if !equalElements(was.Elements, ns.Elements) {
				d.Refill = append(d.Refill, ns.Name)
			}
			continue
		}
		del, add := diffSorted(was.Elements, ns.Elements)
		if len(del) > 0 {
			d.Delete[ns.Name] = del
		}
		if len(add) > 0 {
			d.Add[ns.Name] = add
		}
	}
	return d, true
}

func equalElements(a, b []Element) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// diffSorted walks two sorted element lists once and returns what only a has and what
// only b has. An element whose key is in both with another verdict is in both results.
func diffSorted(a, b []Element) (onlyA, onlyB []Element) {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			i, j = i+1, j+1
		case a[i].less(b[j]):
			onlyA = append(onlyA, a[i])
			i++
		case b[j].less(a[i]):
			onlyB = append(onlyB, b[j])
			j++
		default:
			onlyA, onlyB = append(onlyA, a[i]), append(onlyB, b[j])
			i, j = i+1, j+1
		}
	}
	return append(onlyA, a[i:]...), append(onlyB, b[j:]...)
}

// shape is the program without set elements: equal shapes differ in elements only.
func (p *Program) shape() string {
	var b strings.Builder
	b.WriteString(p.Table + "\n")
	for _, s := range p.Sets {
		empty := *s
		empty.Elements = nil
		empty.write(&b)
	}
	for _, c := range p.Chains {
		c.write(&b)
	}
	return b.String()
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
