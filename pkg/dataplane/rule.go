package dataplane

import (
	"strconv"
	"strings"

	"github.com/netwarden/netwarden/pkg/policy"
)

// Rules are built here from a handful of typed matches, so compiler code reads like nft:
//
//	rule().addr(Saddr, IPv4, "peers").dport(policy.ProtoTCP, 80, 80).ret()
//
// Each match prints itself as nft text (this file) and turns itself into kernel
// expressions (exprs_linux.go, the only place expressions are built). The expressions are
// the ones nft itself generates for the text, registers included; the root tests check it
// by listing a table loaded each way.

// Family is an IP version: 4 or 6.
type Family uint8

const (
	IPv4 Family = 4
	IPv6 Family = 6
)

func familyOf(a interface{ Is4() bool }) Family {
	if a.Is4() {
		return IPv4
	}
	return IPv6
}

// Field is the packet address a match reads.
type Field uint8

const (
	Saddr Field = iota
	Daddr
)

func (f Field) String() string {
	if f == Daddr {
		return "daddr"
	}
	return "saddr"
}

// VerdictKind is what a rule (or a verdict-map element) does with a matching packet.
type VerdictKind uint8

const (
	// Continue: the rule has no verdict (never produced by the compiler).
	Continue VerdictKind = iota
	Accept
	Drop
	// Return ends the current chain; after a jump, the caller continues.
	Return
	Jump
	Goto
	// VMap looks the packet's address (and, with Ports, its protocol and destination
	// port) up in a verdict map (Target) and does what the element says; no element, no
	// verdict.
	VMap
)

// Verdict is a rule's verdict. Target is the chain of a jump or goto, or the map of a
// VMap, whose key is the Field address of Family, followed by the protocol and the
// destination port when Ports is set.
type Verdict struct {
	Kind   VerdictKind
	Target string
	Field  Field
	Family Family
	Ports  bool
}

func (v Verdict) String() string {
	switch v.Kind {
	case Accept:
		return "accept"
	case Drop:
		return "drop"
	case Return:
		return "return"
	case Jump:
		return "jump " + v.Target
	case Goto:
		return "goto " + v.Target
	case VMap:
		if v.Ports {
			return addrText(v.Field, v.Family) + " . meta l4proto . th dport vmap @" + v.Target
		}
		return addrText(v.Field, v.Family) + " vmap @" + v.Target
	}
	return ""
}

// Rule is one nft rule: matches, all of which must hold, then a verdict.
type Rule struct {
	matches []match
	stmts   []stmt
	verdict Verdict
	comment string
}

// rule starts a rule; chain match methods, end with a verdict.
func rule() Rule { return Rule{} }

func (r Rule) with(m match) Rule {
	// A full slice expression so rules built from a common prefix never share storage.
	r.matches = append(r.matches[:len(r.matches):len(r.matches)], m)
	return r
}

// ctState matches connections in any of the given states (ct state bits).
func (r Rule) ctState(bits uint32) Rule { return r.with(ctStateMatch{bits}) }

// addr matches when the packet's address is in the named set.
func (r Rule) addr(f Field, fam Family, set string) Rule {
	return r.with(addrMatch{f, fam, set})
}

// dport matches the protocol and a destination port range (0-65535: the protocol alone).
func (r Rule) dport(p policy.Proto, lo, hi uint16) Rule { return r.with(portMatch{p, lo, hi}) }

// tuple matches when (address . protocol . destination port) is in the named set.
func (r Rule) tuple(f Field, fam Family, set string) Rule {
	return r.with(tupleMatch{f, fam, set})
}

// icmpv6Type matches ICMPv6 messages of types lo to hi.
func (r Rule) icmpv6Type(lo, hi uint8) Rule { return r.with(icmpv6TypeMatch{lo, hi}) }

// pair matches when (saddr . daddr) is in the named set.
func (r Rule) pair(fam Family, set string) Rule { return r.with(pairMatch{fam, set}) }

// note sets the rule's comment, cleaned to what nft accepts.
func (r Rule) note(c string) Rule { r.comment = cleanComment(c); return r }

func (r Rule) verdictOf(v Verdict) Rule { r.verdict = v; return r }
func (r Rule) accept() Rule             { return r.verdictOf(Verdict{Kind: Accept}) }
func (r Rule) drop() Rule               { return r.verdictOf(Verdict{Kind: Drop}) }
func (r Rule) ret() Rule                { return r.verdictOf(Verdict{Kind: Return}) }
func (r Rule) jump(chain string) Rule   { return r.verdictOf(Verdict{Kind: Jump, Target: chain}) }
func (r Rule) goTo(chain string) Rule   { return r.verdictOf(Verdict{Kind: Goto, Target: chain}) }
func (r Rule) vmap(f Field, fam Family, m string) Rule {
	return r.verdictOf(Verdict{Kind: VMap, Target: m, Field: f, Family: fam})
}

