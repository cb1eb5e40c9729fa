package e2emodel

import (
	"fmt"
	"strings"
)

// Table is the expected reachability on one probe: Table[src][dst] is true when the pod
// with table index src may connect to the pod with index dst (see PodKeys for the order).
// Tables are values: the builder methods return changed copies.
type Table [PodCount][PodCount]bool

// Allowed is the table of a cluster without policies: everything reaches everything.
func Allowed() Table {
	var t Table
	for i := range t {
		for j := range t[i] {
			t[i][j] = true
		}
	}
	return t
}

// Denied is the table where nothing reaches anything, except each pod itself.
func Denied() Table {
	var t Table
	for i := range t {
		t[i][i] = true
	}
	return t
}

// Allow returns t with the pairs matched by pattern allowed.
func (t Table) Allow(pattern string) Table { return t.set(pattern, true) }

// Deny returns t with the pairs matched by pattern denied. A pod talking to itself is always
// allowed (the traffic never leaves its network namespace), so Deny leaves the diagonal be.
func (t Table) Deny(pattern string) Table { return t.set(pattern, false) }

// set applies a pattern "SRC -> DST". Each side is "*" (every pod) or "NS/POD", where NS and
// POD are "*" or comma-separated names: "x/*", "*/a", "y,z/b,c".
func (t Table) set(pattern string, allowed bool) Table {
	from, to, ok := strings.Cut(pattern, "->")
	if !ok {
		panic(fmt.Sprintf("e2emodel: pattern %q: want SRC -> DST", pattern))
	}
	srcs, dsts := matchPods(strings.TrimSpace(from)), matchPods(strings.TrimSpace(to))
	for _, s := range srcs {
		for _, d := range dsts {
			if s != d || allowed {
				t[s][d] = allowed
			}
		}
	}
	return t
}

func matchPods(side string) []int {
	nsPart, podPart := "*", "*"
	if side != "*" {
		var ok bool
		if nsPart, podPart, ok = strings.Cut(side, "/"); !ok {
			panic(fmt.Sprintf("e2emodel: pod pattern %q: want NS/POD", side))
		}
	}
	nsOK, podOK := names(nsPart, Namespaces), names(podPart, PodNames)
	var out []int
	for i := range PodCount {
		if nsOK[i/len(PodNames)] && podOK[i%len(PodNames)] {
			out = append(out, i)
		}
	}
	return out
}

func names(part string, all []string) []bool {
	ok := make([]bool, len(all))
	for _, n := range strings.Split(part, ",") {
		found := false
		for i, a := range all {
			if n == "*" || n == a {
				ok[i], found = true, true
			}
		}
		if !found {
			panic(fmt.Sprintf("e2emodel: %q is not one of %v", n, all))
		}
	}
	return ok
}

// Get reports whether the pod with key from may reach the pod with key to.
func (t Table) Get(from, to string) bool {
	i, j := PodIndex(from), PodIndex(to)
	if i < 0 || j < 0 {
		panic(fmt.Sprintf("e2emodel: unknown pod %q or %q", from, to))
	}
	return t[i][j]
}

// String renders the table as the upstream suite prints reachability: sources down,
// destinations across, "." for allowed and "X" for denied.
func (t Table) String() string {
	var b strings.Builder
	keys := PodKeys()
	b.WriteString("   ")
	for _, k := range keys {
		b.WriteString(" " + k)
	}
	b.WriteByte('\n')
	for i, k := range keys {
		b.WriteString(k)
		for j := range keys {
			c := "X"
			if t[i][j] {
				c = "."
			}
			b.WriteString("   " + c)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// ParseTable reads the String form back; whitespace between cells does not matter.
func ParseTable(s string) (Table, error) {
	var t Table
	keys := PodKeys()
	rows := 0
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || (len(f) == PodCount && f[0] == keys[0]) {
			continue // blank or header
		}
		if len(f) != PodCount+1 {
			return t, fmt.Errorf("row %q: want a pod and %d cells", line, PodCount)
		}
		i := PodIndex(f[0])
		if i < 0 {
			return t, fmt.Errorf("row %q: unknown pod %q", line, f[0])
		}
		for j, c := range f[1:] {
			switch c {
			case ".":
				t[i][j] = true
			case "X":
			default:
				return t, fmt.Errorf("row %q: cell %q is neither . nor X", line, c)
			}
		}
		rows++
	}
	if rows != PodCount {
		return t, fmt.Errorf("want %d rows, got %d", PodCount, rows)
	}
	return t, nil
}

// Diff lists the pairs on which got differs from t (the expectation), one per line, as
// "x/a -> y/b: want allowed, got denied". It is empty when the tables agree.
func (t Table) Diff(got Table) []string {
	var out []string
	keys := PodKeys()
	word := map[bool]string{true: "allowed", false: "denied"}
	for i := range t {
		for j := range t[i] {
			if t[i][j] != got[i][j] {
				out = append(out, fmt.Sprintf("%s -> %s: want %s, got %s", keys[i], keys[j], word[t[i][j]], word[got[i][j]]))
			}
		}
	}
	return out
}
