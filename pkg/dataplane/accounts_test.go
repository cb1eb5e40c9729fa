package dataplane

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/policy"
)

// checkAccounts holds every direction decision of the local pods to the engine's naming:
// the account the program counts a packet in is the rule the engine says decided it (its
// tier, policy, index and verdict), the isolation of the pod's namespace when the
// NetworkPolicy tier denied it for want of a rule, and none when no rule did (the
// default, the pod's own node). It returns how many decisions it compared.
func checkAccounts(t *testing.T, name string, e *policy.Engine, p *Program, local []int32) int {
	t.Helper()
	peers, ports := probeAddrs(e), probePorts(e)
	checked, failed := 0, 0
	for _, s := range local {
		info := &e.Pods[s]
		if info.HostNetwork {
			continue
		}
		for _, sip := range info.IPs {
			subject := policy.Endpoint{Pod: s, IP: sip}
			for _, pip := range peers {
				if pip.Is4() != sip.Is4() {
					continue
				}
				peer := policy.External(pip)
				if q, ok := e.PodByIP(pip); ok {
					peer = policy.Endpoint{Pod: q, IP: pip}
				}
				for _, port := range ports {
					for _, d := range []policy.Direction{policy.Egress, policy.Ingress} {
						dec := e.DecideDirection(d, subject, peer, port)
						allowed, got := p.decideDirection(d, sip, pip, port)
						checked++
						if err := accountMatches(e, p, d, info.Pod.Namespace, dec, got); err != nil && failed < 20 {
							failed++
							t.Errorf("%s: %s of %s (%s) with %s on %s (allowed %v): %v", name, d, info.Key, sip, pip, port, allowed, err)
						}
					}
				}
			}
		}
	}
	return checked
}

func accountMatches(e *policy.Engine, p *Program, d policy.Direction, ns string, dec policy.Decision, got string) error {
	a, ok := p.Account(got)
	if got != "" && !ok {
		return fmt.Errorf("counted in %q, which is not among the program's accounts", got)
	}
	switch dec.Reason {
	case policy.ReasonRule:
		pol := e.Policies[dec.Policy]
		want := AccountAllow
		if !dec.Allowed {
			want = AccountDeny
		}
		if got == "" || a.Kind != AccountRule || a.Policy != pol.Ref || a.Rule != int(dec.Rule) || a.Tier != dec.Tier || a.Verdict != want || a.Direction != d {
			return fmt.Errorf("counted in %q (%+v), the engine names %s %s[%d] (%s, %s)", got, a, pol.Ref, d, dec.Rule, dec.Tier, want)
		}
	case policy.ReasonIsolated:
		if got == "" || a.Kind != AccountIsolation || a.Namespace != ns || a.Direction != d || a.Verdict != AccountDeny {
			return fmt.Errorf("counted in %q (%+v), the engine says isolated in namespace %s", got, a, ns)
		}
	default:
		if got != "" {
			return fmt.Errorf("counted in %q, the engine says %s (no rule)", got, dec.Reason)
		}
	}
	return nil
}

// TestCountersNameTheDecidingRule: on the golden clusters and on random clusters mixing
// every tier, action, peer and port form, every decision is counted in the account of
// the rule the engine names (the first that matches, in evaluation order), with logging
// on and off.
func TestCountersNameTheDecidingRule(t *testing.T) {
	logOn := Options{Log: LogOptions{Group: DefaultLogGroup, Denied: true, Allowed: true, Audit: true}}
	total := 0
	for _, tc := range goldenCases {
		e := loadEngine(t, "testdata/"+tc.name+".yaml")
		for _, opts := range []Options{{}, logOn} {
			p, err := Compile(e, localPods(e, tc.node), opts)
			if err != nil {
				t.Fatal(err)
			}
			total += checkAccounts(t, tc.name, e, p, localPods(e, tc.node))
		}
	}
	for seed := range *randomCases {
		manifests := randomCluster(rand.New(rand.NewPCG(uint64(seed), 7)))
		c, err := loader.LoadBytes(fmt.Sprintf("random-%d.yaml", seed), []byte(manifests), loader.Options{})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		e, err := policy.Compile(c)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		opts := Options{}
		if seed%2 == 1 {
			opts = logOn
		}
		p, err := Compile(e, localPods(e, ""), opts)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		total += checkAccounts(t, fmt.Sprintf("seed %d", seed), e, p, localPods(e, ""))
		if t.Failed() {
			t.Fatalf("seed %d: counted in the wrong account; the cluster:\n%s\nthe program:\n%s", seed, manifests, p)
		}
	}
	t.Logf("%d decisions counted in the account the engine names", total)
}
