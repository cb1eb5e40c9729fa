package dataplane

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/netwarden/netwarden/pkg/policy"
)

// Names of the verdict maps that dispatch packets to per-pod chains, by direction and
// family. Policy-derived names always contain an underscore, so they cannot collide.
func dispatchMap(d policy.Direction, fam Family) string {
	if d == policy.Ingress {
		return fmt.Sprintf("ingress%d", fam)
	}
	return fmt.Sprintf("egress%d", fam)
}

// selfSet holds (address . address) of every local pod, so a pod reaching itself (a
// hairpin through a Service) is always allowed.
func selfSet(fam Family) string { return fmt.Sprintf("self%d", fam) }

var families = [...]Family{IPv4, IPv6}

// Compile builds the program for one node: ingress and egress enforcement for the local
// pods (indices into e.Pods; hostNetwork pods and pods without addresses are not
// enforced), with peer sets covering pods on every node.
//
// For every local pod, direction, peer address and port, the program's verdict for that
// direction equals e.DecideDirection: that is the specification, and the tests hold the
// compiler to it.
func Compile(e *policy.Engine, local []int32, opts Options) (*Program, error) {
	if opts.TableName == "" {
		opts.TableName = DefaultTableName
	}
	if !validName(opts.TableName) {
		return nil, fmt.Errorf("table name %q: use letters, digits, '_' and '-' (at most %d characters), starting with a letter", opts.TableName, maxName)
	}
	c := newCompiler(e)
	c.opts = opts
	p := &Program{Table: opts.TableName, opts: opts}

	subjects := append([]int32(nil), local...)
	sort.Slice(subjects, func(i, j int) bool { return subjects[i] < subjects[j] })
	var dispatch [2][]Element // by direction, both families; split below
	var self []Element
	owner := map[netip.Addr]string{} // a verdict map holds one element per address
	for i, pod := range subjects {
		if pod < 0 || int(pod) >= len(e.Pods) {
			return nil, fmt.Errorf("local pod index %d out of range (the engine has %d pods)", pod, len(e.Pods))
		}
		if i > 0 && pod == subjects[i-1] {
			continue
		}
		info := &e.Pods[pod]
		if info.HostNetwork {
			continue // no pod selector selects it: nothing to enforce
		}
		if len(info.IPs) == 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("pod %s has no IP address yet; its policies are not enforced until it has one", info.Key))
			continue
		}
		var ips []netip.Addr
		for _, ip := range info.IPs {
			if other, taken := owner[ip]; taken {
				p.Warnings = append(p.Warnings, fmt.Sprintf("pods %s and %s have the same address %s; only %s's policies are enforced for it", other, info.Key, ip, other))
				continue
			}
			owner[ip] = info.Key
			ips = append(ips, ip)
			self = append(self, Element{Addr: ip, Dst: ip})
		}
		for _, d := range [...]policy.Direction{policy.Egress, policy.Ingress} {
			chain := c.subjectChain(pod, d)
			if k := c.logKind(pod, d); k != 0 {
				chain = c.logWrapper(d, chain, k)
			}
			if chain == "" {
				continue
			}
			for _, ip := range ips {
				dispatch[d] = append(dispatch[d], Element{Addr: ip, Verdict: Verdict{Kind: Jump, Target: chain}})
			}
		}
	}

	for _, fam := range families {
		for _, d := range [...]policy.Direction{policy.Egress, policy.Ingress} {
			c.addSet(&Set{Name: dispatchMap(d, fam), Key: addrKey(fam), Map: true, Elements: ofFamily(dispatch[d], fam)})
		}
		c.addSet(&Set{Name: selfSet(fam), Key: pairKey(fam), Elements: ofFamily(self, fam)})
	}

	p.Chains = c.baseChains()
	chains, sets := c.used(p.Chains)
	names := make([]string, 0, len(chains))
	for n := range chains {
		names = append(names, n)
	}
	sort.Strings(names)
	p.acctChains = map[string]string{}
	accounts := map[string]bool{}
	for _, n := range names {
		p.Chains = append(p.Chains, c.chains[n])
		if a, ok := c.acctChains[n]; ok {
			p.acctChains[n] = a
			if !accounts[a] {
				accounts[a] = true
				p.Accounts = append(p.Accounts, c.accounts[a])
			}
		}
	}
	sort.Slice(p.Accounts, func(i, j int) bool { return p.Accounts[i].Name < p.Accounts[j].Name })
	for _, s := range c.sets {
		if !sets[s.Name] {
			continue
		}
		s.Elements = sortElements(s.Elements)
		s.summarize()
		p.Sets = append(p.Sets, s)
	}
	sort.Slice(p.Sets, func(i, j int) bool { return p.Sets[i].Name < p.Sets[j].Name })
	return p, nil
}

