package dataplane

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"go4.org/netipx"

	"github.com/netwarden/netwarden/pkg/policy"
)

// A tier's rules become a few map lookups, however many policies there are.
//
// The NetworkPolicy tier of an isolated pod is a union: any rule that matches allows. The
// admin and baseline tiers are first-match lists, but a run of consecutive rules with the
// same verdict is a union too: whichever of them matches, the verdict is the same, and a
// packet none of them matches goes on to the rule after the run. So a tier compiles run
// by run (the NetworkPolicy tier is one run), and each run becomes at most four lookups
// per address family, whatever its size, each in a verdict map whose elements goto the
// account chain of the rule that decides the key (acctchains.go):
//
//	peer . l4proto . dport vmap @..._ports   hash: pod and node peers on single ports, and
//	                                         egress named ports resolved per destination
//	peer vmap @..._addrs                     hash: pod and node peers on any port
//	peer . l4proto . dport vmap @..._ranges  interval: ipBlocks (and any peer) on ports
//	peer vmap @..._nets                      interval: ipBlocks on any port
//
// plus the port ranges of pod peers: a hash map and a lookup per range when a run has at
// most maxRangeSets of them, else one interval map of single addresses on ranges.
//
// plus, for ingress named ports, which mean the subject's own container ports, a ports and
// a ranges lookup of the run resolved for that subject (kept apart so that subjects whose
// named ports differ still share the big maps).
//
// Counters must name the rule the engine names: of the rules of a run covering a key, the
// first. The maps merge rules, so which rule a key goes to is worked out over the whole
// run, across maps (owners.go): a pod address on a port that an earlier ipBlock covers
// goes to the ipBlock's rule. Exactness costs elements where rules overlap, not lookups.
//
// Pods coming and going change hash map elements. Interval maps change only with
// policies, except for pod peers on many port ranges, which are rare; the kernel's
// interval maps cost more per change and per lookup as they grow, hash maps do not.

// ruleRef names one policy rule of a direction: the policy (an index into the engine's
// policies) and the rule's index.
type ruleRef struct {
	pi int32
	ri int
}

func (c *compiler) rule(d policy.Direction, ref ruleRef) *policy.Rule {
	return &c.e.Policies[ref.pi].Rules(d)[ref.ri]
}

// policyRules lists the rules of policies, in evaluation order.
func (c *compiler) policyRules(d policy.Direction, pols []int32) []ruleRef {
	var out []ruleRef
	for _, pi := range pols {
		for ri := range c.e.Policies[pi].Rules(d) {
			out = append(out, ruleRef{pi, ri})
		}
	}
	return out
}

// tierRules compiles a tier's rules (in evaluation order) for a subject, run by run.
// verdict says what a matching rule does, by action; consecutive rules with equal
// verdicts form a run. rest is the chain a pass continues with ("" for none). passes
// reports, per rule returned, whether it belongs to a run of passes.
func (c *compiler) tierRules(s subject, refs []ruleRef, verdict func(policy.Action) AccountVerdict, rest string) (rules []Rule, passes []bool) {
	for i := 0; i < len(refs); {
		v := verdict(c.rule(s.dir, refs[i]).Action)
		j := i + 1
		for j < len(refs) && verdict(c.rule(s.dir, refs[j]).Action) == v {
			j++
		}
		r := "" // only a pass depends on the subject's rest
		if v == AccountPass {
			r = rest
		}
		run := c.runRules(s, refs[i:j], v, r)
		rules = append(rules, run...)
		for range run {
			passes = append(passes, r != "")
		}
		i = j
	}
	return rules, passes
}

// part is what one policy rule puts in a union: its peers (by reference) on ports.
type part struct {
	ref ruleRef
	// ports are the rule's port clauses with numbers; nil means any port.
	ports []portMatch
	// resolved marks the ports of ingress named ports resolved on the subject.
	resolved bool
	// A shadow part puts no keys in the union, but where it covers a key it takes part
	// in choosing the key's rule (see the named-ports union in runRules).
	shadow bool
	// rank is the rule's place in its run: a key goes to the rule of lowest rank that
	// covers it, the one the engine names.
	rank int
}

