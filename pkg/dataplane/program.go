// Package dataplane enforces the policy core's decisions in the kernel: Compile turns an
// engine into one nftables table per node (a Program), and a Conn applies it over netlink
// as one atomic transaction, or updates only the set elements that changed.
//
// The table has a filter chain on the forward hook (and input/output chains for pods
// talking to their own node). Each starts with conntrack (established and related
// connections never see the policy), then dispatches by pod address through verdict maps
// to one chain per (local pod, direction), shared by pods whose chains would be the same.
// Those chains hold the tiers in order (admin, NetworkPolicy, baseline, default allow).
// Each tier is a handful of lookups in verdict maps keyed by peer, protocol and port,
// however many policies it has (union.go); a key leads to the chain of the policy rule
// that decides it, which counts the packet in the rule's counter and gives the verdict
// (acctchains.go): an allow returns to the dispatcher, which checks the other direction
// next. Pods coming and going change elements, never chains.
package dataplane

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"math/bits"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"go4.org/netipx"

	"github.com/netwarden/netwarden/pkg/policy"
)

// Options tune Compile.
type Options struct {
	// TableName is the inet table netwarden owns; "netwarden" when empty.
	TableName string
	// KeepEstablished keeps connections that were allowed when they started even after a
	// policy change denies them. Without it, Conn.Apply and Conn.Update delete the
	// conntrack entries of connections the new program denies.
	KeepEstablished bool
	// Log chooses what the program logs through NFLOG (accounts.go); nothing by default.
	Log LogOptions
}

// DefaultTableName is the table used when Options.TableName is empty.
const DefaultTableName = "netwarden"

// Program is the compiled table for one node. Chains are its structure; Sets hold the
// addresses and ports that change as pods come and go.
type Program struct {
	Table  string
	Sets   []*Set   // sorted by name
	Chains []*Chain // base chains first, then the rest by name
	// Warnings are facts about the input the program cannot enforce (a local pod with
	// no address, for one).
	Warnings []string
	// Accounts are the program's counters, sorted by name (accounts.go).
	Accounts []Account

	opts Options
	// acctChains gives the account of each account chain, by chain name.
	acctChains map[string]string
	evalOnce   sync.Once
	eval       *evaluator
}

// Account returns the account of the counter or log prefix name.
func (p *Program) Account(name string) (Account, bool) {
	i, ok := slices.BinarySearchFunc(p.Accounts, name, func(a Account, n string) int { return strings.Compare(a.Name, n) })
	if !ok {
		return Account{}, false
	}
	return p.Accounts[i], true
}

// Options returns the options the program was compiled with.
func (p *Program) Options() Options { return p.opts }

// Set returns the set or map with the given name, or nil.
func (p *Program) Set(name string) *Set {
	i := sort.Search(len(p.Sets), func(i int) bool { return p.Sets[i].Name >= name })
	if i < len(p.Sets) && p.Sets[i].Name == name {
		return p.Sets[i]
	}
	return nil
}

