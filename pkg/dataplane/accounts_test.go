package dataplane

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
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
	checked, failed := 0, 0
	forEachProbe(e, local, func(info *policy.PodInfo, subject, peer policy.Endpoint, port policy.Port) {
		sip, pip := subject.IP, peer.IP
		for _, d := range []policy.Direction{policy.Egress, policy.Ingress} {
			dec := e.DecideDirection(d, subject, peer, port)
			allowed, got := p.decideDirection(d, sip, pip, port)
			checked++
			if allowed != dec.Allowed && failed < 20 {
				failed++
				t.Errorf("%s: %s of %s (%s) with %s on %s: program says %v, engine says %v", name, d, info.Key, sip, pip, port, allowed, dec.Allowed)
			}
			if err := accountMatches(e, p, d, info.Pod.Namespace, dec, got); err != nil && failed < 20 {
				failed++
				t.Errorf("%s: %s of %s (%s) with %s on %s (allowed %v): %v", name, d, info.Key, sip, pip, port, allowed, err)
			}
		}
	})
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

// TestLogOptionsChooseWhatIsLogged: deny accounts log only with Log.Denied, wrappers log
// the allowed connections of every local pod with Log.Allowed and of the pods an audit
// policy selects (in that direction) with Log.Audit, and nothing logs without a group.
func TestLogOptionsChooseWhatIsLogged(t *testing.T) {
	e := loadEngine(t, "testdata/logging.yaml")
	all := []string{"egress prod/web", "egress prod/api", "egress jobs/batch", "ingress prod/web", "ingress prod/api", "ingress jobs/batch"}
	for _, tc := range []struct {
		name       string
		log        LogOptions
		denyLogs   bool
		wrapped    []string // "direction pod" of the wrapped dispatch elements
		kind       LogKind
		limitThere bool
	}{
		{"nothing logs without a group", LogOptions{Denied: true, Allowed: true, Audit: true}, false, nil, 0, false},
		{"denied packets log in their deny accounts", LogOptions{Group: 5, Denied: true}, true, nil, 0, true},
		{"allowed logging wraps every local pod both ways", LogOptions{Group: 5, Allowed: true}, false, all, LogAllow, true},
		{"audit logging wraps only what an audit policy selects", LogOptions{Group: 5, Audit: true}, false, []string{"ingress prod/api"}, LogAudit, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(e, localPods(e, ""), Options{Log: tc.log})
			if err != nil {
				t.Fatal(err)
			}
			denyLogs := 0
			for _, a := range p.Accounts {
				if a.Verdict != AccountDeny {
					continue
				}
				logs := strings.Contains(chainText(p.Chain(a.Name)), `log prefix "`+LogPrefix(LogDeny, a.Name)+`" group 5`)
				if logs != tc.denyLogs {
					t.Errorf("deny account %s logs: %v, want %v", a.Name, logs, tc.denyLogs)
				}
				if logs {
					denyLogs++
				}
			}
			if tc.denyLogs && denyLogs == 0 {
				t.Errorf("no deny account logs:\n%s", p)
			}
			var wrapped []string
			for _, d := range []policy.Direction{policy.Egress, policy.Ingress} {
				for _, el := range p.Set(dispatchMap(d, IPv4)).Elements {
					c := p.Chain(el.Verdict.Target)
					text := chainText(c)
					if !strings.Contains(text, "log prefix") {
						continue
					}
					q, _ := e.PodByIP(el.Addr)
					wrapped = append(wrapped, d.String()+" "+e.Pods[q].Key)
					if want := `log prefix "` + LogPrefix(tc.kind, d.String()) + `" group 5`; !strings.Contains(text, want) {
						t.Errorf("wrapper of %s %s is\n%s\nwant a rule with %s", d, e.Pods[q].Key, text, want)
					}
				}
			}
			slices.Sort(wrapped)
			want := append([]string(nil), tc.wrapped...)
			slices.Sort(want)
			if strings.Join(wrapped, ", ") != strings.Join(want, ", ") {
				t.Errorf("wrapped %v, want %v", wrapped, want)
			}
			if got := strings.Contains(p.String(), "limit "+LogLimitName+" {"); got != tc.limitThere {
				t.Errorf("limit object present: %v, want %v", got, tc.limitThere)
			}
		})
	}
}

