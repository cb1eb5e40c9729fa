package policy_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/netwarden/netwarden/internal/e2emodel"
	"github.com/netwarden/netwarden/pkg/gen"
	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// conn is one connection to decide.
type conn struct {
	src, dst policy.Endpoint
	port     policy.Port
}

var benchPorts = []policy.Port{
	{Proto: policy.ProtoTCP, Num: 80}, {Proto: policy.ProtoTCP, Num: 81}, {Proto: policy.ProtoUDP, Num: 80},
	{Proto: policy.ProtoSCTP, Num: 81}, {Proto: policy.ProtoTCP, Num: 8080}, {Proto: policy.ProtoUDP, Num: 53},
	{Proto: policy.ProtoICMP},
}

// connections lists every pod pair on every bench port, plus pods to and from an external
// address, or n random ones of them when n > 0.
func connections(e *policy.Engine, n int, seed uint64) []conn {
	ext := policy.External(netip.MustParseAddr("192.0.2.1"))
	pick := func(r *rand.Rand) conn {
		a, b := int32(r.IntN(len(e.Pods))), int32(r.IntN(len(e.Pods)))
		s, d := e.PodPair(a, b)
		switch r.IntN(16) {
		case 0:
			s = ext
		case 1:
			d = ext
		}
		return conn{s, d, benchPorts[r.IntN(len(benchPorts))]}
	}
	r := rand.New(rand.NewPCG(seed, 1))
	var out []conn
	if n > 0 {
		for range n {
			out = append(out, pick(r))
		}
		return out
	}
	for a := range e.Pods {
		for b := range e.Pods {
			s, d := e.PodPair(int32(a), int32(b))
			for _, p := range benchPorts {
				out = append(out, conn{s, d, p})
			}
		}
		s, _ := e.PodPair(int32(a), int32(a))
		for _, p := range benchPorts {
			out = append(out, conn{s, ext, p}, conn{ext, s, p})
		}
	}
	return out
}

// TestDecideDoesNotAllocate proves the hot path is allocation-free on every e2e case and on
// a generated cluster with admin tiers.
func TestDecideDoesNotAllocate(t *testing.T) {
	var engines []*policy.Engine
	for _, c := range e2emodel.Cases() {
		engines = append(engines, compile(t, c.Cluster()))
	}
	big, _ := syntheticEngines(t)
	engines = append(engines, big)
	for _, e := range engines {
		n := 0
		if len(e.Pods) > 100 {
			n = 20000
		}
		conns := connections(e, n, 1)
		allowed := 0
		allocs := testing.AllocsPerRun(3, func() {
			for i := range conns {
				if e.Decide(conns[i].src, conns[i].dst, conns[i].port).Allowed {
					allowed++
				}
			}
		})
		if allocs != 0 {
			t.Fatalf("Decide allocates: %.1f allocations per %d decisions", allocs, len(conns))
		}
	}
}

var synthetic struct {
	once           sync.Once
	full, noPolicy *policy.Engine
	err            error
}

// syntheticEngines compiles a generated cluster (1,000 pods in 20 namespaces, 200
// NetworkPolicies plus admin tiers), and the same pods without any policy.
func syntheticEngines(t testing.TB) (full, noPolicy *policy.Engine) {
	t.Helper()
	synthetic.once.Do(func() {
		g, err := gen.Generate(gen.Options{Pods: 1000, Policies: 200, Namespaces: 20, Admin: true, Seed: 7})
		if err != nil {
			synthetic.err = err
			return
		}
		var buf bytes.Buffer
		if synthetic.err = g.WriteStream(&buf); synthetic.err != nil {
			return
		}
		c, err := loader.LoadBytes("gen.yaml", buf.Bytes(), loader.Options{})
		if err != nil {
			synthetic.err = err
			return
		}
		if synthetic.full, synthetic.err = policy.Compile(c); synthetic.err != nil {
			return
		}
		synthetic.noPolicy, synthetic.err = policy.Compile(withoutPolicies(c))
	})
	if synthetic.err != nil {
		t.Fatal(synthetic.err)
	}
	return synthetic.full, synthetic.noPolicy
}

