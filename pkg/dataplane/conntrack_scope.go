package dataplane

import (
	"net/netip"
	"sort"

	"go4.org/netipx"

	"github.com/netwarden/netwarden/pkg/policy"
)

// Finding the connections a change denies without judging every tracked connection rests
// on two facts about programs:
//
//   - Every set lookup is keyed by the packet's source or destination address. A
//     connection neither of whose addresses is in a changed element meets the same
//     lookups, hence the same chains (a chain both programs have has the same rules, and
//     a new one is reached only through a changed dispatch element), hence the same
//     verdict.
//   - Some changes only ever let more through: an element added to a set that only
//     allowing rules read, or removed from one that only dropping rules read, or a pod's
//     dispatch element removed. Such a change cannot deny a connection, whatever else
//     changes with it, so only the other changes need their addresses looked at.

// DenyScope is what a change may newly deny: nothing, everything, or the connections with
// an end in a set of addresses. The zero value is nothing.
type DenyScope struct {
	all   bool
	addrs *netipx.IPSet
}

// DenyAll is the scope of a change nothing is known about (a table replaced whole).
func DenyAll() DenyScope { return DenyScope{all: true} }

// Empty reports whether the change cannot deny any connection.
func (s DenyScope) Empty() bool {
	return !s.all && (s.addrs == nil || len(s.addrs.Ranges()) == 0)
}

// All reports whether every connection must be judged again.
func (s DenyScope) All() bool { return s.all }

// Touches reports whether a connection between src and dst (the original source and the
// reply's source) is in the scope.
func (s DenyScope) Touches(src, dst netip.Addr) bool {
	if s.all {
		return true
	}
	if s.addrs == nil {
		return false
	}
	return s.addrs.Contains(src.Unmap()) || s.addrs.Contains(dst.Unmap())
}

// Union is the scope of two changes made one after the other: a connection started
// between them is judged by the second, one started before by both.
func (s DenyScope) Union(o DenyScope) DenyScope {
	switch {
	case s.all || o.all:
		return DenyAll()
	case s.Empty():
		return o
	case o.Empty():
		return s
	}
	var b netipx.IPSetBuilder
	b.AddSet(s.addrs)
	b.AddSet(o.addrs)
	set, _ := b.IPSet()
	return DenyScope{addrs: set}
}

// singleAddrs returns the scope's addresses when it has at most max.
func (s DenyScope) singleAddrs(max int) ([]netip.Addr, bool) {
	if s.all || s.addrs == nil {
		return nil, false
	}
	var out []netip.Addr
	for _, r := range s.addrs.Ranges() {
		for a := r.From(); ; a = a.Next() {
			if len(out) == max {
				return nil, false
			}
			out = append(out, a)
			if a == r.To() {
				break
			}
		}
	}
	return out, true
}

// Prefixes lists the scope's addresses (nil for All), for logs and tests.
func (s DenyScope) Prefixes() []netip.Prefix {
	if s.all || s.addrs == nil {
		return nil
	}
	return s.addrs.Prefixes()
}

// MayDeny reports whether applying d, the delta Diff found from old to new, can deny a
// connection old allowed. A delta that only adds peers to allowing sets, or pods that no
// policy selects, cannot.
func (d Delta) MayDeny(old, new *Program) bool { return !DenialScope(old, new, d).Empty() }

// DenialScope returns the connections that applying d (Diff(old, new)) may newly deny.
// With no old program it is DenyAll.
func DenialScope(old, new *Program, d Delta) DenyScope {
	if old == nil || new == nil {
		return DenyAll()
	}
	pol := polarities(old, new)
	var b netipx.IPSetBuilder
	any := false
	add := func(name string, es []Element, added bool) {
		for i := range es {
			if !added && es[i].Addr == es[i].Dst && !dispatched(new, es[i].Addr) {
				// A pod's own pair gone with the pod: nothing judges its address now.
				continue
			}
			if pol.denies(name, &es[i], added) {
				addElement(&b, &es[i])
				any = true
			}
		}
	}
	for name, es := range d.Delete {
		add(name, es, false)
	}
	for name, es := range d.Add {
		add(name, es, true)
	}
	for _, name := range d.Refill {
		was, now := old.Set(name), new.Set(name)
		if was == nil || now == nil {
			return DenyAll()
		}
		del, ins := diffSorted(was.Elements, now.Elements)
		add(name, del, false)
		add(name, ins, true)
	}
	if !any {
		return DenyScope{}
	}
	set, err := b.IPSet()
	if err != nil {
		return DenyAll()
	}
	return DenyScope{addrs: set}
}