// TestLoggingNeverChangesVerdicts: whatever is logged (audit policies included), every
// direction decision of every random cluster is the same as without logging.
func TestLoggingNeverChangesVerdicts(t *testing.T) {
	logs := []LogOptions{
		{Group: 1, Denied: true},
		{Group: 1, Allowed: true},
		{Group: 1, Audit: true},
		{Group: 1, Denied: true, Allowed: true, Audit: true},
	}
	n := 0
	for seed := range min(*randomCases, 100) {
		manifests := randomCluster(rand.New(rand.NewPCG(uint64(seed), 7)))
		c, err := loader.LoadBytes("random.yaml", []byte(manifests), loader.Options{})
		if err != nil {
			t.Fatal(err)
		}
		e, err := policy.Compile(c)
		if err != nil {
			t.Fatal(err)
		}
		local := localPods(e, "")
		plain, err := Compile(e, local, Options{})
		if err != nil {
			t.Fatal(err)
		}
		logged, err := Compile(e, local, Options{Log: logs[seed%len(logs)]})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range local {
			for _, sip := range e.Pods[s].IPs {
				for _, pip := range probeAddrs(e) {
					if pip.Is4() != sip.Is4() || e.Pods[s].HostNetwork {
						continue
					}
					for _, port := range probePorts(e) {
						for _, d := range []policy.Direction{policy.Egress, policy.Ingress} {
							n++
							if a, b := plain.allowsDirection(d, sip, pip, port), logged.allowsDirection(d, sip, pip, port); a != b {
								t.Fatalf("seed %d, %+v: %s of %s with %s on %s: %v without logging, %v with", seed, logs[seed%len(logs)], d, sip, pip, port, a, b)
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d decisions the same with and without logging", n)
}

func chainText(c *Chain) string {
	var b strings.Builder
	c.write(&b)
	return b.String()
}

// TestAccountNamesFitLogPrefixes: however long a policy's name, its accounts' log
// prefixes fit the kernel's 127 characters, and two policies sharing a long prefix keep
// apart.
func TestAccountNamesFitLogPrefixes(t *testing.T) {
	long := strings.Repeat("x", 200)
	p := compileYAML(t, twoPods+`---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: `+long+`-a, namespace: a}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: `+long+`-b, namespace: a}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {}}], ports: [{port: 80}]}]
`)
	seen := map[string]bool{}
	for _, a := range p.Accounts {
		if n := len(LogPrefix(LogDeny, a.Name)); n > 127 {
			t.Errorf("account %s makes a log prefix of %d characters", a.Name, n)
		}
		seen[a.Name] = true
	}
	if len(seen) != 3 { // two rules and the isolation of namespace a
		t.Fatalf("accounts %v, want 3 distinct", p.Accounts)
	}
}

// TestAccountsAreWhatTheChainsCount: Program.Accounts lists exactly the counters the
// program's chains count in, sorted, each with its fields filled, and account names
// stay when unrelated policies come.
func TestAccountsAreWhatTheChainsCount(t *testing.T) {
	for _, tc := range goldenCases {
		e, p := compileCase(t, tc.name, tc.node)
		counted := map[string]bool{}
		for _, c := range p.Chains {
			for _, r := range c.Rules {
				for _, st := range r.stmts {
					if cr, ok := st.(counterRef); ok {
						counted[cr.name] = true
					}
				}
			}
		}
		if len(counted) != len(p.Accounts) {
			t.Errorf("%s: chains count in %d counters, Accounts has %d", tc.name, len(counted), len(p.Accounts))
		}
		for i, a := range p.Accounts {
			if !counted[a.Name] {
				t.Errorf("%s: account %s is counted by no chain", tc.name, a.Name)
			}
			if i > 0 && p.Accounts[i-1].Name >= a.Name {
				t.Errorf("%s: accounts not sorted at %s", tc.name, a.Name)
			}
			switch a.Kind {
			case AccountRule:
				pi := slices.IndexFunc(e.Policies, func(pol *policy.Policy) bool { return pol.Ref == a.Policy })
				if pi < 0 || a.Rule < 0 || a.Rule >= len(e.Policies[pi].Rules(a.Direction)) || e.Policies[pi].Tier != a.Tier || a.Namespace != a.Policy.Namespace {
					t.Errorf("%s: account %+v names no rule of the engine", tc.name, a)
				} else if r := e.Policies[pi].Rules(a.Direction)[a.Rule]; r.Name != a.RuleName {
					t.Errorf("%s: account %s has rule name %q, the rule %q", tc.name, a.Name, a.RuleName, r.Name)
				}
			case AccountIsolation:
				if a.Namespace == "" || a.Rule != -1 || a.Verdict != AccountDeny || a.Tier != policy.TierNetworkPolicy {
					t.Errorf("%s: isolation account %+v", tc.name, a)
				}
			}
		}
	}

	// One more policy, unrelated to the rest: every account there was keeps its name.
	before := compileYAML(t, twoPods+oneAllow("a", "allow-web", "web"))
	after := compileYAML(t, twoPods+oneAllow("a", "allow-web", "web")+oneAllow("a", "aaa-first", "nobody"))
	for _, a := range before.Accounts {
		if b, ok := after.Account(a.Name); !ok || b != a {
			t.Errorf("account %+v is %+v once another policy exists", a, b)
		}
	}
}

func oneAllow(ns, name, from string) string {
	return `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ` + name + `, namespace: ` + ns + `}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: ` + from + `}}}], ports: [{port: 5432}]}]
`
}

// TestPassAccountsContinueWithTheirSubjectsRest: a pass leads to a chain per rest chain
// (subjects passed on to different NetworkPolicy tiers), all counting in the one account
// of the passing rule, while the rule's allow and deny neighbours keep one chain each.
func TestPassAccountsContinueWithTheirSubjectsRest(t *testing.T) {
	_, p := compileCase(t, "anp-pass", "")
	var chains []string
	for _, c := range p.Chains {
		if p.acctChains[c.Name] == "acct_anp_tenant-team_in1" {
			chains = append(chains, chainText(c))
		}
	}
	// app is isolated (its rest is its NetworkPolicy tier); friend and stranger are not
	// (the pass ends their check: the default allows).
	if len(chains) != 2 {
		t.Fatalf("the pass rule has %d chains, want 2 (one continuing, one returning):\n%s", len(chains), strings.Join(chains, "\n"))
	}
	gotos := 0
	for _, c := range chains {
		if !strings.Contains(c, `counter name "acct_anp_tenant-team_in1"`) {
			t.Errorf("pass chain does not count in the rule's account:\n%s", c)
		}
		if strings.Contains(c, "goto in-") {
			gotos++
		}
	}
	if gotos != 1 {
		t.Errorf("%d pass chains continue with a rest chain, want 1:\n%s", gotos, strings.Join(chains, "\n"))
	}
}
