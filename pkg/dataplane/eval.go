package dataplane

import (
	"net/netip"
	"sort"

	"github.com/netwarden/netwarden/pkg/policy"
)

// Evaluating a program in Go serves two ends: tests hold every compiled program to the
// engine's decisions without a kernel, and after a policy change the agent finds which
// tracked connections the new program would refuse (see Conn.Apply).

// Allows reports whether the program accepts the first packet of a new connection from
// src to dst on port, as the forward chain decides it (a connection between local pods
// must pass egress at the source and ingress at the destination).
func (p *Program) Allows(src, dst netip.Addr, port policy.Port) bool {
	ev := p.index()
	v := ev.chain(p.Chain("forward"), packet{src.Unmap(), dst.Unmap(), port}, 0, nil)
	return v != Drop
}

// allowsDirection reports what the program decides for one direction only: egress of the
// local pod at subject towards peer, or ingress of the one at subject from peer.
func (p *Program) allowsDirection(d policy.Direction, subject, peer netip.Addr, port policy.Port) bool {
	allowed, _ := p.decideDirection(d, subject, peer, port)
	return allowed
}

// decideDirection is allowsDirection that also names the account that decided: the
// last account other than a pass the packet was counted in, "" when none (the default
// allows, or the pod's own node).
func (p *Program) decideDirection(d policy.Direction, subject, peer netip.Addr, port policy.Port) (allowed bool, account string) {
	ev := p.index()
	pkt := packet{subject, peer, port}
	if d == policy.Ingress {
		pkt = packet{peer, subject, port}
	}
	m := ev.sets[dispatchMap(d, familyOf(subject))]
	if m == nil {
		return true, ""
	}
	el, ok := m.exact[Element{Addr: subject}]
	if !ok {
		return true, ""
	}
	tr := &trace{}
	return ev.verdict(el.Verdict, pkt, 0, tr) != Drop, tr.account
}

// trace records the accounts a packet is counted in.
type trace struct{ account string }

type packet struct {
	src, dst netip.Addr
	port     policy.Port
}

func (k packet) addr(f Field) netip.Addr {
	if f == Daddr {
		return k.dst
	}
	return k.src
}

// evaluator indexes a program's sets for lookups.
type evaluator struct {
	p    *Program
	sets map[string]*setIndex
}

type setIndex struct {
	s     *Set
	exact map[Element]Element // key fields only -> the element (with its verdict)
	// Interval sets: address ranges sorted by first address, per (protocol, port range)
	// for tuple sets (one group with zero protocol and ports for address sets). The
	// ranges of one group never overlap.
	spans []span
}

type span struct {
	proto  policy.Proto
	lo, hi uint16
	firsts []netip.Addr
	lasts  []netip.Addr
	els    []Element
}

// index returns the program's evaluator, built on first use: a Program must not be
// changed once it has been evaluated.
func (p *Program) index() *evaluator {
	p.evalOnce.Do(func() { p.eval = p.newEvaluator() })
	return p.eval
}

func (p *Program) newEvaluator() *evaluator {
	ev := &evaluator{p: p, sets: map[string]*setIndex{}}
	for _, s := range p.Sets {
		ix := &setIndex{s: s}
		if s.Interval {
			ix.spans = spansOf(s.Elements)
		} else {
			ix.exact = make(map[Element]Element, len(s.Elements))
			for _, e := range s.Elements {
				k := e
				k.Verdict = Verdict{}
				ix.exact[k] = e
			}
		}
		ev.sets[s.Name] = ix
	}
	return ev
}

func spansOf(es []Element) []span {
	at := map[[3]int]int{}
	var out []span
	for _, e := range es { // sorted by address
		k := [3]int{int(e.Proto), int(e.Port), int(e.PortLast)}
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, span{proto: e.Proto, lo: e.Port, hi: e.PortLast})
		}
		out[i].firsts = append(out[i].firsts, e.Addr)
		out[i].lasts = append(out[i].lasts, e.Last)
		out[i].els = append(out[i].els, e)
	}
	return out
}

func (ix *setIndex) has(k Element) bool {
	_, ok := ix.get(k)
	return ok
}

