package flowlog

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/netwarden/netwarden/pkg/dataplane"
	"github.com/netwarden/netwarden/pkg/policy"
)

// Options choose what attribution emits.
type Options struct {
	// Node is the node the records are logged on (Record.Node).
	Node string
	// Allowed says allowed connections are wanted (the program logs them,
	// dataplane.LogOptions.Allowed): an audit line the audit policies would allow is
	// then a record too; otherwise only the ones they would deny are.
	Allowed bool
}

// Accounts finds the account of a counter or log prefix name in the program in force
// (dataplane.Program.Account).
type Accounts func(name string) (dataplane.Account, bool)

// Attributor names what decided logged packets, from one state of the node: the policy
// engine and the accounts of the program compiled from it. It is immutable; a new state
// makes a new Attributor. Attribute does no I/O.
type Attributor struct {
	opts     Options
	e        *policy.Engine
	accounts Accounts
	// nodeByIP names the node of an address that is a node's or a hostNetwork pod's.
	nodeByIP map[netip.Addr]string
}

// NewAttributor builds an Attributor. e and accounts may be nil (before the first sync):
// records then carry what the log prefix alone tells.
func NewAttributor(opts Options, e *policy.Engine, accounts Accounts) *Attributor {
	a := &Attributor{opts: opts, e: e, accounts: accounts, nodeByIP: map[netip.Addr]string{}}
	if e != nil {
		for _, n := range e.Cluster.Nodes {
			for _, ip := range e.HostAddrs(n.Name) {
				a.nodeByIP[ip] = n.Name
			}
		}
		for _, p := range e.Pods {
			if p.HostNetwork && p.Pod.Spec.NodeName != "" {
				for _, ip := range p.IPs {
					a.nodeByIP[ip] = p.Pod.Spec.NodeName
				}
			}
		}
	}
	return a
}

// Attribute makes the record of a logged packet. It reports false when there is nothing
// to record: a prefix netwarden did not write, or an audit line the audit policies
// would allow while allowed connections are not wanted.
func (a *Attributor) Attribute(m Message) (Record, bool) {
	kind, name, ok := dataplane.ParseLogPrefix(m.Prefix)
	if !ok {
		return Record{}, false
	}
	h := m.Packet
	port := h.Port()
	f := flow{src: a.endpoint(h.Src), dst: a.endpoint(h.Dst), port: port}
	rec := Record{Time: m.Time.UTC(), Node: a.opts.Node, Protocol: h.Proto.String(), Src: a.describe(f.src), Dst: a.describe(f.dst)}
	if port.HasPort() {
		rec.Port = h.DstPort
	}
	if h.Proto == policy.ProtoICMP || h.Proto == policy.ProtoICMPv6 {
		rec.ICMP = &ICMP{Type: h.ICMPType, Code: h.ICMPCode}
	}
	switch kind {
	case dataplane.LogDeny:
		a.denied(&rec, name, f)
		return rec, true
	case dataplane.LogAllow, dataplane.LogAudit:
		d, ok := parseDirection(name)
		if !ok {
			return Record{}, false
		}
		if kind == dataplane.LogAudit && !a.opts.Allowed && (a.e == nil || a.decide(policy.WithAudit, d, f).Allowed) {
			return Record{}, false
		}
		a.allowed(&rec, d, f)
		return rec, true
	}
	return Record{}, false
}

// flow is a packet as the engine decides it.
type flow struct {
	src, dst policy.Endpoint
	port     policy.Port
}

func (f flow) subject(d policy.Direction) policy.Endpoint {
	if d == policy.Ingress {
		return f.dst
	}
	return f.src
}

func parseDirection(s string) (policy.Direction, bool) {
	switch s {
	case "ingress":
		return policy.Ingress, true
	case "egress":
		return policy.Egress, true
	}
	return 0, false
}

func (a *Attributor) endpoint(ip netip.Addr) policy.Endpoint {
	if a.e != nil {
		if i, ok := a.e.PodByIP(ip); ok {
			return policy.Endpoint{Pod: i, IP: ip.Unmap()}
		}
	}
	return policy.External(ip)
}

