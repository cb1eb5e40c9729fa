package analysis

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// Hints for selectors that match nothing. A misspelt key or value is the common cause, so
// each requirement that no candidate satisfies is compared with the keys and values that
// exist, by edit distance.

// labelHint explains why sel matches none of sets ("pod" or "namespace" label sets) and
// suggests the nearest existing key or value. It returns "" when every requirement is met
// by some set (the requirements only fail together).
func labelHint(what string, sel labels.Selector, sets []labels.Set) string {
	reqs, ok := sel.Requirements()
	if !ok {
		return ""
	}
	keys := map[string]map[string]bool{}
	for _, s := range sets {
		for k, v := range s {
			if keys[k] == nil {
				keys[k] = map[string]bool{}
			}
			keys[k][v] = true
		}
	}
	var hints []string
	for _, r := range reqs {
		satisfied := false
		for _, s := range sets {
			if r.Matches(s) {
				satisfied = true
				break
			}
		}
		if satisfied {
			continue
		}
		k := r.Key()
		switch r.Operator() {
		case selection.In, selection.Equals, selection.DoubleEquals, selection.Exists, selection.GreaterThan, selection.LessThan:
			vals, have := keys[k]
			if !have {
				h := fmt.Sprintf("no %s has the label key %q", what, k)
				if n := nearest(k, sortedKeys(keys)); n != "" {
					h += fmt.Sprintf("; did you mean %q?", n)
				}
				hints = append(hints, h)
				continue
			}
			existing := sortedKeys(vals)
			for _, want := range r.Values().List() {
				if vals[want] {
					continue
				}
				h := fmt.Sprintf("no %s has %s=%s", what, k, want)
				if n := nearest(want, existing); n != "" {
					h += fmt.Sprintf("; did you mean %s=%s?", k, n)
				} else {
					h += fmt.Sprintf(" (values of %s: %s)", k, listSome(existing, 5))
				}
				hints = append(hints, h)
				break
			}
		default:
			hints = append(hints, fmt.Sprintf("every %s fails %s", what, r.String()))
		}
	}
	return strings.Join(hints, "; ")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func listSome(ss []string, n int) string {
	if len(ss) <= n {
		return strings.Join(ss, ", ")
	}
	return strings.Join(ss[:n], ", ") + fmt.Sprintf(", and %d more", len(ss)-n)
}

// nearest returns the candidate closest to s by edit distance, if it is close enough to be
// a plausible typo (a case difference, or at most a third of the characters, and at least
// one, changed); ties go to the first in order.
func nearest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		if c == s {
			continue
		}
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := max(1, len(s)/3)
	if bestD < 0 || bestD > limit {
		return ""
	}
	return best
}

// editDistance is the optimal-string-alignment distance over bytes (label keys and values
// are ASCII): insertions, deletions, substitutions, and swaps of two neighbours, the
// commonest typo ("wbe" for "web").
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