// get returns the element holding key k (its key fields set, Last and Verdict not).
func (ix *setIndex) get(k Element) (Element, bool) {
	if ix == nil {
		return Element{}, false
	}
	if !ix.s.Interval {
		e, ok := ix.exact[k]
		return e, ok
	}
	for i := range ix.spans {
		sp := &ix.spans[i]
		if sp.proto != k.Proto || k.Port < sp.lo || k.Port > sp.hi {
			continue
		}
		// The last range starting at or before the address.
		j := sort.Search(len(sp.firsts), func(j int) bool { return sp.firsts[j].Compare(k.Addr) > 0 }) - 1
		if j >= 0 && k.Addr.Compare(sp.lasts[j]) <= 0 {
			return sp.els[j], true
		}
	}
	return Element{}, false
}

// maxDepth bounds jumps, as the kernel does (it refuses loops when loading).
const maxDepth = 16

// chain runs a chain: Accept or Drop when a rule decided, Return when the chain returned
// or ran out of rules (a base chain's policy, accept, applies then). Statements do not
// change what a packet gets: a rule with a limit matches as if the limit had room, so
// verdicts never depend on logging. tr, when set, records the accounts reached.
func (ev *evaluator) chain(c *Chain, k packet, depth int, tr *trace) VerdictKind {
	if c == nil || depth > maxDepth {
		return Return
	}
	for _, r := range c.Rules {
		if !ev.matches(r, k) {
			continue
		}
		if r.verdict.Kind == VMap {
			ix := ev.sets[r.verdict.Target]
			if ix == nil || familyOf(k.src) != r.verdict.Family {
				continue
			}
			key := Element{Addr: k.addr(r.verdict.Field)}
			if r.verdict.Ports {
				if !k.port.HasPort() {
					continue
				}
				key.Proto, key.Port = k.port.Proto, k.port.Num
			}
			el, ok := ix.get(key)
			if !ok {
				continue
			}
			v := ev.verdict(el.Verdict, k, depth, tr)
			if v == Continue {
				continue
			}
			return v
		}
		if v := ev.verdict(r.verdict, k, depth, tr); v != Continue {
			return v
		}
	}
	return Return
}

// verdict applies a verdict: Continue means go on with the next rule (after a jump that
// returned).
func (ev *evaluator) verdict(v Verdict, k packet, depth int, tr *trace) VerdictKind {
	switch v.Kind {
	case Accept, Drop, Return:
		return v.Kind
	case Jump:
		ev.enter(v.Target, tr)
		if r := ev.chain(ev.p.Chain(v.Target), k, depth+1, tr); r != Return {
			return r
		}
		return Continue
	case Goto:
		ev.enter(v.Target, tr)
		return ev.chain(ev.p.Chain(v.Target), k, depth+1, tr)
	}
	return Continue
}

// enter records an account chain in tr; a pass is not what decides.
func (ev *evaluator) enter(chain string, tr *trace) {
	if tr == nil {
		return
	}
	if a, ok := ev.p.acctChains[chain]; ok {
		if acct, _ := ev.p.Account(a); acct.Verdict != AccountPass {
			tr.account = a
		}
	}
}

func (ev *evaluator) matches(r Rule, k packet) bool {
	fam := familyOf(k.src)
	for _, m := range r.matches {
		switch m := m.(type) {
		case ctStateMatch:
			if m.bits&ctNew == 0 {
				return false
			}
		case addrMatch:
			if m.fam != fam || !ev.sets[m.set].has(Element{Addr: k.addr(m.f)}) {
				return false
			}
		case portMatch:
			if k.port.Proto != m.proto {
				return false
			}
			if !m.allPorts() && !(k.port.HasPort() && m.lo <= k.port.Num && k.port.Num <= m.hi) {
				return false
			}
		case tupleMatch:
			if m.fam != fam || !k.port.HasPort() ||
				!ev.sets[m.set].has(Element{Addr: k.addr(m.f), Proto: k.port.Proto, Port: k.port.Num}) {
				return false
			}
		case pairMatch:
			if m.fam != fam || !ev.sets[m.set].has(Element{Addr: k.src, Dst: k.dst}) {
				return false
			}
		case icmpv6TypeMatch:
			// Neighbor discovery is not a connection; what policies decide never is.
			return false
		default:
			return false
		}
	}
	return true
}