func (a *Attributor) describe(ep policy.Endpoint) Endpoint {
	out := Endpoint{IP: ep.IP.String()}
	if ep.Pod >= 0 {
		p := a.e.Pods[ep.Pod]
		out.Pod, out.Namespace = p.Key, p.Pod.Namespace
		return out
	}
	out.Node = a.nodeByIP[ep.IP]
	return out
}

// decide is the engine's decision for one direction of the flow in a view.
func (a *Attributor) decide(v policy.View, d policy.Direction, f flow) policy.Decision {
	verdict := a.e.DecideIn(v, f.src, f.dst, f.port)
	if d == policy.Ingress {
		return verdict.Ingress
	}
	return verdict.Egress
}

// denied fills a record from the account that denied the packet: the kernel's word on
// what decided. The engine names the isolating policies and checks it still agrees.
func (a *Attributor) denied(rec *Record, name string, f flow) {
	rec.Verdict = VerdictDeny
	if a.accounts == nil {
		rec.Reason = fmt.Sprintf("denied by account %s; the agent has no program in force yet to name it", name)
		return
	}
	acct, ok := a.accounts(name)
	if !ok {
		rec.Stale = true
		rec.Reason = fmt.Sprintf("denied by %s, which the program in force no longer has (the policies changed since)", name)
		if a.e != nil {
			// The direction is not in the prefix; the engine may still know it.
			if v := a.e.Decide(f.src, f.dst, f.port); !v.Ingress.Allowed {
				rec.Direction = policy.Ingress.String()
			} else if !v.Egress.Allowed {
				rec.Direction = policy.Egress.String()
			}
		}
		return
	}
	d := acct.Direction
	rec.Direction = d.String()
	rec.Tier = tierName(acct.Tier)
	switch acct.Kind {
	case dataplane.AccountRule:
		ref := refOf(acct.Policy)
		rule := acct.Rule
		rec.Policy, rec.Rule, rec.RuleName = &ref, &rule, acct.RuleName
		rec.Reason = "denied by " + ruleText(ref, rule, acct.RuleName)
	case dataplane.AccountIsolation:
		rec.IsolatedBy = a.isolating(policy.Enforced, d, f.subject(d))
		if len(rec.IsolatedBy) > 0 {
			rec.Policy = &rec.IsolatedBy[0]
			rec.Reason = "isolated by " + isolationText(rec.IsolatedBy) + "; nothing allowed it"
		} else {
			rec.Reason = fmt.Sprintf("isolated for %s by the NetworkPolicies of namespace %s; nothing allowed it", d, acct.Namespace)
		}
	}
	if a.e == nil {
		return
	}
	rec.Stale = a.decide(policy.Enforced, d, f).Allowed
	// The audit part says what the audit policies change; against a stale verdict the
	// change would be the policies' since, not theirs.
	if a.e.HasAudit && !rec.Stale {
		if ad := a.decide(policy.WithAudit, d, f); ad.Allowed {
			rec.Audit = a.audit(ad, d, f)
		}
	}
}

// allowed fills a record of an allowed connection from the engine: the kernel's log
// prefix names only the direction.
func (a *Attributor) allowed(rec *Record, d policy.Direction, f flow) {
	rec.Verdict = VerdictAllow
	rec.Direction = d.String()
	if a.e == nil {
		rec.Reason = "allowed (no policies loaded yet to say why)"
		return
	}
	dec := a.decide(policy.Enforced, d, f)
	if !dec.Allowed {
		rec.Stale = true
		rec.Reason = "allowed by the kernel; the policies in force now would not: " + a.decisionText(policy.Enforced, dec, d, f, false)
	} else {
		a.fill(rec, dec, d)
		rec.Reason = a.decisionText(policy.Enforced, dec, d, f, false)
	}
	if a.e.HasAudit && !rec.Stale {
		if ad := a.decide(policy.WithAudit, d, f); !ad.Allowed {
			rec.Audit = a.audit(ad, d, f)
		}
	}
}

