package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// Explanation is the full walk behind a verdict, for people (explain) and programs (-o json).
type Explanation struct {
	From    EndpointInfo   `json:"from"`
	To      EndpointInfo   `json:"to"`
	Port    string         `json:"port"`
	Allowed bool           `json:"allowed"`
	Egress  DirectionTrace `json:"egress"`
	Ingress DirectionTrace `json:"ingress"`
	// Warnings are engine warnings about policies that took part in this decision.
	Warnings []string `json:"warnings,omitempty"`
	// Audit is the walk with audit policies enforced too, present when the cluster has
	// audit policies and they would change this verdict.
	Audit *Explanation `json:"audit,omitempty"`
}

// EndpointInfo names an endpoint.
type EndpointInfo struct {
	Pod         string `json:"pod,omitempty"` // namespace/name
	IP          string `json:"ip,omitempty"`
	HostNetwork bool   `json:"hostNetwork,omitempty"`
}

func (i EndpointInfo) String() string {
	switch {
	case i.Pod != "" && i.IP != "":
		return i.Pod + " (" + i.IP + ")"
	case i.Pod != "":
		return i.Pod
	case i.IP != "":
		return i.IP
	}
	return "?"
}

// DirectionTrace is the walk for one direction.
type DirectionTrace struct {
	Direction string `json:"direction"`
	Allowed   bool   `json:"allowed"`
	Reason    string `json:"reason"`
	Tier      string `json:"tier"`
	// Policy and Rule name what decided, when a policy did.
	Policy string `json:"policy,omitempty"`
	Rule   *int   `json:"rule,omitempty"`
	// Summary is the decision in one sentence.
	Summary string `json:"summary"`
	// Steps are the rules looked at, in evaluation order.
	Steps []Step `json:"steps"`

	raw []rawStep
}

// Step is one rule looked at.
type Step struct {
	Tier     string `json:"tier"`
	Policy   string `json:"policy"`
	Priority *int32 `json:"priority,omitempty"`
	// Rule is the rule's index in its direction; -1 when the policy has no rules for it.
	Rule     int    `json:"rule"`
	RuleName string `json:"ruleName,omitempty"`
	Action   string `json:"action"`
	Matched  bool   `json:"matched"`
	// PeerMatched and PortMatched say which half of the rule failed.
	PeerMatched bool   `json:"peerMatched"`
	PortMatched bool   `json:"portMatched"`
	Detail      string `json:"detail"`
	// Audit marks a policy in audit mode (only in the audit walk).
	Audit bool `json:"audit,omitempty"`
}

type rawStep struct {
	tier Tier
	pol  int32
	rule int
	m    ruleMatch
}

func (t *DirectionTrace) add(tier Tier, pol int32, rule int, m ruleMatch) {
	t.raw = append(t.raw, rawStep{tier, pol, rule, m})
}

// Describe names an endpoint for output.
func (e *Engine) Describe(ep Endpoint) EndpointInfo {
	info := EndpointInfo{}
	if ep.IP.IsValid() {
		info.IP = ep.IP.String()
	}
	if ep.Pod >= 0 {
		info.Pod = e.Pods[ep.Pod].Key
		info.HostNetwork = e.Pods[ep.Pod].HostNetwork
	}
	return info
}

// Explain decides a connection like Decide and records every rule it looked at. When audit
// policies would change the verdict, Audit holds the walk with them enforced.
func (e *Engine) Explain(src, dst Endpoint, port Port) Explanation {
	x := e.ExplainIn(Enforced, src, dst, port)
	if e.HasAudit {
		if a := e.ExplainIn(WithAudit, src, dst, port); a.Allowed != x.Allowed || a.Egress.Allowed != x.Egress.Allowed || a.Ingress.Allowed != x.Ingress.Allowed {
			x.Audit = &a
		}
	}
	return x
}

// ExplainIn explains the decision of one view.
func (e *Engine) ExplainIn(view View, src, dst Endpoint, port Port) Explanation {
	x := Explanation{From: e.Describe(src), To: e.Describe(dst), Port: port.String()}
	v := e.DecideIn(view, src, dst, port)
	x.Allowed = v.Allowed
	var egTrace, inTrace DirectionTrace
	if v.Egress.Reason != ReasonSelf {
		e.direction(view, Egress, src, dst, dst, port, &egTrace)
		e.direction(view, Ingress, dst, src, dst, port, &inTrace)
	}
	x.Egress = e.finishTrace(view, Egress, src, v.Egress, egTrace.raw, dst, port)
	x.Ingress = e.finishTrace(view, Ingress, dst, v.Ingress, inTrace.raw, dst, port)
	seen := map[string]bool{}
	for _, w := range e.Warnings {
		for _, s := range append(x.Egress.Steps, x.Ingress.Steps...) {
			if s.Policy == w.Policy.String() && !seen[w.Message] {
				seen[w.Message] = true
				x.Warnings = append(x.Warnings, w.Message)
			}
		}
	}
	return x
}

