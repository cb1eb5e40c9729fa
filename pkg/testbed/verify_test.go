package testbed

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/model"
)

func repoPath(parts ...string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(file), "..", ".."}, parts...)...)
}

func loadSeed(t *testing.T) *model.Cluster {
	t.Helper()
	c, err := loader.Load([]string{repoPath("examples", "seed")}, loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestVerifySeedAgreesWithTheEvaluator(t *testing.T) {
	requireRoot(t)
	for _, plan := range []PlanOptions{
		{Mode: Routed, Nodes: 1},
		{Mode: Routed, Nodes: 2},
		{Mode: Bridged, Nodes: 2},
		{Mode: Routed, Nodes: 2, Families: []int{4, 6}},
		{Mode: Bridged, Nodes: 2, Families: []int{4, 6}},
	} {
		t.Run(string(plan.Mode)+"/"+itoa(plan.Nodes)+"-nodes/"+familiesName(plan.Families), func(t *testing.T) {
			r, err := Verify(context.Background(), loadSeed(t), VerifyOptions{Plan: plan})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range r.Differences {
				t.Errorf("%s -> %s %s (IPv%d): packets %v (%s), evaluator %v: %s / %s", d.From, d.To, d.Port, d.Family, d.Observed, d.Outcome, d.Predicted, d.Explanation.Egress.Summary, d.Explanation.Ingress.Summary)
			}
			denied := 0
			for _, res := range r.Results {
				if !res.Predicted {
					denied++
				}
			}
			if denied == 0 || !r.Agree {
				t.Errorf("agree=%v with %d denied probes; the seed denies analytics -> db", r.Agree, denied)
			}
			t.Logf("setup %dms, enforce %dms, %d probes in %dms (%.0f/s)", r.Run.SetupMillis, r.Run.EnforceMillis, r.Run.Probes, r.Run.ProbeMillis, r.Run.ProbesPerSec)
		})
	}
}

func TestVerifyReportsEveryDifferenceWithItsExplanation(t *testing.T) {
	requireRoot(t)
	// Without the dataplane every pair connects, so each pair the seed denies differs.
	r, err := Verify(context.Background(), loadSeed(t), VerifyOptions{NoEnforce: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Agree || len(r.Differences) == 0 {
		t.Fatalf("agree=%v, %d differences; want disagreement", r.Agree, len(r.Differences))
	}
	for _, d := range r.Differences {
		if d.Predicted || !d.Observed || d.Outcome != "connected" || d.To != "default/db" {
			t.Errorf("unexpected difference %+v", d)
		}
		if d.Explanation.Ingress.Reason != "isolated" {
			t.Errorf("%s -> %s: explanation %+v", d.From, d.To, d.Explanation.Ingress)
		}
	}
}

func itoa(i int) string { return string(rune('0' + i)) }

func familiesName(fs []int) string {
	switch len(fs) {
	case 0:
		return "ipv4"
	case 2:
		return "dual-stack"
	}
	return "ipv" + itoa(fs[0])
}