// fill sets the tier, policy and rule of an engine decision for direction d.
func (a *Attributor) fill(rec *Record, dec policy.Decision, d policy.Direction) {
	rec.Tier = tierName(dec.Tier)
	if dec.Reason == policy.ReasonRule {
		p := a.e.Policies[dec.Policy]
		ref, rule := refOf(p.Ref), int(dec.Rule)
		rec.Policy, rec.Rule = &ref, &rule
		rec.RuleName = p.Rules(d)[rule].Name
	}
}

// audit is the audit part of a record: what the audit view decides, in its words.
func (a *Attributor) audit(dec policy.Decision, d policy.Direction, f flow) *Audit {
	out := &Audit{Verdict: VerdictAllow, Tier: tierName(dec.Tier), Reason: a.decisionText(policy.WithAudit, dec, d, f, true)}
	if !dec.Allowed {
		out.Verdict = VerdictDeny
	}
	switch dec.Reason {
	case policy.ReasonRule:
		p := a.e.Policies[dec.Policy]
		ref, rule := refOf(p.Ref), int(dec.Rule)
		out.Policy, out.Rule, out.RuleName = &ref, &rule, p.Rules(d)[rule].Name
	case policy.ReasonIsolated:
		ref := refOf(a.e.Policies[dec.Policy].Ref)
		out.Policy = &ref
	}
	return out
}

// isolating lists the NetworkPolicies that isolate the subject pod for d.
func (a *Attributor) isolating(v policy.View, d policy.Direction, subject policy.Endpoint) []PolicyRef {
	if a.e == nil || subject.Pod < 0 {
		return nil
	}
	var out []PolicyRef
	for _, pi := range a.e.SelectingIn(v, subject.Pod, d, policy.TierNetworkPolicy) {
		out = append(out, refOf(a.e.Policies[pi].Ref))
	}
	return out
}

// decisionText says an engine decision in words; would phrases what the audit view
// would do.
func (a *Attributor) decisionText(v policy.View, dec policy.Decision, d policy.Direction, f flow, would bool) string {
	subject := a.describe(f.subject(d)).String()
	switch dec.Reason {
	case policy.ReasonRule:
		p := a.e.Policies[dec.Policy]
		rule := int(dec.Rule)
		what := ruleText(refOf(p.Ref), rule, p.Rules(d)[rule].Name)
		verb := map[bool]string{true: "allowed by ", false: "denied by "}[dec.Allowed]
		if would {
			return "would be " + verb + what
		}
		return verb + what
	case policy.ReasonIsolated:
		by := isolationText(a.isolating(v, d, f.subject(d)))
		if would {
			return "would be isolated by " + by + "; nothing would allow it"
		}
		return "isolated by " + by + "; nothing allowed it"
	case policy.ReasonOwnNode:
		return "traffic between " + subject + " and its own node is always allowed"
	case policy.ReasonSelf:
		return "a pod talking to itself is always allowed"
	case policy.ReasonNotApplicable:
		return fmt.Sprintf("%s is not a pod policies select; nothing restricts its %s", subject, d)
	}
	if would {
		return fmt.Sprintf("no policy would decide the %s of %s; the Kubernetes default would allow it", d, subject)
	}
	return fmt.Sprintf("no policy decided the %s of %s; the Kubernetes default allows it", d, subject)
}

// ruleText: "AdminNetworkPolicy deny-db rule 0 (block-db)".
func ruleText(ref PolicyRef, rule int, name string) string {
	s := fmt.Sprintf("%s rule %d", ref, rule)
	if name != "" {
		s += " (" + name + ")"
	}
	return s
}

// isolationText: "NetworkPolicy prod/default-deny (and 2 more)".
func isolationText(refs []PolicyRef) string {
	if len(refs) == 0 {
		return "NetworkPolicies"
	}
	var b strings.Builder
	b.WriteString(refs[0].String())
	if n := len(refs) - 1; n > 0 {
		fmt.Fprintf(&b, " (and %d more)", n)
	}
	return b.String()
}
