package dataplane

import (
	"fmt"
	"hash/fnv"
	"math/bits"
	"net/netip"
	"slices"
	"strings"

	"go4.org/netipx"

	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// compiler holds what Compile builds up: the chains (named by their content, so pods with
// the same policies share one), the sets (named by the policy rules they serve, so every
// chain using those rules shares them), and, per policy rule, the peers it matches.
type compiler struct {
	e       *policy.Engine
	chains  map[string]*Chain
	sets    map[string]*Set
	names   names
	byIdent [][]int32 // pods (non-hostNetwork, with addresses) by identity
	unions  map[unionKey]union
	peers   map[peerKey]*rulePeers
	byAddr  [7][]podAddr // by family: see sortedPods
	opts    Options
	// accounts by name, and the account of each account chain by chain name.
	accounts   map[string]Account
	acctChains map[string]string
	acctNames  map[peerKey]string // by rule and direction (fam unused)
}

func newCompiler(e *policy.Engine) *compiler {
	c := &compiler{e: e, chains: map[string]*Chain{}, sets: map[string]*Set{}, names: names{},
		unions: map[unionKey]union{}, peers: map[peerKey]*rulePeers{},
		accounts: map[string]Account{}, acctChains: map[string]string{}, acctNames: map[peerKey]string{}}
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
	name := chainName(d, rules)
	if _, ok := c.chains[name]; !ok {
		c.chains[name] = &Chain{Name: name, Rules: rules}
	}
	return name
}

func chainName(d policy.Direction, rules []Rule) string {
	h := fnv.New64a()
	for _, r := range rules {
		h.Write([]byte(r.String()))
		h.Write([]byte{'\n'})
	}
	return fmt.Sprintf("%s-%012x", dirShort(d), h.Sum64()&(1<<48-1))
}

func dirShort(d policy.Direction) string {
	if d == policy.Ingress {
		return "in"
	}
	return "eg"
}

// peerField is the packet address that is the peer's in direction d.
func peerField(d policy.Direction) Field {
	if d == policy.Ingress {
		return Saddr
	}
	return Daddr
}

// subject is whose chain is being built: the pod (named ports of ingress rules resolve
// against it), the direction and the pod's address families.
type subject struct {
	pod  int32
	dir  policy.Direction
	fams []Family
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

type peerKey struct {
	ref ruleRef
	dir policy.Direction
	fam Family
}

// rulePeers is what one rule's peers match, in one family: computed once per rule, then
// shared by every union the rule takes part in.
type rulePeers struct {
	// exact says the rule has pod or node peers: addresses that come and go with pods, kept
	// in hash sets. Pod peers are kept as the identities they match (many rules match
	// the same pods; unions merge identities before listing addresses), node peers as
	// addresses.
	exact  bool
	idents identSet
	nodes  []netip.Addr
	// nets are the ranges of the rule's ipBlock and networks peers, exceptions taken out;
	// the whole address space for a rule matching any peer.
	nets []netipx.IPRange
	// hasNamed says the rule has egress named ports; named holds (address . protocol .
	// port) of every pod the peers match that has a container port they name.
	hasNamed bool
	named    []Element
}

func (c *compiler) rulePeers(d policy.Direction, ref ruleRef, fam Family) *rulePeers {
	k := peerKey{ref, d, fam}
	if rp, ok := c.peers[k]; ok {
		return rp
	}
	r := c.rule(d, ref)
	rp := &rulePeers{}
	c.peers[k] = rp
	var nets netipx.IPSetBuilder
	if r.AnyPeer {
		nets.AddPrefix(netip.PrefixFrom(zeroAddrOf(fam), 0))
	}
	for i := range r.Peers {
		p := &r.Peers[i]
		switch p.Kind {
		case policy.PeerPods:
			rp.exact = true
			if rp.idents == nil {
				rp.idents = newIdentSet(len(c.byIdent))
			}
			for id := range c.byIdent {
				if p.MatchesIdentity(int32(id)) {
					rp.idents.add(id)
				}
			}
		case policy.PeerNodes:
			rp.exact = true
			for _, n := range p.Nodes {
				for _, ip := range c.e.NodeIPs(n) {
					if familyOf(ip) == fam {
						rp.nodes = append(rp.nodes, ip)
					}
				}
			}
		case policy.PeerIPBlock:
			var b netipx.IPSetBuilder
			b.AddPrefix(p.CIDR)
			for _, x := range p.Except {
				b.RemovePrefix(x)
			}
			one, _ := b.IPSet()
			nets.AddSet(one)
		case policy.PeerNetworks:
			for _, n := range p.Networks {
				nets.AddPrefix(n)
			}
		}
	}
	set, _ := nets.IPSet()
	for _, rg := range set.Ranges() {
		if familyOf(rg.From()) == fam {
			rp.nets = append(rp.nets, rg)
		}
	}
	if d == policy.Egress && !r.AnyPort {
		var named []policy.PortMatch
		for _, m := range r.Ports {
			if m.Named != "" {
				named = append(named, m)
			}
		}
		if len(named) > 0 {
			rp.hasNamed = true
			rp.named = c.namedElements(r, fam, named)
		}
	}
	return rp
}

// identSet is a set of identities, as a bitmap.
type identSet []uint64

func newIdentSet(n int) identSet { return make(identSet, (n+63)/64) }

func (s identSet) add(id int)      { s[id/64] |= 1 << (id % 64) }
func (s identSet) has(id int) bool { return s[id/64]&(1<<(id%64)) != 0 }
func (s identSet) or(o identSet) {
	for i := range o {
		s[i] |= o[i]
	}
}
func (s identSet) each(f func(id int)) {
	for i, w := range s {
		for w != 0 {
			b := bits.TrailingZeros64(w)
			f(i*64 + b)
			w &^= 1 << b
		}
	}
}

// peerAddrs gathers pod and node peers of several rules, to list each address once.
type peerAddrs struct {
	idents identSet
	nodes  []netip.Addr
}

func (c *compiler) addPeers(g *peerAddrs, rp *rulePeers) {
	if rp.idents != nil {
		if g.idents == nil {
			g.idents = newIdentSet(len(c.byIdent))
		}
		g.idents.or(rp.idents)
	}
	g.nodes = append(g.nodes, rp.nodes...)
}

// addrs lists the gathered peers' addresses of family fam, sorted, each once.
func (c *compiler) addrs(g *peerAddrs, fam Family) []netip.Addr {
	pods := 0
	if g.idents != nil {
		g.idents.each(func(id int) { pods += len(c.byIdent[id]) })
	}
	out := make([]netip.Addr, 0, pods+len(g.nodes))
	if pods > 0 && pods >= len(c.sortedPods(fam))/8 {
		// Most of the cluster: walk every pod in address order, no sorting.
		for _, a := range c.sortedPods(fam) {
			if g.idents.has(int(c.e.Pods[a.pod].Ident)) {
				out = append(out, a.ip)
			}
		}
		if len(g.nodes) == 0 {
			return slices.Compact(out)
		}
	} else if pods > 0 {
		g.idents.each(func(id int) {
			for _, pod := range c.byIdent[id] {
				for _, ip := range c.e.Pods[pod].IPs {
					if familyOf(ip) == fam {
						out = append(out, ip)
					}
				}
			}
		})
	}
	out = append(out, g.nodes...)
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

type podAddr struct {
	ip  netip.Addr
	pod int32
}

// sortedPods lists the addresses of family fam of every pod that has an identity, in
// address order; built once.
func (c *compiler) sortedPods(fam Family) []podAddr {
	if c.byAddr[fam] != nil {
		return c.byAddr[fam]
	}
	out := []podAddr{}
	for _, pods := range c.byIdent {
		for _, pod := range pods {
			for _, ip := range c.e.Pods[pod].IPs {
				if familyOf(ip) == fam {
					out = append(out, podAddr{ip, pod})
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b podAddr) int { return a.ip.Compare(b.ip) })
	c.byAddr[fam] = out
	return out
}

// namedElements resolves egress named ports: (address . protocol . port) for every pod
// the rule's peers match that has a container port the rule names, since a named port
// means a different number on each destination pod.
func (c *compiler) namedElements(r *policy.Rule, fam Family, named []policy.PortMatch) []Element {
	var out []Element
	for _, pods := range c.byIdent {
		for _, pod := range pods {
			for _, ip := range c.e.Pods[pod].IPs {
				if familyOf(ip) != fam || !c.peerMatches(r, pod, ip) {
					continue
				}
				for _, np := range c.e.Pods[pod].NamedPorts {
					for _, m := range named {
						if namedMatches(m, np) {
							out = append(out, Element{Addr: ip, Proto: np.Proto, Port: np.Num})
						}
					}
				}
			}
		}
	}
	return out
}

func zeroAddrOf(fam Family) netip.Addr {
	if fam == IPv6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

// names gives sets stable, readable names from the policy rule they serve
// ("np_prod_db-allow_in0_ports4"), and keeps them unique and within nft's limits.
type names map[string]string // base name -> policy it was given to

const maxName = 200

// base returns the policy's part of set names, unique among the policies named so far.
func (n names) base(ref model.Ref) string {
	key := ref.String()
	base := refBase(ref)
	if owner, ok := n[base]; ok && owner != key {
		base += "-" + shortHash(key)
	}
	n[base] = key
	return base
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
