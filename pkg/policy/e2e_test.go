package policy_test

import (
	"strings"
	"testing"

	"github.com/netwarden/netwarden/internal/e2emodel"
	"github.com/netwarden/netwarden/pkg/policy"
)

// TestE2ECases runs the upstream-style e2e catalogue: for every case and probe, the full
// 9×9 matrix the evaluator decides must be the case's hand-written table.
func TestE2ECases(t *testing.T) {
	for _, c := range e2emodel.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			e, err := policy.Compile(c.Cluster())
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range c.Probes {
				got := e2eMatrix(t, e, c.Family, probePort(t, p))
				if d := p.Want.Diff(got); len(d) > 0 {
					t.Errorf("%s: %d pairs differ:\n  %s\nwant:\n%sgot:\n%s", p, len(d), strings.Join(d, "\n  "), p.Want, got)
				}
			}
		})
	}
}

func probePort(t testing.TB, p e2emodel.Probe) policy.Port {
	t.Helper()
	port, err := policy.ParsePort(p.String())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// e2eMatrix decides every ordered pair of model pods over the given address family.
func e2eMatrix(t testing.TB, e *policy.Engine, family int, port policy.Port) e2emodel.Table {
	t.Helper()
	idx := e2ePods(t, e)
	var got e2emodel.Table
	for i, src := range idx {
		for j, dst := range idx {
			s, d := e.PodEndpoint(src, family), e.PodEndpoint(dst, family)
			if !s.IP.IsValid() || !d.IP.IsValid() {
				t.Fatalf("no IPv%d address on %s or %s", family, e.Pods[src].Key, e.Pods[dst].Key)
			}
			got[i][j] = e.Decide(s, d, port).Allowed
		}
	}
	return got
}

func e2ePods(t testing.TB, e *policy.Engine) []int32 {
	t.Helper()
	var idx []int32
	for _, key := range e2emodel.PodKeys() {
		i, ok := e.PodByKey(key)
		if !ok {
			t.Fatalf("pod %s missing", key)
		}
		idx = append(idx, i)
	}
	return idx
}

// TestOracleAgreesWithE2ECases checks the fuzzer's reference evaluator against the same
// hand-written tables, so that the oracle is itself held to the spec.
func TestOracleAgreesWithE2ECases(t *testing.T) {
	for _, c := range e2emodel.Cases() {
		e := compile(t, c.Cluster())
		o := newOracle(e.Cluster)
		idx := e2ePods(t, e)
		for _, p := range c.Probes {
			port := probePort(t, p)
			var got e2emodel.Table
			for i, src := range idx {
				for j, dst := range idx {
					s, d := e.PodEndpoint(src, c.Family), e.PodEndpoint(dst, c.Family)
					eg, in := o.decide(oEnd{e.Pods[src].Pod, s.IP}, oEnd{e.Pods[dst].Pod, d.IP}, port)
					got[i][j] = eg && in
				}
			}
			if d := p.Want.Diff(got); len(d) > 0 {
				t.Errorf("%s %s: the oracle differs:\n  %s", c.Name, p, strings.Join(d, "\n  "))
			}
		}
	}
}