// runRules compiles a run of rules sharing verdict v: the lookups of the run's union,
// whose elements goto the account chain of the rule that decides them, and a goto for a
// rule that matches everything (which ends the run).
func (c *compiler) runRules(s subject, refs []ruleRef, v AccountVerdict, rest string) []Rule {
	var common, named []part
	var targets []string
	var last []Rule
	for i, ref := range refs {
		r := c.rule(s.dir, ref)
		targets = append(targets, c.accountChain(s.dir, ref, v, rest))
		if r.AnyPeer && r.AnyPort {
			refs = refs[:i]
			last = []Rule{rule().goTo(targets[i]).note(c.runNote(s.dir, []ruleRef{ref}))}
			break
		}
		p := part{ref: ref, rank: i}
		q := part{ref: ref, resolved: true, rank: i}
		if !r.AnyPort {
			p.ports = []portMatch{}
			for _, m := range r.Ports {
				switch {
				case m.Named == "":
					p.ports = appendPort(p.ports, portMatch{m.Proto, m.Lo, m.Hi})
				case s.dir == policy.Ingress:
					// The destination is the subject: resolve against its container ports.
					for _, np := range c.e.Pods[s.pod].NamedPorts {
						if namedMatches(m, np) {
							q.ports = appendPort(q.ports, portMatch{np.Proto, np.Num, np.Num})
						}
					}
				}
			}
		}
		// Egress named ports are in the rule's peers (resolved per destination).
		common = append(common, p)
		if len(q.ports) > 0 {
			named = append(named, q)
		}
	}
	var out []Rule
	if len(refs) > 0 {
		note := c.runNote(s.dir, refs)
		tag := v.String() + "|" + rest
		for _, fam := range s.fams {
			if len(named) > 0 {
				// Ingress named ports mean this subject's own numbers, so they are a union
				// of their own and the big one stays shared by every subject. They come
				// first, with the common parts as shadows: a key both cover goes to the
				// rule of lower rank either way.
				parts := append([]part(nil), named...)
				for _, p := range common {
					p.shadow = true
					parts = append(parts, p)
				}
				slices.SortStableFunc(parts, func(a, b part) int { return a.rank - b.rank })
				out = append(out, c.unionRules(s.dir, fam, parts, targets, note+" (named ports)", tag, rest)...)
			}
			out = append(out, c.unionRules(s.dir, fam, common, targets, note, tag, rest)...)
		}
	}
	return append(out, last...)
}

// runNote names a run's rules for the comment of its lookups: "NetworkPolicy ns/a
// ingress[0], [1]; NetworkPolicy ns/b ingress[0]", cut with a count of the rest.
func (c *compiler) runNote(d policy.Direction, refs []ruleRef) string {
	var b strings.Builder
	for i, ref := range refs {
		pol := c.e.Policies[ref.pi]
		item := fmt.Sprintf("%s %s[%d]", pol.Ref, d, ref.ri)
		if i > 0 && refs[i-1].pi == ref.pi {
			item = ", [" + strconv.Itoa(ref.ri) + "]"
		} else if i > 0 {
			item = "; " + item
		}
		if name := pol.Rules(d)[ref.ri].Name; name != "" {
			item += " (" + name + ")"
		}
		if i > 0 {
			room := maxComment - 1
			if i < len(refs)-1 {
				room -= len(fmt.Sprintf(" and %d more", len(refs)-i-1))
			}
			if b.Len()+len(item) > room {
				fmt.Fprintf(&b, " and %d more", len(refs)-i)
				return b.String()
			}
		}
		b.WriteString(item)
	}
	return b.String() // cleanComment cuts a first item too long on its own
}

type unionKey struct {
	key string
	fam Family
}

// union is the verdict maps of one run's union in one family, by kind; "" for kinds the
// run does not need.
type union struct {
	ports, addrs, ranges, nets string
	// byRange are hash maps of pod and node peers on one port range each, when a run has
	// only a few such ranges; podRanges holds them as intervals when it has more.
	byRange   []rangeSet
	podRanges string
}

type rangeSet struct {
	set   string
	ports portMatch
}

// maxRangeSets is how many port ranges with pod or node peers a run keeps in hash maps
// of their own, a lookup each; past it they go to one interval map. Pods come and go
// cheaply in a hash map, while changing an interval map costs the kernel more the
// bigger it is (tens of milliseconds to delete one of 25,000 scattered addresses); but
// a run's lookups must stay few, so many ranges (rare: endPort with pod selectors) go to
// the interval map.
const maxRangeSets = 4

