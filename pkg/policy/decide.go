package policy

// Reason says how one direction was decided.
type Reason uint8

const (
	// ReasonNotApplicable: the endpoint for this direction is not a policy subject (an
	// address outside the pod network, or a hostNetwork pod), so nothing restricts it.
	ReasonNotApplicable Reason = iota
	// ReasonSelf: a pod talking to itself never leaves its network namespace.
	ReasonSelf
	// ReasonNotIsolated: no policy of any tier decided; the Kubernetes default allows.
	ReasonNotIsolated
	// ReasonRule: a rule decided (Tier, Policy, Rule say which, Action what).
	ReasonRule
	// ReasonIsolated: NetworkPolicies select the pod for this direction and none of their
	// rules allows the connection (Policy is the first of them).
	ReasonIsolated
	// ReasonOwnNode: traffic between a pod and the node it runs on (kubelet probes) is
	// always allowed by NetworkPolicy; only an admin-tier rule can decide it otherwise.
	ReasonOwnNode
)

func (r Reason) String() string {
	switch r {
	case ReasonSelf:
		return "self"
	case ReasonNotIsolated:
		return "not-isolated"
	case ReasonRule:
		return "rule"
	case ReasonIsolated:
		return "isolated"
	case ReasonOwnNode:
		return "own-node"
	}
	return "not-applicable"
}

// Decision is the outcome for one direction.
type Decision struct {
	Allowed bool
	Reason  Reason
	Tier    Tier
	Action  Action
	Policy  int32 // index into Engine.Policies, or -1
	Rule    int32 // index into the policy's rules for this direction, or -1
}

// Verdict is the outcome for a connection: allowed only when egress at the source and
// ingress at the destination both allow it.
type Verdict struct {
	Allowed bool
	Egress  Decision
	Ingress Decision
}

func decided(r Reason, allowed bool) Decision {
	return Decision{Allowed: allowed, Reason: r, Tier: TierDefault, Policy: -1, Rule: -1}
}

// Decide returns the verdict for a connection from src to dst on port. It does no I/O and
// does not allocate.
func (e *Engine) Decide(src, dst Endpoint, port Port) Verdict {
	return e.DecideIn(Enforced, src, dst, port)
}

// DecideIn is Decide for a view; DecideIn(WithAudit, ...) is what the connection would get
// if the audit policies were enforced.
func (e *Engine) DecideIn(v View, src, dst Endpoint, port Port) Verdict {
	if src.Pod >= 0 && src.Pod == dst.Pod {
		d := decided(ReasonSelf, true)
		return Verdict{Allowed: true, Egress: d, Ingress: d}
	}
	eg := e.direction(v, Egress, src, dst, dst, port, nil)
	in := e.direction(v, Ingress, dst, src, dst, port, nil)
	return Verdict{Allowed: eg.Allowed && in.Allowed, Egress: eg, Ingress: in}
}

// DecideDirection decides one direction only: egress of subject towards peer, or ingress
// of subject from peer.
func (e *Engine) DecideDirection(d Direction, subject, peer Endpoint, port Port) Decision {
	return e.DecideDirectionIn(Enforced, d, subject, peer, port)
}

// DecideDirectionIn is DecideDirection for a view.
func (e *Engine) DecideDirectionIn(v View, d Direction, subject, peer Endpoint, port Port) Decision {
	dst := peer
	if d == Ingress {
		dst = subject
	}
	return e.direction(v, d, subject, peer, dst, port, nil)
}

// direction walks the tiers for one direction. subject is the pod whose policies apply,
// peer the other end, dst the destination of the connection (named ports resolve there).
func (e *Engine) direction(v View, d Direction, subject, peer, dst Endpoint, port Port, tr *DirectionTrace) Decision {
	if subject.Pod < 0 || e.Pods[subject.Pod].Ident < 0 {
		return decided(ReasonNotApplicable, true)
	}
	id := e.Pods[subject.Pod].Ident
	if dec, final := e.adminTier(d, TierAdmin, e.selecting[v][d][TierAdmin][id], peer, dst, port, tr); final {
		return dec
	}
	if e.isOwnNode(subject.Pod, peer) {
		return decided(ReasonOwnNode, true)
	}
	if nps := e.selecting[v][d][TierNetworkPolicy][id]; len(nps) > 0 {
		for _, pi := range nps {
			p := e.Policies[pi]
			for ri := range p.Rules(d) {
				r := &p.Rules(d)[ri]
				m := e.ruleMatches(r, peer, dst, port)
				if tr != nil {
					tr.add(TierNetworkPolicy, pi, ri, m)
				}
				if m.matched() {
					return Decision{Allowed: true, Reason: ReasonRule, Tier: TierNetworkPolicy, Action: Allow, Policy: pi, Rule: int32(ri)}
				}
			}
			if tr != nil && len(p.Rules(d)) == 0 {
				tr.add(TierNetworkPolicy, pi, -1, ruleMatch{})
			}
		}
		return Decision{Allowed: false, Reason: ReasonIsolated, Tier: TierNetworkPolicy, Action: Deny, Policy: nps[0], Rule: -1}
	}
	if dec, final := e.adminTier(d, TierBaseline, e.selecting[v][d][TierBaseline][id], peer, dst, port, tr); final {
		return dec
	}
	return decided(ReasonNotIsolated, true)
}

