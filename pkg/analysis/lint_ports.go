package analysis

import (
	"fmt"
	"sort"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netwarden/netwarden/pkg/policy"
)

// ports: NW701 (a named port that no destination pod declares with that protocol) and
// NW702 (endPort on a named port, which the API server and the loader refuse; it can only
// come from objects that skipped validation).
func (l *linter) ports() {
	for i := range l.views() {
		v := &l.pv[i]
		for _, d := range directions {
			for ri := range v.p.Rules(d) {
				r := &v.p.Rules(d)[ri]
				for k, m := range r.Ports {
					if m.Named != "" {
						l.namedPort(v, d, ri, k, r, m)
					}
				}
			}
		}
		if v.np != nil {
			l.endPortNamed(v)
		}
	}
}

func (l *linter) namedPort(v *polView, d policy.Direction, ri, k int, r *policy.Rule, m policy.PortMatch) {
	// The destinations: for ingress the policy's own pods, for egress the rule's pod peers.
	var dsts []int
	for i, pi := range l.e.Pods {
		if pi.HostNetwork {
			continue
		}
		if d == policy.Ingress {
			if v.p.SelectsIdentity(pi.Ident) {
				dsts = append(dsts, i)
			}
			continue
		}
		if r.AnyPeer {
			dsts = append(dsts, i)
			continue
		}
		for j := range r.Peers {
			if r.Peers[j].MatchesIdentity(pi.Ident) {
				dsts = append(dsts, i)
				break
			}
		}
	}
	if len(dsts) == 0 {
		return // nothing to resolve against; NW201/NW202 say why
	}
	otherProto := map[string]bool{}
	for _, i := range dsts {
		for _, np := range l.e.Pods[i].NamedPorts {
			if np.Name != m.Named {
				continue
			}
			if m.Proto == 0 || np.Proto == m.Proto {
				return
			}
			otherProto[np.Proto.String()] = true
		}
	}
	who := "the pods it selects"
	if d == policy.Egress {
		who = "the pods its peers match"
	}
	msg := fmt.Sprintf("named port %s in %s matches nothing: none of %s declares a container port named %q", m, ruleName(v.p, d, ri), who, m.Named)
	hint := "name the container port in the destination pods, or use the port number"
	if len(otherProto) > 0 {
		ps := sortedKeys(otherProto)
		msg = fmt.Sprintf("named port %s in %s matches nothing: %s declare %q only as %s", m, ruleName(v.p, d, ri), who, m.Named, strings.Join(ps, ", "))
		hint = "use the protocol the container port declares"
	} else if names := l.declaredNames(dsts); len(names) > 0 {
		if n := nearest(m.Named, names); n != "" {
			hint = fmt.Sprintf("did you mean %q? (%s)", n, hint)
		} else {
			hint = fmt.Sprintf("%s; they declare: %s", hint, listSome(names, 5))
		}
	}
	l.report(RuleNamedPortUndeclared, v.p.Ref, portField(v, d, ri, k), msg, hint)
}

func (l *linter) declaredNames(pods []int) []string {
	seen := map[string]bool{}
	for _, i := range pods {
		for _, np := range l.e.Pods[i].NamedPorts {
			seen[np.Name] = true
		}
	}
	names := sortedKeys(seen)
	sort.Strings(names)
	return names
}

func (l *linter) endPortNamed(v *polView) {
	check := func(dir string, ri int, ports []networkingv1.NetworkPolicyPort) {
		for k, pt := range ports {
			if pt.EndPort != nil && pt.Port != nil && pt.Port.Type == intstr.String {
				l.report(RuleEndPortNamed, v.p.Ref, fmt.Sprintf("spec.%s[%d].ports[%d].endPort", dir, ri, k),
					fmt.Sprintf("endPort %d is set on the named port %q; the API server rejects this, and netwarden ignores endPort here", *pt.EndPort, pt.Port.StrVal),
					"use a numeric port with endPort, or drop endPort")
			}
		}
	}
	for ri, r := range v.np.Spec.Ingress {
		check("ingress", ri, r.Ports)
	}
	for ri, r := range v.np.Spec.Egress {
		check("egress", ri, r.Ports)
	}
}

// engineWarnings: NW601 and NW602 restate the evaluator's warnings as findings.
func (l *linter) engineWarnings() {
	for _, w := range l.e.Warnings {
		switch w.Code {
		case "same-priority-overlap":
			l.report(RuleSamePriority, w.Policy, "spec.priority", w.Message, "give the policies distinct priorities", w.Related...)
		case "domain-names":
			l.report(RuleApproximated, w.Policy, "", w.Message, "check the verdicts for these rules on a live cluster")
		default:
			l.reportAt(RuleApproximated, SeverityWarning, w.Policy, "", w.Message, "upgrade netwarden, or check the verdicts for this policy on a live cluster")
		}
	}
}