// Chain returns the chain with the given name, or nil.
func (p *Program) Chain(name string) *Chain {
	for _, c := range p.Chains {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// KeyType is what a set's elements are.
type KeyType uint8

const (
	KeyAddr4  KeyType = iota + 1 // ipv4_addr
	KeyAddr6                     // ipv6_addr
	KeyTuple4                    // ipv4_addr . inet_proto . inet_service
	KeyTuple6                    // ipv6_addr . inet_proto . inet_service
	KeyPair4                     // ipv4_addr . ipv4_addr
	KeyPair6                     // ipv6_addr . ipv6_addr
)

func (k KeyType) String() string {
	switch k {
	case KeyAddr4:
		return "ipv4_addr"
	case KeyAddr6:
		return "ipv6_addr"
	case KeyTuple4:
		return "ipv4_addr . inet_proto . inet_service"
	case KeyTuple6:
		return "ipv6_addr . inet_proto . inet_service"
	case KeyPair4:
		return "ipv4_addr . ipv4_addr"
	case KeyPair6:
		return "ipv6_addr . ipv6_addr"
	}
	return "invalid"
}

// concat reports whether the key concatenates several fields.
func (k KeyType) concat() bool { return k >= KeyTuple4 }

// Family is the IP version of the key's address.
func (k KeyType) Family() Family {
	if k == KeyAddr6 || k == KeyTuple6 || k == KeyPair6 {
		return IPv6
	}
	return IPv4
}

// Set is a named set, or a verdict map when Map is set.
type Set struct {
	Name string
	Key  KeyType
	// Interval sets hold ranges: addresses Element.Addr to Element.Last and, in tuple
	// sets, ports Element.Port to Element.PortLast. The ranges of one set never overlap
	// (the kernel refuses overlapping elements in concatenated interval sets).
	Interval bool
	// Map makes the set a verdict map: each element carries a Verdict.
	Map      bool
	Elements []Element // sorted, without duplicates

	// digest summarises Elements, so that comparing two programs skips equal sets
	// without walking them (see Diff); 0 when not computed. chunks summarise parts of
	// big sets, so that comparing two versions of one walks only the parts that differ.
	digest uint64
	chunks []chunk
}

// Element is one member of a set. Which fields are used depends on the set's key type.
type Element struct {
	Addr netip.Addr
	// Last is the last address of an interval set's range; for other sets it is unset.
	Last  netip.Addr
	Proto policy.Proto // tuple sets
	Port  uint16       // tuple sets
	Dst   netip.Addr   // pair sets: the second address
	// Verdict is a verdict map element's value (a jump to a chain).
	Verdict Verdict
	// PortLast is the last port of an interval tuple set's port range (equal to Port for
	// one port); for other sets it is 0.
	PortLast uint16
}

// compareElements orders elements by key (address, range end, second address, protocol,
// ports), then by verdict target, so that equal keys with different verdicts sit side by
// side.
func compareElements(e, o *Element) int {
	if c := e.Addr.Compare(o.Addr); c != 0 {
		return c
	}
	if c := e.Last.Compare(o.Last); c != 0 {
		return c
	}
	if c := e.Dst.Compare(o.Dst); c != 0 {
		return c
	}
	if e.Proto != o.Proto {
		return cmp.Compare(e.Proto, o.Proto)
	}
	if e.Port != o.Port {
		return cmp.Compare(e.Port, o.Port)
	}
	return cmp.Compare(e.PortLast, o.PortLast)
}

func (e Element) less(o Element) bool { return compareElements(&e, &o) < 0 }

// sortElements sorts and removes duplicates.
func sortElements(es []Element) []Element {
	slices.SortFunc(es, func(a, b Element) int {
		if c := compareElements(&a, &b); c != 0 {
			return c
		}
		return strings.Compare(a.Verdict.Target, b.Verdict.Target)
	})
	return slices.Compact(es)
}

// digestSeed is fixed for the process: digests are compared only between programs of
// one process.
var digestSeed = maphash.MakeSeed()

// Digest returns a summary of the set's elements: sets with equal digests hold the same
// elements (up to a 64-bit hash collision). It is computed once, when the program is
// compiled; a Set built by hand gets it on first use.
func (s *Set) Digest() uint64 {
	if s.digest == 0 {
		s.summarize()
	}
	return s.digest
}

// A chunk is a run of a big set's elements that ends where the content says: after an
// element whose hash has its low six bits set (64 elements on average). Inserting or
// deleting one element changes one chunk and leaves the others, and their ends, as they
// were, so Diff skips equal chunks of two versions of a set the way it skips equal sets.
type chunk struct {
	end int32 // index after the chunk's last element
	sum uint64
}

// chunkedSize is the least number of elements for which a set keeps its chunks.
const chunkedSize = 512

func (s *Set) summarize() {
	es := s.Elements
	s.chunks = nil
	var digest, sum uint64
	var buf [64]byte
	for i := range es {
		h := elementHash(&es[i], &buf)
		sum = mix(sum, h)
		if h&63 == 63 || i == len(es)-1 {
			if len(es) >= chunkedSize {
				s.chunks = append(s.chunks, chunk{int32(i + 1), sum})
			}
			digest, sum = mix(digest, sum), 0
		}
	}
	s.digest = mix(digest, uint64(len(es))) | 1 // never 0, which means "not computed"
}

func mix(a, b uint64) uint64 { return (bits.RotateLeft64(a, 17) ^ b) * 0x100000001b3 }

func elementHash(e *Element, buf *[64]byte) uint64 {
	b := buf[:0]
	a16 := e.Addr.As16()
	b = append(b, a16[:]...)
	b = append(b, byte(e.Addr.BitLen()))
	if e.Last.IsValid() {
		l16 := e.Last.As16()
		b = append(b, l16[:]...)
	}
	if e.Dst.IsValid() {
		d16 := e.Dst.As16()
		b = append(b, d16[:]...)
	}
	b = append(b, byte(e.Proto), byte(e.Port>>8), byte(e.Port), byte(e.PortLast>>8), byte(e.PortLast), byte(e.Verdict.Kind))
	h := maphash.Bytes(digestSeed, b)
	if e.Verdict.Target != "" {
		h = mix(h, maphash.String(digestSeed, e.Verdict.Target))
	}
	return h
}

// String prints the element as nft does in a set's elements list.
func (e Element) String() string {
	var s string
	switch {
	case e.Last.IsValid() && e.Last != e.Addr:
		r := netipx.IPRangeFrom(e.Addr, e.Last)
		if pfx, ok := r.Prefix(); ok {
			s = pfx.String()
		} else {
			s = e.Addr.String() + "-" + e.Last.String()
		}
	default:
		s = e.Addr.String()
	}
	if e.Dst.IsValid() {
		s += " . " + e.Dst.String()
	}
	if e.Proto != 0 {
		s += " . " + protoName(e.Proto) + " . " + strconv.Itoa(int(e.Port))
		if e.PortLast > e.Port {
			s += "-" + strconv.Itoa(int(e.PortLast))
		}
	}
	if e.Verdict.Kind != Continue {
		s += " : " + e.Verdict.String()
	}
	return s
}

// Hook attaches a base chain to the packet path.
type Hook string

const (
	HookForward Hook = "forward"
	HookInput   Hook = "input"
	HookOutput  Hook = "output"
)

// Chain is a chain of rules. Base chains (Hook set) are filter chains at priority
// filter with policy accept.
type Chain struct {
	Name  string
	Hook  Hook
	Rules []Rule
}

// String is the program as an nft script that atomically replaces the table (create it
// if missing, delete it, define it anew, in one transaction): `nft -f` loads it.
func (p *Program) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "add table inet %s\ndelete table inet %s\n", p.Table, p.Table)
	fmt.Fprintf(&b, "table inet %s {\n", p.Table)
	first := true
	sep := func() {
		if !first {
			b.WriteString("\n")
		}
		first = false
	}
	// Objects first: nft resolves a rule's object references as it adds the rule.
	for _, o := range p.Objects() {
		sep()
		o.write(&b)
	}
	for _, s := range p.Sets {
		sep()
		s.write(&b)
	}
	for _, c := range p.Chains {
		sep()
		c.write(&b)
	}
	b.WriteString("}\n")
	return b.String()
}

func (s *Set) write(b *strings.Builder) {
	kind, typ := "set", s.Key.String()
	if s.Map {
		kind, typ = "map", typ+" : verdict"
	}
	fmt.Fprintf(b, "\t%s %s {\n\t\ttype %s\n", kind, s.Name, typ)
	if s.Interval {
		b.WriteString("\t\tflags interval\n")
	}
	if len(s.Elements) > 0 {
		// One element a line keeps diffs of golden files and reviews readable.
		b.WriteString("\t\telements = {\n")
		for i, e := range s.Elements {
			b.WriteString("\t\t\t" + e.String())
			if i < len(s.Elements)-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString("\t\t}\n")
	}
	b.WriteString("\t}\n")
}

func (c *Chain) write(b *strings.Builder) {
	fmt.Fprintf(b, "\tchain %s {\n", c.Name)
	if c.Hook != "" {
		fmt.Fprintf(b, "\t\ttype filter hook %s priority filter; policy accept;\n", c.Hook)
	}
	for _, r := range c.Rules {
		b.WriteString("\t\t" + r.String() + "\n")
	}
	b.WriteString("\t}\n")
}