// isOwnNode reports whether peer is the node pod runs on: one of the node's addresses,
// or a hostNetwork pod on that node.
func (e *Engine) isOwnNode(pod int32, peer Endpoint) bool {
	node := e.Pods[pod].Pod.Spec.NodeName
	if node == "" {
		return false
	}
	if peer.Pod >= 0 && e.Pods[peer.Pod].HostNetwork {
		return e.Pods[peer.Pod].Pod.Spec.NodeName == node
	}
	if !peer.IP.IsValid() {
		return false
	}
	for _, ip := range e.hostAddrs[node] {
		if ip == peer.IP {
			return true
		}
	}
	return false
}

// adminTier applies admin or baseline policies in order; the first matching rule decides,
// unless it passes, which ends the tier.
func (e *Engine) adminTier(d Direction, t Tier, pols []int32, peer, dst Endpoint, port Port, tr *DirectionTrace) (Decision, bool) {
	for _, pi := range pols {
		p := e.Policies[pi]
		rules := p.Rules(d)
		for ri := range rules {
			r := &rules[ri]
			m := e.ruleMatches(r, peer, dst, port)
			if tr != nil {
				tr.add(t, pi, ri, m)
			}
			if !m.matched() {
				continue
			}
			if r.Action == Pass {
				return Decision{}, false
			}
			return Decision{Allowed: r.Action == Allow, Reason: ReasonRule, Tier: t, Action: r.Action, Policy: pi, Rule: int32(ri)}, true
		}
	}
	return Decision{}, false
}

// ruleMatch records which parts of a rule matched; explanations print it.
type ruleMatch struct {
	peer int16 // index of the first matching peer; -1 none; -2 any peer
	port bool
}

func (m ruleMatch) matched() bool { return m.peer != -1 && m.port }

func (e *Engine) ruleMatches(r *Rule, peer, dst Endpoint, port Port) ruleMatch {
	m := ruleMatch{peer: -1, port: e.portMatches(r, dst, port)}
	if r.AnyPeer {
		m.peer = -2
		return m
	}
	for i := range r.Peers {
		if e.peerMatches(&r.Peers[i], peer) {
			m.peer = int16(i)
			break
		}
	}
	return m
}

func (e *Engine) peerMatches(p *Peer, ep Endpoint) bool {
	switch p.Kind {
	case PeerPods:
		return ep.Pod >= 0 && p.pods.has(e.Pods[ep.Pod].Ident)
	case PeerIPBlock, PeerNetworks:
		return p.MatchesIP(ep.IP)
	case PeerNodes:
		if p.MatchesIP(ep.IP) {
			return true
		}
		if ep.Pod >= 0 && e.Pods[ep.Pod].HostNetwork {
			_, ok := p.nodeNames[e.Pods[ep.Pod].Pod.Spec.NodeName]
			return ok
		}
	}
	return false
}

func (e *Engine) portMatches(r *Rule, dst Endpoint, port Port) bool {
	if r.AnyPort {
		return true
	}
	for i := range r.Ports {
		m := &r.Ports[i]
		if m.Named != "" {
			if dst.Pod < 0 || !port.HasPort() {
				continue
			}
			for _, np := range e.Pods[dst.Pod].NamedPorts {
				if np.Name == m.Named && np.Proto == port.Proto && np.Num == port.Num && (m.Proto == 0 || m.Proto == np.Proto) {
					return true
				}
			}
			continue
		}
		if m.Proto == port.Proto && port.HasPort() && m.Lo <= port.Num && port.Num <= m.Hi {
			return true
		}
	}
	return false
}