// used lists the chains and sets reachable from the base chains. Unions are built once
// per run and shared; a run cut off behind an unconditional rule leaves maps and account
// chains nothing refers to, which the program leaves out.
func (c *compiler) used(base []*Chain) (chains, sets map[string]bool) {
	chains, sets = map[string]bool{}, map[string]bool{}
	var visit func(rules []Rule)
	target := func(v Verdict) {
		if (v.Kind == Jump || v.Kind == Goto) && !chains[v.Target] {
			if ch := c.chains[v.Target]; ch != nil {
				chains[v.Target] = true
				visit(ch.Rules)
			}
		}
	}
	visit = func(rules []Rule) {
		for _, r := range rules {
			for _, m := range r.matches {
				switch m := m.(type) {
				case addrMatch:
					sets[m.set] = true
				case tupleMatch:
					sets[m.set] = true
				case pairMatch:
					sets[m.set] = true
				}
			}
			target(r.verdict)
			if r.verdict.Kind == VMap && !sets[r.verdict.Target] {
				sets[r.verdict.Target] = true
				if s := c.sets[r.verdict.Target]; s != nil {
					for _, e := range s.Elements {
						target(e.Verdict)
					}
				}
			}
		}
	}
	for _, ch := range base {
		visit(ch.Rules)
	}
	return chains, sets
}

func ofFamily(es []Element, fam Family) []Element {
	var out []Element
	for _, e := range es {
		if familyOf(e.Addr) == fam {
			out = append(out, e)
		}
	}
	return out
}

func addrKey(fam Family) KeyType {
	if fam == IPv6 {
		return KeyAddr6
	}
	return KeyAddr4
}

func tupleKey(fam Family) KeyType {
	if fam == IPv6 {
		return KeyTuple6
	}
	return KeyTuple4
}

func pairKey(fam Family) KeyType {
	if fam == IPv6 {
		return KeyPair6
	}
	return KeyPair4
}

// ICMPv6 router and neighbor discovery (types 133 to 136) is how IPv6 hosts find their
// neighbors and gateway: below policy, as ARP is for IPv4.
const ndFirst, ndLast = 133, 136

// baseChains hook the dispatch into the packet path. Conntrack comes first, so only the
// first packet of a connection meets the policy. A forwarded packet is checked for
// egress at its source pod, then ingress at its destination pod; a packet to the node
// itself (input) only for egress, one from the node (output) only for ingress. Invalid
// packets are dropped on the forward path only: the node's own traffic is not ours.
func (c *compiler) baseChains() []*Chain {
	established := rule().ctState(ctEstablished | ctRelated).accept()
	nd := rule().icmpv6Type(ndFirst, ndLast).accept()
	dispatch := func(d policy.Direction) []Rule {
		f := Saddr
		if d == policy.Ingress {
			f = Daddr
		}
		var out []Rule
		for _, fam := range families {
			out = append(out, rule().vmap(f, fam, dispatchMap(d, fam)))
		}
		return out
	}
	var self []Rule
	for _, fam := range families {
		self = append(self, rule().pair(fam, selfSet(fam)).accept())
	}
	forward := &Chain{Name: "forward", Hook: HookForward, Rules: []Rule{
		established,
		nd,
		rule().ctState(ctInvalid).drop(),
	}}
	forward.Rules = append(forward.Rules, self...)
	forward.Rules = append(forward.Rules, dispatch(policy.Egress)...)
	forward.Rules = append(forward.Rules, dispatch(policy.Ingress)...)
	input := &Chain{Name: "input", Hook: HookInput, Rules: append([]Rule{established, nd}, dispatch(policy.Egress)...)}
	output := &Chain{Name: "output", Hook: HookOutput, Rules: append([]Rule{established, nd}, dispatch(policy.Ingress)...)}
	return []*Chain{forward, input, output}
}

