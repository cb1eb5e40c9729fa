package dataplane

import (
	"fmt"
	"strings"
	"testing"

	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/policy"
)

// ingressRules returns the rules of the chain deciding ingress for the pod at addr.
func ingressRules(t *testing.T, p *Program, addr string) []Rule {
	t.Helper()
	for _, e := range p.Set("ingress4").Elements {
		if e.Addr.String() == addr {
			return p.Chain(e.Verdict.Target).Rules
		}
	}
	t.Fatalf("no ingress chain for %s", addr)
	return nil
}

// TestTierLookupsDoNotGrowWithPolicies: whatever the number of NetworkPolicies selecting
// a pod, its chain holds a few lookups (at most four per run, the port ranges that have
// hash sets of their own, two for named ports, and the isolation drop); only the sets
// grow.
func TestTierLookupsDoNotGrowWithPolicies(t *testing.T) {
	const bound = 4 + maxRangeSets + 2 + 1
	got := map[int]int{}
	for _, n := range []int{10, 100, 1000, 3000} {
		e, err := policy.Compile(policyCluster(n, 2000))
		if err != nil {
			t.Fatal(err)
		}
		p, err := Compile(e, []int32{0}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got[n] = len(ingressRules(t, p, "10.244.0.2"))
		if got[n] > bound {
			t.Fatalf("%d policies: the chain has %d rules, more than %d:\n%s", n, got[n], bound, p)
		}
	}
	if got[100] != got[1000] || got[1000] != got[3000] {
		t.Fatalf("rules by number of policies: %v", got)
	}
}

func compileYAML(t *testing.T, manifests string) *Program {
	t.Helper()
	c, err := loader.LoadBytes("test.yaml", []byte(manifests), loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := policy.Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(e, localPods(e, ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const twoPods = `
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: a, labels: {app: db}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.2}
`

// TestAdminRunsOfOneVerdictMerge: consecutive admin rules with the same verdict share
// lookups (their union decides as the first of them would); a rule with another verdict
// between them keeps them apart, since first-match order matters across verdicts. Rules
// that only allow still get a chain: they count what they allow.
func TestAdminRunsOfOneVerdictMerge(t *testing.T) {
	anp := func(actions ...string) string {
		var rules []string
		for i, a := range actions {
			rules = append(rules, fmt.Sprintf("{name: r%d, action: %s, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}], ports: [{portNumber: {protocol: TCP, port: %d}}]}", i, a, 80+i))
		}
		return twoPods + fmt.Sprintf(`---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: guard}
spec:
  priority: 1
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: db}}}}
  ingress: [%s]
`, strings.Join(rules, ", "))
	}
	for _, tc := range []struct {
		name    string
		actions []string
		want    []string // the accounts the chain's lookups lead to, in order
	}{
		{"allows in a row are one lookup", []string{"Allow", "Allow", "Allow"}, []string{"allow"}},
		{"denies in a row are one lookup", []string{"Deny", "Deny"}, []string{"deny"}},
		{"a deny between allows keeps them apart", []string{"Allow", "Deny", "Allow"}, []string{"allow", "deny", "allow"}},
		{"runs of each verdict", []string{"Allow", "Allow", "Deny", "Deny", "Allow"}, []string{"allow", "deny", "allow"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compileYAML(t, anp(tc.actions...))
			var got []string
			for _, r := range ingressRules(t, p, "10.0.0.2") {
				// Each run is one lookup; its elements go to the accounts of its rules.
				verdicts := map[string]bool{}
				for _, e := range p.Set(r.Verdict().Target).Elements {
					a, _ := p.Account(p.acctChains[e.Verdict.Target])
					verdicts[a.Verdict.String()] = true
				}
				if len(verdicts) != 1 {
					t.Fatalf("lookup %s leads to accounts of verdicts %v:\n%s", r, verdicts, p)
				}
				for v := range verdicts {
					got = append(got, v)
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("verdicts %v, want %v:\n%s", got, tc.want, p)
			}
		})
	}
}

// TestRunCommentsNameTheirRules: a lookup's comment names the policy rules of its run,
// and says how many more when they do not fit nft's comment limit.
func TestRunCommentsNameTheirRules(t *testing.T) {
	var b strings.Builder
	b.WriteString(twoPods)
	for i := range 30 {
		fmt.Fprintf(&b, `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-%02d, namespace: a}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: %d}]}]
`, i, 1000+i)
	}
	p := compileYAML(t, b.String())
	rules := ingressRules(t, p, "10.0.0.2")
	c := rules[0].Comment()
	if !strings.HasPrefix(c, "NetworkPolicy a/allow-00 ingress[0]; NetworkPolicy a/allow-01 ingress[0]") || !strings.HasSuffix(c, " more") || len(c) > maxComment-1 {
		t.Fatalf("comment %q (%d characters)", c, len(c))
	}
}
