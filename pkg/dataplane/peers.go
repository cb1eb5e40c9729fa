package dataplane

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"strings"

	"go4.org/netipx"

	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// compiler holds what Compile builds up: the chains (named by their content, so pods with
// the same policies share one) and the sets (named by the policy rule they serve, so
// every chain using that rule shares one).
type compiler struct {
	e       *policy.Engine
	chains  map[string]*Chain
	sets    map[string]*Set
	names   names
	byIdent [][]int32 // pods (non-hostNetwork, with addresses) by identity
}

func newCompiler(e *policy.Engine) *compiler {
	c := &compiler{e: e, chains: map[string]*Chain{}, sets: map[string]*Set{}, names: names{}}
	c.byIdent = make([][]int32, e.IdentityCount())
	for i := range e.Pods {
		if id := e.Pods[i].Ident; id >= 0 && len(e.Pods[i].IPs) > 0 {
			c.byIdent[id] = append(c.byIdent[id], int32(i))
		}
	}
	return c
}

func (c *compiler) addSet(s *Set) { c.sets[s.Name] = s }

// chain registers a chain and returns its name, which is derived from its rules: equal
// chains get one name, and the name stays while pods come and go.
func (c *compiler) chain(d policy.Direction, rules []Rule) string {
	h := fnv.New64a()
	for _, r := range rules {
		h.Write([]byte(r.String()))
		h.Write([]byte{'\n'})
	}
	name := fmt.Sprintf("%s-%012x", dirShort(d), h.Sum64()&(1<<48-1))
	if _, ok := c.chains[name]; !ok {
		c.chains[name] = &Chain{Name: name, Rules: rules}
	}
	return name
}

func dirShort(d policy.Direction) string {
	if d == policy.Ingress {
		return "in"
	}
	return "eg"
}

// subject is whose chain is being built: the pod (named ports of ingress rules resolve
// against it), the direction and the pod's address families.
type subject struct {
	pod  int32
	dir  policy.Direction
	fams []Family
}

// policyRules compiles one policy's rules for a subject, in order. verdict says what a
// matching rule does, by action.
func (c *compiler) policyRules(s subject, pi int32, verdict func(policy.Action) Verdict) []Rule {
	pol := c.e.Policies[pi]
	var out []Rule
	for ri := range pol.Rules(s.dir) {
		r := &pol.Rules(s.dir)[ri]
		note := fmt.Sprintf("%s %s[%d]", pol.Ref, s.dir, ri)
		if r.Name != "" {
			note += " (" + r.Name + ")"
		}
		out = append(out, c.ruleRules(s, pol, ri, verdict(r.Action), note)...)
	}
	return out
}

// ruleRules compiles one policy rule into nft rules that share its verdict: one per
// (peer address set, port clause), plus, for egress named ports, one lookup of
// (address . protocol . port), because a named port means a different number on each
// destination pod.
func (c *compiler) ruleRules(s subject, pol *policy.Policy, ri int, v Verdict, note string) []Rule {
	r := &pol.Rules(s.dir)[ri]
	peer := Daddr
	if s.dir == policy.Ingress {
		peer = Saddr
	}

	// Who: nil means any peer.
	var peers []Rule
	if r.AnyPeer {
		peers = []Rule{rule()}
	} else {
		var exact, nets bool
		for i := range r.Peers {
			switch r.Peers[i].Kind {
			case policy.PeerPods, policy.PeerNodes:
				exact = true
			case policy.PeerIPBlock, policy.PeerNetworks:
				nets = true
			}
		}
		for _, fam := range s.fams {
			if exact {
				peers = append(peers, rule().addr(peer, fam, c.exactSet(pol, s.dir, ri, fam)))
			}
			if nets {
				if name := c.netSet(pol, s.dir, ri, fam); name != "" {
					peers = append(peers, rule().addr(peer, fam, name))
				}
			}
		}
	}

	// On what: a nil list means any protocol and port.
	var ports []portMatch
	var named []policy.PortMatch
	if !r.AnyPort {
		ports = []portMatch{}
		for _, m := range r.Ports {
			switch {
			case m.Named == "":
				ports = appendPort(ports, portMatch{m.Proto, m.Lo, m.Hi})
			case s.dir == policy.Ingress:
				// The destination is the subject: resolve against its container ports.
				for _, np := range c.e.Pods[s.pod].NamedPorts {
					if namedMatches(m, np) {
						ports = appendPort(ports, portMatch{np.Proto, np.Num, np.Num})
					}
				}
			default:
				named = append(named, m)
			}
		}
	}

	var out []Rule
	for _, pr := range peers {
		if ports == nil {
			out = append(out, pr.verdictOf(v).note(note))
			continue
		}
		for _, pm := range ports {
			out = append(out, pr.dport(pm.proto, pm.lo, pm.hi).verdictOf(v).note(note))
		}
	}
	if len(named) > 0 {
		for _, fam := range s.fams {
			out = append(out, rule().tuple(Daddr, fam, c.namedSet(pol, s.dir, ri, fam, named)).verdictOf(v).note(note))
		}
	}
	return out
}

