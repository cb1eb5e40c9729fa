package testbed

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/netwarden/netwarden/internal/e2emodel"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// e2eProbeOptions are quick: every probe whose timeout disagrees with the evaluator is
// probed again patiently by Check, so a short timeout costs no false differences.
var e2eProbeOptions = ProbeOptions{Timeout: 150 * time.Millisecond, Parallel: 64}

// TestE2EModelCasesOnTheDataplane replays the upstream e2e NetworkPolicy model with real
// TCP, UDP and SCTP packets: nine pods keep the model's addresses (so the hand-written
// truth tables, ipBlocks included, apply), spread over two nodes, and every case's policies
// are enforced by the dataplane. The packets must agree with the evaluator and with the
// case's table. ICMP probes are not made.
func TestE2EModelCasesOnTheDataplane(t *testing.T) {
	requireRoot(t)
	for _, mode := range []Mode{Routed, Bridged} {
		for _, family := range []int{4, 6} {
			t.Run(string(mode)+"/IPv"+strconv.Itoa(family), func(t *testing.T) {
				if mode == Bridged && testing.Short() {
					t.Skip("-short: routed mode only")
				}
				runE2E(t, mode, family)
			})
		}
	}
}

// runE2E runs the cases of one family: IPv4 cases on the IPv4 model, IPv6 cases on the
// dual-stack model, probed over both families and compared with the table over IPv6.
func runE2E(t *testing.T, mode Mode, family int) {
	base := e2emodel.Cluster()
	if family == 6 {
		base = e2emodel.DualStackCluster()
	}
	for _, p := range base.Pods {
		p.Spec.NodeName = "" // spread the pods over the nodes
	}
	spec, err := Plan(base, PlanOptions{Mode: mode, Nodes: 2, KeepAddresses: true})
	if err != nil {
		t.Fatal(err)
	}
	e, err := policy.Compile(base)
	if err != nil {
		t.Fatal(err)
	}
	Serve(spec, e, nil)
	tb, err := New(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	start := time.Now()
	probes := 0
	n := 0
	for _, c := range e2emodel.Cases() {
		if c.Family != family {
			continue
		}
		n++
		t.Run(c.Name, func(t *testing.T) {
			cl := withPodsOf(c.Cluster(), base)
			e, err := policy.Compile(cl)
			if err != nil {
				t.Fatal(err)
			}
			if err := tb.Enforce(e); err != nil {
				t.Fatal(err)
			}
			var ports []policy.Port
			want := map[policy.Port]e2emodel.Table{}
			for _, p := range c.Probes {
				if p.Protocol == e2emodel.ProtocolICMP {
					continue
				}
				pt, err := policy.ParsePort(p.String())
				if err != nil {
					t.Fatal(err)
				}
				ports = append(ports, pt)
				want[pt] = p.Want
			}
			if len(ports) == 0 {
				t.Skip("ICMP probes only")
			}
			r, err := tb.Check(context.Background(), e, ports, e2eProbeOptions)
			if err != nil {
				t.Fatal(err)
			}
			probes += len(r.Results)
			for _, d := range r.Differences {
				t.Errorf("%s -> %s %s: packets %s (%s), evaluator %s; %s | %s", d.From, d.To, d.Port, word(d.Observed), d.Outcome, word(d.Predicted), d.Explanation.Egress.Summary, d.Explanation.Ingress.Summary)
			}
			for _, res := range r.Results {
				pt, _ := policy.ParsePort(res.Port)
				if res.Outcome == Skipped.String() || (res.Family != 0 && res.Family != family) {
					continue
				}
				w := want[pt][e2emodel.PodIndex(res.From)][e2emodel.PodIndex(res.To)]
				if res.Allowed != w {
					t.Errorf("%s -> %s %s: packets %s, the case's table says %s", res.From, res.To, res.Port, word(res.Allowed), word(w))
				}
			}
			if t.Failed() {
				if y, err := c.YAML(); err == nil {
					t.Logf("reproduce with these policies on the e2e model:\n%s", y)
				}
			}
		})
	}
	took := time.Since(start)
	t.Logf("%s: setup %v; %d probes over %d cases in %v (%.0f probes/s, enforcement and conntrack resets included)",
		mode, tb.SetupTime.Round(time.Millisecond), probes, n, took.Round(time.Millisecond), float64(probes)/took.Seconds())
}

// withPodsOf gives c the pods and nodes of the planned base cluster (same addresses and
// placement), keeping c's policies.
func withPodsOf(c, base *model.Cluster) *model.Cluster {
	c.Pods, c.Nodes = base.Pods, base.Nodes
	return c
}

func word(allowed bool) string {
	if allowed {
		return "allowed"
	}
	return "denied"
}
