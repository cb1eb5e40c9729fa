package testbed

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// The differential test builds random clusters, enforces random policies of every kind on
// the real dataplane, probes every pair and port, and compares with the evaluator. CI runs
// a few; more with:
//
//	NETWARDEN_DIFF_CLUSTERS=50 NETWARDEN_DIFF_ROUNDS=20 go test ./pkg/testbed -run Differential
//
// NETWARDEN_DIFF_SEED picks the seed (the default is fixed, so CI is repeatable); a
// failure prints the seed, cluster and round, and a minimal reproducer.
func TestDifferentialRandomPoliciesOnTheDataplane(t *testing.T) {
	requireRoot(t)
	clusters := envInt(t, "NETWARDEN_DIFF_CLUSTERS", 3)
	rounds := envInt(t, "NETWARDEN_DIFF_ROUNDS", 6)
	seed := uint64(envInt(t, "NETWARDEN_DIFF_SEED", 20261203))
	if testing.Short() {
		clusters, rounds = 1, 3
	}
	start := time.Now()
	var total diffStats
	for k := range clusters {
		t.Run(fmt.Sprintf("seed=%d/cluster=%d", seed, k), func(t *testing.T) {
			s := differentialCluster(t, seed, k, rounds)
			total.probes += s.probes
			total.sets += s.sets
			total.denied += s.denied
		})
	}
	took := time.Since(start)
	t.Logf("%d clusters, %d policy sets, %d probes (%d predicted denied) in %v (%.0f probes/s, setup and enforcement included)",
		clusters, total.sets, total.probes, total.denied, took.Round(time.Millisecond), float64(total.probes)/took.Seconds())
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s=%q: want a number", name, s)
	}
	return v
}

type diffStats struct{ probes, sets, denied int }

func differentialCluster(t *testing.T, seed uint64, k, rounds int) (st diffStats) {
	r := rand.New(rand.NewPCG(seed, uint64(k)))
	base := genCluster(r)
	opts := PlanOptions{Mode: Routed, Nodes: 2}
	if k%2 == 1 {
		opts.Mode = Bridged
	}
	if k%3 == 2 {
		opts.Families = []int{4, 6}
	}
	spec, err := Plan(base, opts)
	if err != nil {
		t.Fatal(err)
	}
	e0, err := policy.Compile(base)
	if err != nil {
		t.Fatal(err)
	}
	Serve(spec, e0, nil)
	tb, err := New(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	g := &gen{r: r}
	for _, p := range spec.Pods {
		g.ips = append(g.ips, p.IPs...)
	}
	var namespaces []string
	for _, ns := range base.Namespaces {
		namespaces = append(namespaces, ns.Name)
	}
	for round := range rounds {
		ps := g.policies(namespaces)
		c := ps.on(base)
		e, err := policy.Compile(c)
		if err != nil {
			t.Fatalf("round %d: compile: %v\n%s", round, err, manifests(c))
		}
		if err := tb.Enforce(e); err != nil {
			t.Fatalf("round %d: enforce: %v\n%s", round, err, manifests(c))
		}
		rep, err := tb.Check(context.Background(), e, nil, e2eProbeOptions)
		if err != nil {
			t.Fatal(err)
		}
		st.probes += len(rep.Results)
		st.sets++
		for _, res := range rep.Results {
			if !res.Predicted {
				st.denied++
			}
		}
		if !rep.Agree {
			t.Errorf("round %d (%s mode, IPv%v): %d of %d probes disagree with the evaluator; first: %s -> %s %s over IPv%d, packets %s (%s), evaluator %s",
				round, opts.Mode, spec.Families, len(rep.Differences), len(rep.Results), rep.Differences[0].From, rep.Differences[0].To, rep.Differences[0].Port,
				rep.Differences[0].Family, word(rep.Differences[0].Observed), rep.Differences[0].Outcome, word(rep.Differences[0].Predicted))
			t.Log(reproducer(t, tb, base, ps, rep.Differences[0]))
			return st
		}
	}
	return st
}

// reproducer shrinks the policy set to the fewest policies that still make the packets
// disagree with the evaluator on d's pair and port, and prints them with the cluster.
func reproducer(t *testing.T, tb *Testbed, base *model.Cluster, ps policies, d Difference) string {
	pt, _ := policy.ParsePort(d.Port)
	disagrees := func(ps policies) (bool, *policy.Engine) {
		e, err := policy.Compile(ps.on(base))
		if err != nil || tb.Enforce(e) != nil || tb.ResetConntrack() != nil {
			return false, nil
		}
		a, _ := e.PodByKey(d.From)
		b, _ := e.PodByKey(d.To)
		src, dst := e.PodEndpoint(a, d.Family), e.PodEndpoint(b, d.Family)
		o := tb.ProbeOne(context.Background(), Probe{From: int(a), To: int(b), Port: pt, Family: d.Family}, ProbeOptions{Timeout: time.Second})
		return o.Outcome.Reached() != e.Decide(src, dst, pt).Allowed, e
	}
	cur := ps
	for shrunk := true; shrunk; {
		shrunk = false
		for i := range cur.count() {
			if ok, _ := disagrees(cur.without(i)); ok {
				cur, shrunk = cur.without(i), true
				break
			}
		}
	}
	still, e := disagrees(cur)
	var b strings.Builder
	fmt.Fprintf(&b, "minimal reproducer (%d of %d policies; reproduces now: %v): %s -> %s on %s over IPv%d\n", cur.count(), ps.count(), still, d.From, d.To, d.Port, d.Family)
	fmt.Fprintf(&b, "run: netwarden verify --keep-addresses --mode %s --nodes %d --ip-family %s -f repro.yaml\n", tb.Spec.Mode, len(tb.Spec.Nodes), familyFlag(tb.Spec.Families))
	b.WriteString("--- repro.yaml\n")
	b.WriteString(manifests(cur.on(base)))
	if e != nil {
		a, _ := e.PodByKey(d.From)
		x := e.Explain(e.PodEndpoint(a, d.Family), e.PodEndpoint(mustKey(e, d.To), d.Family), pt)
		fmt.Fprintf(&b, "--- evaluator: %v; egress: %s; ingress: %s\n", x.Allowed, x.Egress.Summary, x.Ingress.Summary)
		for i := range tb.Spec.Nodes {
			if p := tb.Program(i); p != nil {
				fmt.Fprintf(&b, "--- program of node %s\n%s\n", tb.Spec.Nodes[i].Name, p.String())
			}
		}
	}
	return b.String()
}

func mustKey(e *policy.Engine, key string) int32 {
	i, _ := e.PodByKey(key)
	return i
}

func familyFlag(fs []int) string {
	if len(fs) > 1 {
		return "dual"
	}
	return strconv.Itoa(fs[0])
}