func appendPort(ps []portMatch, p portMatch) []portMatch {
	for _, q := range ps {
		if q == p {
			return ps
		}
	}
	return append(ps, p)
}

// namedMatches mirrors the engine: a named port clause matches a container port of that
// name, and of its protocol when the clause names one.
func namedMatches(m policy.PortMatch, np policy.NamedPort) bool {
	return np.Name == m.Named && (m.Proto == 0 || m.Proto == np.Proto)
}

// peerMatches says whether one of the rule's peers matches a pod (or, with pod -1, a
// non-pod address), as the engine decides it.
func (c *compiler) peerMatches(r *policy.Rule, pod int32, ip netip.Addr) bool {
	if r.AnyPeer {
		return true
	}
	for i := range r.Peers {
		p := &r.Peers[i]
		switch p.Kind {
		case policy.PeerPods:
			if pod >= 0 && p.MatchesIdentity(c.e.Pods[pod].Ident) {
				return true
			}
		case policy.PeerIPBlock, policy.PeerNetworks, policy.PeerNodes:
			if p.MatchesIP(ip) {
				return true
			}
		}
	}
	return false
}

// exactSet holds the addresses of the rule's pod peers (on every node) and node peers.
func (c *compiler) exactSet(pol *policy.Policy, d policy.Direction, ri int, fam Family) string {
	name := c.names.set(pol.Ref, d, ri, "addrs", fam)
	if _, ok := c.sets[name]; ok {
		return name
	}
	r := &pol.Rules(d)[ri]
	s := &Set{Name: name, Key: addrKey(fam)}
	add := func(ip netip.Addr) {
		if familyOf(ip) == fam {
			s.Elements = append(s.Elements, Element{Addr: ip})
		}
	}
	for i := range r.Peers {
		p := &r.Peers[i]
		switch p.Kind {
		case policy.PeerPods:
			for id, pods := range c.byIdent {
				if p.MatchesIdentity(int32(id)) {
					for _, pod := range pods {
						for _, ip := range c.e.Pods[pod].IPs {
							add(ip)
						}
					}
				}
			}
		case policy.PeerNodes:
			for _, n := range p.Nodes {
				for _, ip := range c.e.NodeIPs(n) {
					add(ip)
				}
			}
		}
	}
	c.addSet(s)
	return name
}