// unionRules are the lookups of a union, in one family, in the order that makes the
// first lookup holding a packet's key name the right rule: pod and node addresses on
// one port, on port ranges, on any port (whose elements name the first rule covering
// them, ipBlocks included), then ipBlocks on ports, ipBlocks on any port.
func (c *compiler) unionRules(d policy.Direction, fam Family, parts []part, targets []string, note, tag, rest string) []Rule {
	u := c.union(d, fam, parts, targets, tag, rest)
	peer := peerField(d)
	var out []Rule
	if u.ports != "" {
		out = append(out, rule().tupleVmap(peer, fam, u.ports).note(note))
	}
	for _, r := range u.byRange {
		out = append(out, rule().dport(r.ports.proto, r.ports.lo, r.ports.hi).vmap(peer, fam, r.set).note(note))
	}
	if u.podRanges != "" {
		out = append(out, rule().tupleVmap(peer, fam, u.podRanges).note(note))
	}
	if u.addrs != "" {
		out = append(out, rule().vmap(peer, fam, u.addrs).note(note))
	}
	if u.ranges != "" {
		out = append(out, rule().tupleVmap(peer, fam, u.ranges).note(note))
	}
	if u.nets != "" {
		out = append(out, rule().vmap(peer, fam, u.nets).note(note))
	}
	return out
}

// union builds (once per distinct run) the maps of a union. Which maps exist depends on
// the rules only, not on which pods exist: a map of pod addresses is there even while it
// is empty, so pods coming never change the chains.
func (c *compiler) union(d policy.Direction, fam Family, parts []part, targets []string, tag, rest string) union {
	key := c.partsKey(d, parts) + "|" + tag
	uk := unionKey{key, fam}
	if u, ok := c.unions[uk]; ok {
		return u
	}
	var own []part
	for _, p := range parts {
		if !p.shadow {
			own = append(own, p)
		}
	}
	base := c.unionBase(d, own, key)
	if rest != "" {
		base += "_p" + shortHash(rest)
	}
	b := newUnionBuilder(c, d, fam, parts, targets)
	u := b.build(base)
	c.unions[uk] = u
	return u
}

// partsKey identifies a union by what it is made of: the policy rules (by reference, so
// the key survives policies being added or removed around them) and resolved ports.
func (c *compiler) partsKey(d policy.Direction, parts []part) string {
	var b strings.Builder
	b.WriteString(dirShort(d))
	for _, p := range parts {
		b.WriteString("|")
		b.WriteString(c.e.Policies[p.ref.pi].Ref.String())
		b.WriteString("#")
		b.WriteString(strconv.Itoa(p.ref.ri))
		if p.shadow {
			b.WriteString("~")
		}
		if p.resolved {
			b.WriteString("@")
			for _, pm := range p.ports {
				fmt.Fprintf(&b, "%d/%d,", pm.proto, pm.lo)
			}
		}
	}
	return b.String()
}

// unionBase names a union's sets. A union of one policy's rules is named after it
// ("np_prod_db_in0", "anp_tenant_in0-2"); one spanning policies after its direction and
// a hash of its key ("grp_in_3fa2b1c4d5e6"). Ports resolved for a subject add a hash.
func (c *compiler) unionBase(d policy.Direction, parts []part, key string) string {
	one := true
	for _, p := range parts[1:] {
		one = one && p.ref.pi == parts[0].ref.pi
	}
	var base string
	if one {
		var idx []int
		for _, p := range parts {
			idx = append(idx, p.ref.ri)
		}
		list := ruleList(idx)
		if len(list) > 24 {
			list = "r" + shortHash(list)
		}
		base = c.names.base(c.e.Policies[parts[0].ref.pi].Ref) + "_" + dirShort(d) + list
	} else {
		h := fnv.New64a()
		h.Write([]byte(key))
		base = fmt.Sprintf("grp_%s_%012x", dirShort(d), h.Sum64()&(1<<48-1))
	}
	if parts[0].resolved {
		base += "_n" + shortHash(key)
	}
	return base
}

// ruleList prints rule indices compactly: "0", "0-2", "0.3.5".
func ruleList(idx []int) string {
	var b strings.Builder
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if i > 0 {
			b.WriteString(".")
		}
		b.WriteString(strconv.Itoa(idx[i]))
		if j > i {
			b.WriteString("-" + strconv.Itoa(idx[j]))
		}
		i = j + 1
	}
	return b.String()
}

// coalesce turns sorted addresses into ranges of consecutive ones.
func coalesce(addrs []netip.Addr) []netipx.IPRange {
	var out []netipx.IPRange
	for i := 0; i < len(addrs); {
		j := i
		for j+1 < len(addrs) && addrs[j].Next() == addrs[j+1] {
			j++
		}
		out = append(out, netipx.IPRangeFrom(addrs[i], addrs[j]))
		i = j + 1
	}
	return out
}