// dispatched reports whether p sends packets of the address to a chain of its own.
func dispatched(p *Program, a netip.Addr) bool {
	for _, d := range [...]policy.Direction{policy.Egress, policy.Ingress} {
		s := p.Set(dispatchMap(d, familyOf(a)))
		if s == nil {
			continue
		}
		i := sort.Search(len(s.Elements), func(i int) bool { return s.Elements[i].Addr.Compare(a) >= 0 })
		if i < len(s.Elements) && s.Elements[i].Addr == a {
			return true
		}
	}
	return false
}

// addElement adds the addresses a lookup must carry to find the element.
func addElement(b *netipx.IPSetBuilder, e *Element) {
	a := e.Addr.Unmap()
	if e.Last.IsValid() && e.Last != e.Addr {
		b.AddRange(netipx.IPRangeFrom(a, e.Last.Unmap()))
	} else {
		b.Add(a)
	}
	if e.Dst.IsValid() {
		b.Add(e.Dst.Unmap())
	}
}

// polarity is how changing a set's elements can deny a connection.
type polarity uint8

const (
	addDenies polarity = 1 << iota // an added element can make a rule drop more, or allow less
	delDenies                      // a removed element can
	isVMap                         // a verdict map: it depends on the element's verdict
)

type polarityMap map[string]polarity

// polarities reads, from the rules of both programs, which changes of each set can deny.
// A rule that returns from a per-pod chain allows its direction (the dispatcher goes on
// to the other direction, and the base chain's policy accepts): growing its sets allows
// more. That holds while per-pod chains are entered only from the base chains' verdict
// maps, or by goto from one another; a program made otherwise has every change count.
//
// Per-pod chains look peers up in verdict maps whose elements goto account chains: an
// element's change then denies as its account's verdict says (an allow account's element
// added only allows more, a deny account's removed only allows more, a pass can do
// either). A log wrapper's jump to a pod's chain is followed by log rules only, so the
// pod's chain returning still allows.
func polarities(ps ...*Program) polarityMap {
	out := polarityMap{}
	for _, p := range ps {
		toAccounts := map[string]bool{}
		for chain, name := range p.acctChains {
			a, _ := p.Account(name)
			switch a.Verdict {
			case AccountAllow:
				out[acctKey(chain)] |= delDenies
			case AccountDeny:
				out[acctKey(chain)] |= addDenies
			default:
				out[acctKey(chain)] |= addDenies | delDenies
			}
		}
		for _, c := range p.Chains {
			for i, r := range c.Rules {
				var pl polarity
				switch k := r.verdict.Kind; {
				case k == Accept, k == Return: // in a base chain, return is its policy: accept
					pl = delDenies
				case k == Drop:
					pl = addDenies
				default:
					pl = addDenies | delDenies
				}
				if c.Hook == "" && (r.verdict.Kind == Jump && !onlyStatementsAfter(c.Rules[i+1:]) ||
					r.verdict.Kind == VMap && !p.mapToAccounts(r.verdict.Target, toAccounts)) {
					out["\x00"] = addDenies | delDenies // structure the reading above does not cover
				}
				if r.verdict.Kind == VMap {
					out[r.verdict.Target] |= isVMap
				}
				for _, m := range r.matches {
					switch m := m.(type) {
					case addrMatch:
						out[m.set] |= pl
					case tupleMatch:
						out[m.set] |= pl
					case pairMatch:
						out[m.set] |= pl
					}
				}
			}
		}
	}
	return out
}

// acctKey is where polarities keeps the polarity of an account chain's elements.
func acctKey(chain string) string { return "\x01" + chain }

func onlyStatementsAfter(rules []Rule) bool {
	for _, r := range rules {
		if r.verdict.Kind != Continue {
			return false
		}
	}
	return true
}

// mapToAccounts reports whether every element of the map goes to an account chain;
// memo keeps the answers, since many chains share a map.
func (p *Program) mapToAccounts(name string, memo map[string]bool) bool {
	if ok, seen := memo[name]; seen {
		return ok
	}
	s := p.Set(name)
	ok := s != nil
	for i := 0; ok && i < len(s.Elements); i++ {
		v := s.Elements[i].Verdict
		_, acct := p.acctChains[v.Target]
		ok = acct && v.Kind == Goto
	}
	memo[name] = ok
	return ok
}

func (pm polarityMap) denies(set string, e *Element, added bool) bool {
	if pm["\x00"] != 0 {
		return true
	}
	pl := pm[set]
	if ap, ok := pm[acctKey(e.Verdict.Target)]; ok && pl&isVMap != 0 && e.Verdict.Kind == Goto {
		if added {
			return ap&addDenies != 0
		}
		return ap&delDenies != 0
	}
	if pl&isVMap != 0 {
		// Without its element, an address goes on to the base chain's next rules, as
		// after a jump that returned; an added jump may lead to a drop.
		switch k := e.Verdict.Kind; {
		case added && k != Accept:
			return true
		case !added && k != Jump && k != Drop:
			return true
		}
	}
	if added {
		return pl&addDenies != 0
	}
	return pl&delDenies != 0
}