func (e *Engine) finishTrace(view View, d Direction, subject Endpoint, dec Decision, raw []rawStep, dst Endpoint, port Port) DirectionTrace {
	t := DirectionTrace{Direction: d.String(), Allowed: dec.Allowed, Reason: dec.Reason.String(), Tier: dec.Tier.String(), Steps: []Step{}}
	for _, r := range raw {
		t.Steps = append(t.Steps, e.step(d, r, dst, port))
	}
	who := e.Describe(subject).String()
	switch dec.Reason {
	case ReasonSelf:
		t.Summary = "a pod talking to itself is always allowed: the traffic never leaves its network namespace"
	case ReasonNotApplicable:
		if subject.Pod >= 0 {
			t.Summary = fmt.Sprintf("%s uses the host network; pod selectors cannot select it, so no policy restricts its %s", who, d)
		} else {
			t.Summary = fmt.Sprintf("%s is not a pod, so no policy restricts its %s", who, d)
		}
	case ReasonOwnNode:
		t.Summary = fmt.Sprintf("traffic between %s and the node it runs on is always allowed by NetworkPolicy (kubelet health checks); no admin rule decided otherwise", who)
	case ReasonNotIsolated:
		t.Summary = fmt.Sprintf("no policy decided the %s of %s; the Kubernetes default allows it", d, who)
	case ReasonRule:
		p := e.Policies[dec.Policy]
		t.Policy = p.Ref.String()
		ri := int(dec.Rule)
		t.Rule = &ri
		t.Summary = fmt.Sprintf("%s rule %s of %s (%s tier) %s it", dec.Action, ruleLabel(p, d, ri), p.Ref, dec.Tier, verb(dec.Action))
	case ReasonIsolated:
		var names []string
		for _, pi := range e.SelectingIn(view, subject.Pod, d, TierNetworkPolicy) {
			names = append(names, e.Policies[pi].Ref.String())
		}
		t.Policy = e.Policies[dec.Policy].Ref.String()
		whose := "its rules allows"
		if len(names) > 1 {
			whose = "their rules allows"
		}
		t.Summary = fmt.Sprintf("%s is isolated for %s by %s, and none of %s this connection", who, d, strings.Join(names, ", "), whose)
	}
	return t
}

func verb(a Action) string {
	switch a {
	case Deny:
		return "denies"
	case Pass:
		return "passes"
	}
	return "allows"
}

func ruleLabel(p *Policy, d Direction, ri int) string {
	if ri < 0 {
		return "-"
	}
	label := fmt.Sprintf("%s[%d]", d, ri)
	if n := p.Rules(d)[ri].Name; n != "" {
		label += fmt.Sprintf(" %q", n)
	}
	return label
}

func (e *Engine) step(d Direction, r rawStep, dst Endpoint, port Port) Step {
	p := e.Policies[r.pol]
	s := Step{Tier: r.tier.String(), Policy: p.Ref.String(), Rule: r.rule, Audit: p.Audit}
	if p.Tier != TierNetworkPolicy {
		prio := p.Priority
		if prio <= 1000 {
			s.Priority = &prio
		}
	}
	if r.rule < 0 {
		s.Action = "Deny"
		s.Detail = fmt.Sprintf("has no %s rules: selected pods are isolated for %s and it allows nothing", d, d)
		return s
	}
	rule := &p.Rules(d)[r.rule]
	s.RuleName = rule.Name
	s.Action = rule.Action.String()
	s.Matched = r.m.matched()
	s.PeerMatched = r.m.peer != -1
	s.PortMatched = r.m.port
	var peerText string
	switch {
	case r.m.peer == -2:
		peerText = "the rule has no peers, so every " + map[bool]string{true: "destination", false: "source"}[d == Egress] + " matches"
	case r.m.peer >= 0:
		peerText = "peer " + strconv.Quote(rule.Peers[r.m.peer].Text) + " matches"
	default:
		var all []string
		for _, pr := range rule.Peers {
			all = append(all, strconv.Quote(pr.Text))
		}
		peerText = "no peer matches (" + strings.Join(all, "; ") + ")"
	}
	portText := "any port or protocol"
	if !rule.AnyPort {
		var ps []string
		for _, m := range rule.Ports {
			ps = append(ps, m.String())
		}
		portText = strings.Join(ps, ", ")
	}
	if s.PortMatched {
		s.Detail = fmt.Sprintf("%s; %s is within %s", peerText, port, portText)
	} else {
		s.Detail = fmt.Sprintf("%s; %s is not within %s", peerText, port, portText)
		if namedIn(rule) != "" && dst.Pod >= 0 {
			s.Detail += fmt.Sprintf(" (named ports resolve on %s)", e.Pods[dst.Pod].Key)
		}
	}
	return s
}

func namedIn(r *Rule) string {
	for _, m := range r.Ports {
		if m.Named != "" {
			return m.Named
		}
	}
	return ""
}
