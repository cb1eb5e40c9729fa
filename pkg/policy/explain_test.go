package policy_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/netwarden/netwarden/internal/e2emodel"
	"github.com/netwarden/netwarden/pkg/policy"
)

// TestExplainSummaries pins what an explanation says decided each direction.
func TestExplainSummaries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		docs     string
		from, to string
		port     string
		egress   []string // substrings of the egress summary
		ingress  []string // substrings of the ingress summary
		policies [2]string
		steps    [2]int // number of steps walked per direction (egress, ingress)
		warnings int
	}{
		{
			name: "Explain names the deciding admin policy and rule, with the rule's name",
			docs: anp("deny-from-y", `
  priority: 10
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{name: allow-z, action: Allow, from: [{namespaces: {matchLabels: {ns: z}}}]}, {name: deny-y, action: Deny, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]`),
			from: "y/a", to: "x/b", port: "80/TCP",
			egress:   []string{"no policy decided the egress of y/a (10.0.2.10)", "Kubernetes default allows"},
			ingress:  []string{`Deny rule ingress[1] "deny-y" of AdminNetworkPolicy/deny-from-y (Admin tier) denies it`},
			policies: [2]string{"", "AdminNetworkPolicy/deny-from-y"},
			steps:    [2]int{0, 2},
		},
		{
			name: "Explain of an isolated pod names every isolating policy",
			docs: np("x", "allow-b", `
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]`) + np("x", "deny-all", `
  podSelector: {}
  policyTypes: [Ingress]`),
			from: "y/a", to: "x/a", port: "80/TCP",
			ingress:  []string{"x/a (10.0.1.10) is isolated for ingress by NetworkPolicy x/allow-b, NetworkPolicy x/deny-all, and none of their rules allows"},
			policies: [2]string{"", "NetworkPolicy x/allow-b"},
			steps:    [2]int{0, 2},
		},
		{
			name: "Explain names the NetworkPolicy rule that allows",
			docs: np("x", "allow-b", `
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{podSelector: {matchLabels: {pod: c}}}]}, {from: [{podSelector: {matchLabels: {pod: b}}}]}]`),
			from: "x/b", to: "x/a", port: "80/TCP",
			ingress:  []string{"Allow rule ingress[1] of NetworkPolicy x/allow-b (NetworkPolicy tier) allows it"},
			policies: [2]string{"", "NetworkPolicy x/allow-b"},
			steps:    [2]int{0, 2},
		},
		{
			name: "Explain of a Pass walks the Pass step, then the NetworkPolicy that decides",
			docs: anp("pass-y", `
  priority: 10
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{name: pass-y, action: Pass, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]`) + np("x", "deny", `
  podSelector: {}
  policyTypes: [Ingress]`),
			from: "y/a", to: "x/a", port: "80/TCP",
			ingress:  []string{"isolated for ingress by NetworkPolicy x/deny"},
			policies: [2]string{"", "NetworkPolicy x/deny"},
			steps:    [2]int{0, 2},
		},
		{
			name: "Explain of a pod talking to itself says so",
			docs: np("x", "deny", `
  podSelector: {}
  policyTypes: [Ingress, Egress]`),
			from: "x/a", to: "x/a", port: "80/TCP",
			egress:  []string{"a pod talking to itself is always allowed"},
			ingress: []string{"a pod talking to itself is always allowed"},
		},
		{
			name: "Explain of a hostNetwork source says no policy restricts its egress",
			docs: hostPod + "---\n" + np("x", "deny-egress", `
  podSelector: {}
  policyTypes: [Egress]`),
			from: "x/h", to: "y/a", port: "80/TCP",
			egress:  []string{"x/h (10.0.0.1) uses the host network; pod selectors cannot select it"},
			ingress: []string{"and the node it runs on is always allowed by NetworkPolicy"},
		},
		{
			name: "Explain of an external destination says it is not a pod",
			docs: "",
			from: "x/a", to: "192.0.2.1", port: "ICMP",
			ingress: []string{"192.0.2.1 is not a pod, so no policy restricts its ingress"},
		},
		{
			name: "Explain carries the same-priority warning of a policy it walked",
			docs: anp("a", `
  priority: 5
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{name: deny-y, action: Deny, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]`) + anp("b", `
  priority: 5
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{name: allow-y, action: Allow, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]`),
			from: "z/a", to: "x/a", port: "80/TCP",
			ingress:  []string{"no policy decided the ingress of x/a"},
			steps:    [2]int{0, 2},
			warnings: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := compile(t, loadModel(t, false, tc.docs))
			port, err := policy.ParsePort(tc.port)
			if err != nil {
				t.Fatal(err)
			}
			x := e.Explain(endpoint(t, e, tc.from), endpoint(t, e, tc.to), port)
			for i, tr := range []policy.DirectionTrace{x.Egress, x.Ingress} {
				want := [][]string{tc.egress, tc.ingress}[i]
				for _, s := range want {
					if !strings.Contains(tr.Summary, s) {
						t.Errorf("%s summary %q does not say %q", tr.Direction, tr.Summary, s)
					}
				}
				if tr.Policy != tc.policies[i] {
					t.Errorf("%s policy %q, want %q", tr.Direction, tr.Policy, tc.policies[i])
				}
				if len(tr.Steps) != tc.steps[i] {
					t.Errorf("%s walked %d steps, want %d: %+v", tr.Direction, len(tr.Steps), tc.steps[i], tr.Steps)
				}
			}
			if len(x.Warnings) != tc.warnings {
				t.Errorf("warnings %q, want %d", x.Warnings, tc.warnings)
			}
			if _, err := json.Marshal(x); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestExplainAgreesWithDecide checks on every e2e case, probe and pair that the explanation
// reaches Decide's verdict, and that its last step is the rule that decided.
func TestExplainAgreesWithDecide(t *testing.T) {
	for _, c := range e2emodel.Cases() {
		e := compile(t, c.Cluster())
		idx := e2ePods(t, e)
		for _, p := range c.Probes {
			port := probePort(t, p)
			for _, src := range idx {
				for _, dst := range idx {
					s, d := e.PodEndpoint(src, c.Family), e.PodEndpoint(dst, c.Family)
					v := e.Decide(s, d, port)
					x := e.Explain(s, d, port)
					name := c.Name + ": " + p.String() + " " + pairName(e, s, d)
					if x.Allowed != v.Allowed {
						t.Fatalf("%s: Explain says %v, Decide %v", name, x.Allowed, v.Allowed)
					}
					for i, dec := range []policy.Decision{v.Egress, v.Ingress} {
						tr := []policy.DirectionTrace{x.Egress, x.Ingress}[i]
						if tr.Allowed != dec.Allowed || tr.Reason != dec.Reason.String() || tr.Tier != dec.Tier.String() {
							t.Fatalf("%s %s: trace %v/%s/%s, decision %+v", name, tr.Direction, tr.Allowed, tr.Reason, tr.Tier, dec)
						}
						if dec.Reason == policy.ReasonRule {
							last := tr.Steps[len(tr.Steps)-1]
							if !last.Matched || last.Policy != tr.Policy || last.Rule != *tr.Rule || last.Tier != tr.Tier {
								t.Fatalf("%s %s: last step %+v does not match the decision %s rule %d", name, tr.Direction, last, tr.Policy, *tr.Rule)
							}
						}
						if dec.Reason == policy.ReasonIsolated {
							for _, st := range tr.Steps {
								if st.Tier == "NetworkPolicy" && st.Matched {
									t.Fatalf("%s %s: isolated, yet step %+v matched", name, tr.Direction, st)
								}
							}
						}
					}
				}
			}
		}
	}
}