// tupleVmap looks (address . protocol . destination port) up in the verdict map m.
func (r Rule) tupleVmap(f Field, fam Family, m string) Rule {
	return r.verdictOf(Verdict{Kind: VMap, Target: m, Field: f, Family: fam, Ports: true})
}

// Verdict returns what the rule does when it matches.
func (r Rule) Verdict() Verdict { return r.verdict }

// Comment is the rule's comment (which policy rule it comes from).
func (r Rule) Comment() string { return r.comment }

// Unconditional reports whether the rule decides every packet: no matches, no
// statements, and not a map lookup (which decides only the keys it holds).
func (r Rule) Unconditional() bool {
	return len(r.matches) == 0 && len(r.stmts) == 0 && r.verdict.Kind != VMap
}

// String is the rule in nft syntax.
func (r Rule) String() string {
	var parts []string
	for _, m := range r.matches {
		parts = append(parts, m.text())
	}
	for _, st := range r.stmts {
		parts = append(parts, st.text())
	}
	if v := r.verdict.String(); v != "" {
		parts = append(parts, v)
	}
	if r.comment != "" {
		parts = append(parts, "comment "+strconv.Quote(r.comment))
	}
	return strings.Join(parts, " ")
}

// maxComment is nft's limit on comment length.
const maxComment = 128

func cleanComment(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < ' ' || r > '~' {
			return '_'
		}
		return r
	}, s)
	if len(s) > maxComment-1 {
		s = s[:maxComment-4] + "..."
	}
	return s
}

// match is one condition of a rule: ctStateMatch, addrMatch, portMatch, tupleMatch,
// pairMatch or icmpv6TypeMatch.
type match interface {
	text() string
}

// --- ct state ---

type ctStateMatch struct{ bits uint32 }

// Conntrack state bits, as nft and the kernel number them.
const (
	ctInvalid     uint32 = 1
	ctEstablished uint32 = 2
	ctRelated     uint32 = 4
	ctNew         uint32 = 8
	ctUntracked   uint32 = 64
)

var ctStateNames = []struct {
	bit  uint32
	name string
}{
	{ctInvalid, "invalid"},
	{ctEstablished, "established"},
	{ctRelated, "related"},
	{ctNew, "new"},
	{ctUntracked, "untracked"},
}

func (m ctStateMatch) text() string {
	var names []string
	for _, s := range ctStateNames {
		if m.bits&s.bit != 0 {
			names = append(names, s.name)
		}
	}
	return "ct state " + strings.Join(names, ",")
}

// --- address in a set ---

type addrMatch struct {
	f   Field
	fam Family
	set string
}

func addrText(f Field, fam Family) string {
	if fam == IPv6 {
		return "ip6 " + f.String()
	}
	return "ip " + f.String()
}

func (m addrMatch) text() string { return addrText(m.f, m.fam) + " @" + m.set }

// --- protocol and destination port range ---

type portMatch struct {
	proto  policy.Proto
	lo, hi uint16
}

func protoName(p policy.Proto) string {
	switch p {
	case policy.ProtoTCP:
		return "tcp"
	case policy.ProtoUDP:
		return "udp"
	case policy.ProtoSCTP:
		return "sctp"
	case policy.ProtoICMP:
		return "icmp"
	case policy.ProtoICMPv6:
		return "ipv6-icmp"
	}
	return strconv.Itoa(int(p))
}

func (m portMatch) allPorts() bool { return m.lo == 0 && m.hi == 65535 }

func (m portMatch) text() string {
	switch {
	case m.allPorts():
		return "meta l4proto " + protoName(m.proto)
	case m.lo == m.hi:
		return protoName(m.proto) + " dport " + strconv.Itoa(int(m.lo))
	}
	return protoName(m.proto) + " dport " + strconv.Itoa(int(m.lo)) + "-" + strconv.Itoa(int(m.hi))
}

// --- (address . protocol . port) in a set ---

type tupleMatch struct {
	f   Field
	fam Family
	set string
}

func (m tupleMatch) text() string {
	return addrText(m.f, m.fam) + " . meta l4proto . th dport @" + m.set
}

// --- (saddr . daddr) in a set ---

type pairMatch struct {
	fam Family
	set string
}

func (m pairMatch) text() string {
	return addrText(Saddr, m.fam) + " . " + addrText(Daddr, m.fam) + " @" + m.set
}

// --- ICMPv6 type range ---

type icmpv6TypeMatch struct{ lo, hi uint8 }

func (m icmpv6TypeMatch) text() string {
	if m.lo == m.hi {
		return "icmpv6 type " + strconv.Itoa(int(m.lo))
	}
	return "icmpv6 type " + strconv.Itoa(int(m.lo)) + "-" + strconv.Itoa(int(m.hi))
}