// subjectChain returns the chain deciding direction d for pod, or "" when no policy of
// any tier selects it (the default allows).
func (c *compiler) subjectChain(pod int32, d policy.Direction) string {
	e := c.e
	admin := e.Selecting(pod, d, policy.TierAdmin)
	nps := e.Selecting(pod, d, policy.TierNetworkPolicy)
	base := e.Selecting(pod, d, policy.TierBaseline)
	if len(admin)+len(nps)+len(base) == 0 {
		return ""
	}
	s := subject{pod: pod, dir: d, fams: podFamilies(e.Pods[pod].IPs)}

	// The NetworkPolicy tier when the pod is isolated, else the baseline tier; what an
	// admin Pass continues with.
	var rest []Rule
	if len(nps) > 0 {
		allow := func(policy.Action) AccountVerdict { return AccountAllow }
		rest, _ = c.tierRules(s, c.policyRules(d, nps), allow, "")
		why := "isolated by " + e.Policies[nps[0]].Ref.String()
		if len(nps) > 1 {
			why += fmt.Sprintf(" and %d more", len(nps)-1)
		}
		rest = append(rest, rule().goTo(c.isolationChain(d, e.Pods[pod].Pod.Namespace)).note(why))
	} else {
		rest, _ = c.tierRules(s, c.policyRules(d, base), func(a policy.Action) AccountVerdict {
			switch a {
			case policy.Deny:
				return AccountDeny
			case policy.Pass:
				return AccountPass // to the default (allow)
			}
			return AccountAllow
		}, "")
	}
	rest = append(c.ownNodeRules(s), rest...)
	rest = reachable(rest)

	// The admin tier: Allow ends this direction's check, Deny drops, Pass goes on with
	// rest (a chain of its own, named before the admin rules are compiled, since the
	// pass accounts continue with it).
	adminRefs := c.policyRules(d, admin)
	restChain := ""
	for _, ref := range adminRefs {
		if c.rule(d, ref).Action == policy.Pass && len(rest) > 0 {
			restChain = chainName(d, rest)
		}
	}
	entry, passing := c.tierRules(s, adminRefs, func(a policy.Action) AccountVerdict {
		switch a {
		case policy.Deny:
			return AccountDeny
		case policy.Pass:
			return AccountPass
		}
		return AccountAllow
	}, restChain)
	entry = cutUnconditional(entry)
	passes := false
	for i := range entry {
		passes = passes || passing[i]
	}
	if passes {
		c.chain(d, rest)
		entry = append(entry, rule().goTo(restChain))
	} else {
		entry = append(entry, rest...)
	}
	entry = reachable(entry)
	if len(entry) == 0 {
		return ""
	}
	return c.chain(d, entry)
}

// ownNodeRules allow traffic between the pod and its own node (its addresses and its
// hostNetwork pods) past the NetworkPolicy and baseline tiers, as the engine does
// (policy.ReasonOwnNode): kubelet health checks must reach isolated pods.
func (c *compiler) ownNodeRules(s subject) []Rule {
	node := c.e.Pods[s.pod].Pod.Spec.NodeName
	if node == "" {
		return nil
	}
	addrs := c.e.HostAddrs(node)
	peer := Daddr
	if s.dir == policy.Ingress {
		peer = Saddr
	}
	var out []Rule
	for _, fam := range s.fams {
		var els []Element
		seen := map[netip.Addr]bool{}
		for _, a := range addrs {
			if familyOf(a) == fam && !seen[a] {
				seen[a] = true
				els = append(els, Element{Addr: a})
			}
		}
		if len(els) == 0 {
			continue
		}
		name := fmt.Sprintf("node%d_%s", fam, shortHash(node))
		c.addSet(&Set{Name: name, Key: addrKey(fam), Elements: els})
		out = append(out, rule().addr(peer, fam, name).ret().note("own node "+node))
	}
	return out
}

// reachable drops rules that can never decide: those after an unconditional verdict,
// and returns at the end of the chain (falling off the end returns too).
func reachable(rules []Rule) []Rule {
	rules = cutUnconditional(rules)
	for len(rules) > 0 && rules[len(rules)-1].verdict.Kind == Return {
		rules = rules[:len(rules)-1]
	}
	return rules
}

// cutUnconditional drops the rules after one that decides every packet.
func cutUnconditional(rules []Rule) []Rule {
	for i, r := range rules {
		if r.Unconditional() && r.verdict.Kind != Jump {
			return rules[:i+1]
		}
	}
	return rules
}

func podFamilies(ips []netip.Addr) []Family {
	var has [7]bool
	for _, ip := range ips {
		has[familyOf(ip)] = true
	}
	var out []Family
	for _, f := range families {
		if has[f] {
			out = append(out, f)
		}
	}
	return out
}