func withoutPolicies(c *model.Cluster) *model.Cluster {
	return &model.Cluster{Namespaces: c.Namespaces, Pods: c.Pods, Nodes: c.Nodes, Sources: c.Sources}
}

// e2eEngines compiles the e2e model with every admin and NetworkPolicy case's policies at
// once (renamed apart), the busiest evaluation the model has, and the bare model.
func e2eEngines(t testing.TB) (full, noPolicy *policy.Engine) {
	t.Helper()
	all := e2emodel.Cluster()
	for i, c := range e2emodel.Cases() {
		if c.Family != 4 {
			continue
		}
		cl := c.Cluster()
		suffix := "-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		for _, o := range cl.NetworkPolicies {
			o.Name += suffix
			all.NetworkPolicies = append(all.NetworkPolicies, o)
		}
		for _, o := range cl.AdminNetworkPolicies {
			o.Name += suffix
			all.AdminNetworkPolicies = append(all.AdminNetworkPolicies, o)
		}
		for _, o := range cl.ClusterNetworkPolicies {
			o.Name += suffix
			all.ClusterNetworkPolicies = append(all.ClusterNetworkPolicies, o)
		}
		if len(all.BaselineAdminNetworkPolicies) == 0 {
			all.BaselineAdminNetworkPolicies = cl.BaselineAdminNetworkPolicies
		}
	}
	all.Normalize()
	return compile(t, all), compile(t, e2emodel.Cluster())
}

// BenchmarkDecide measures one decision on the e2e model (every case's policies at once) and
// on a generated 1,000-pod cluster with 200 NetworkPolicies and admin tiers. Each reports
// x-no-policy: its ns/op over the same connections' ns/op on the same pods without policies,
// measured in the same run.
func BenchmarkDecide(b *testing.B) {
	for _, sc := range []struct {
		name    string
		engines func(testing.TB) (*policy.Engine, *policy.Engine)
		n       int
	}{
		{"e2e", e2eEngines, 0},
		{"synthetic-1k-pods-200-policies", syntheticEngines, 1 << 16},
	} {
		b.Run(sc.name, func(b *testing.B) {
			full, bare := sc.engines(b)
			conns := connections(full, sc.n, 2)
			// The ratio comes from interleaved rounds on both engines, the fastest round of
			// each, so load from other processes on the machine hits both sides alike.
			fullOp, baseOp := math.Inf(1), math.Inf(1)
			for range 5 {
				fullOp = min(fullOp, nsPerDecide(full, conns))
				baseOp = min(baseOp, nsPerDecide(bare, conns))
			}
			b.ReportAllocs()
			b.ResetTimer()
			decideLoop(b, full, conns)
			b.ReportMetric(baseOp, "no-policy-ns/op")
			b.ReportMetric(fullOp/baseOp, "x-no-policy")
			b.ReportMetric(float64(len(full.Policies)), "policies")
		})
	}
}

var sink int

// nsPerDecide times one round of decisions by hand (testing.Benchmark cannot run inside a
// benchmark).
func nsPerDecide(e *policy.Engine, conns []conn) float64 {
	allowed, n := 0, 0
	start := time.Now()
	for time.Since(start) < 50*time.Millisecond {
		for i := range conns {
			if e.Decide(conns[i].src, conns[i].dst, conns[i].port).Allowed {
				allowed++
			}
		}
		n += len(conns)
	}
	sink += allowed
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

func decideLoop(b *testing.B, e *policy.Engine, conns []conn) {
	i, allowed := 0, 0
	for b.Loop() {
		c := &conns[i]
		if e.Decide(c.src, c.dst, c.port).Allowed {
			allowed++
		}
		if i++; i == len(conns) {
			i = 0
		}
	}
	sink += allowed
}