// netSet holds the rule's CIDR peers, ipBlock exceptions subtracted, as ranges; "" when
// no address of the family is in them.
func (c *compiler) netSet(pol *policy.Policy, d policy.Direction, ri int, fam Family) string {
	name := c.names.set(pol.Ref, d, ri, "nets", fam)
	if s, ok := c.sets[name]; ok {
		if len(s.Elements) == 0 {
			return ""
		}
		return name
	}
	r := &pol.Rules(d)[ri]
	var all netipx.IPSetBuilder
	for i := range r.Peers {
		p := &r.Peers[i]
		switch p.Kind {
		case policy.PeerIPBlock:
			var b netipx.IPSetBuilder
			b.AddPrefix(p.CIDR)
			for _, x := range p.Except {
				b.RemovePrefix(x)
			}
			one, _ := b.IPSet()
			all.AddSet(one)
		case policy.PeerNetworks:
			for _, n := range p.Networks {
				all.AddPrefix(n)
			}
		}
	}
	set, _ := all.IPSet()
	s := &Set{Name: name, Key: addrKey(fam), Interval: true}
	for _, rg := range set.Ranges() {
		if familyOf(rg.From()) == fam {
			s.Elements = append(s.Elements, Element{Addr: rg.From(), Last: rg.To()})
		}
	}
	c.addSet(s)
	if len(s.Elements) == 0 {
		return ""
	}
	return name
}

// namedSet holds (address . protocol . port) for every pod the rule's peers match that
// has a container port the rule names: an egress named port, resolved per destination.
func (c *compiler) namedSet(pol *policy.Policy, d policy.Direction, ri int, fam Family, named []policy.PortMatch) string {
	name := c.names.set(pol.Ref, d, ri, "named", fam)
	if _, ok := c.sets[name]; ok {
		return name
	}
	r := &pol.Rules(d)[ri]
	s := &Set{Name: name, Key: tupleKey(fam)}
	for _, pods := range c.byIdent {
		for _, pod := range pods {
			for _, ip := range c.e.Pods[pod].IPs {
				if familyOf(ip) != fam || !c.peerMatches(r, pod, ip) {
					continue
				}
				for _, np := range c.e.Pods[pod].NamedPorts {
					for _, m := range named {
						if namedMatches(m, np) {
							s.Elements = append(s.Elements, Element{Addr: ip, Proto: np.Proto, Port: np.Num})
						}
					}
				}
			}
		}
	}
	c.addSet(s)
	return name
}

// names gives sets stable, readable names from the policy rule they serve
// ("np_prod_db-allow_in0_addrs4"), and keeps them unique and within nft's limits.
type names map[string]string // base name -> policy it was given to

const maxName = 200

func (n names) set(ref model.Ref, d policy.Direction, ri int, kind string, fam Family) string {
	key := ref.String()
	base := refBase(ref)
	if owner, ok := n[base]; ok && owner != key {
		base = shorten(base, 0) + "-" + shortHash(key)
	}
	n[base] = key
	return fmt.Sprintf("%s_%s%d_%s%d", base, dirShort(d), ri, kind, fam)
}

func refBase(ref model.Ref) string {
	kind := map[string]string{
		"NetworkPolicy": "np", "AdminNetworkPolicy": "anp",
		"BaselineAdminNetworkPolicy": "banp", "ClusterNetworkPolicy": "cnp",
	}[ref.Kind]
	if kind == "" {
		kind = "pol"
	}
	parts := []string{kind}
	if ref.Namespace != "" {
		parts = append(parts, ref.Namespace)
	}
	parts = append(parts, ref.Name)
	b := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, strings.Join(parts, "_"))
	if len(b) > maxName-24 {
		b = shorten(b, maxName-24) + "-" + shortHash(ref.String())
	}
	return b
}

func shorten(s string, n int) string {
	if n > 0 && len(s) > n {
		return s[:n]
	}
	return s
}

func shortHash(s string) string {
	h := fnv.New32a()
	h.Write([]byte(s))
	return fmt.Sprintf("%08x", h.Sum32())
}

// validName reports whether s is a usable nft identifier for our table.
func validName(s string) bool {
	if s == "" || len(s) > maxName {
		return false
	}
	for i, r := range s {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '_' || r == '-')) {
			return false
		}
	}
	return true
}
