//go:build linux

package agent

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/netwarden/netwarden/internal/kubetest"
	"github.com/netwarden/netwarden/pkg/dataplane"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
	"github.com/netwarden/netwarden/pkg/testbed"
)

// TestPolicyToKernelLatency measures the time from creating a NetworkPolicy through the
// API server to the kernel of the node enforcing it, at 1k and 10k pods. It only
// reports (no timing is asserted) and takes minutes, so it runs on request:
//
//	NETWARDEN_AGENT_LATENCY=1 go test ./pkg/agent -run TestPolicyToKernelLatency -v -timeout 30m
//
// NETWARDEN_AGENT_LATENCY_PODS overrides the sizes (comma-separated).
// NETWARDEN_AGENT_LATENCY_LOAD=n runs n busy loops (sh, at nice 0) while the policies are
// created, to see the latency when the agent shares its cores with other work;
// NETWARDEN_AGENT_LATENCY_MIN_SYNC sets the agent's minimum sync interval (a duration).
func TestPolicyToKernelLatency(t *testing.T) {
	if os.Getenv("NETWARDEN_AGENT_LATENCY") != "1" {
		t.Skip("skipping: a measurement of several minutes; set NETWARDEN_AGENT_LATENCY=1 to run it")
	}
	requireNetAdmin(t)
	sizes := []int{1000, 10000}
	if s := os.Getenv("NETWARDEN_AGENT_LATENCY_PODS"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			var n int
			if _, err := fmt.Sscan(f, &n); err != nil {
				t.Fatalf("NETWARDEN_AGENT_LATENCY_PODS: %v", err)
			}
			sizes = append(sizes, n)
		}
	}
	// As netwarden agent does by default (cli.AgentGCPercent), unless GOGC is set.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	var results []latencyResult
	for _, n := range sizes {
		t.Run(fmt.Sprintf("%d pods", n), func(t *testing.T) {
			results = append(results, measureLatency(t, n, 200))
		})
	}
	t.Logf("\n%s", latencyTable(results))
}

type latencyResult struct {
	pods, policies, setElements              int
	p50, p90, p99, max                       time.Duration
	syncP50, compileP50, writeP50, policyP50 time.Duration
	firstSync                                time.Duration
	syncs                                    int
}

func latencyTable(rs []latencyResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| pods | set elements | first sync | create→kernel p50 | p90 | p99 | max | sync p50 (policy compile / nft compile / write) |\n")
	fmt.Fprintf(&b, "| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %d | %d | %v | %v | %v | %v | %v | %v (%v / %v / %v) |\n", r.pods, r.setElements, r.firstSync,
			r.p50, r.p90, r.p99, r.max, r.syncP50, r.policyP50, r.compileP50, r.writeP50)
	}
	if len(rs) > 1 {
		base := rs[0]
		for _, r := range rs[1:] {
			fmt.Fprintf(&b, "\n%d vs %d pods: p50 ×%.2f, p99 ×%.2f, sync ×%.2f", r.pods, base.pods,
				float64(r.p50)/float64(base.p50), float64(r.p99)/float64(base.p99), float64(r.syncP50)/float64(base.syncP50))
		}
	}
	return b.String()
}

func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// createPodsFast creates pods (with their addresses) with a few concurrent writers.
func createPodsFast(t *testing.T, cfg *rest.Config, pods []*corev1.Pod) {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = 5000, 5000
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	work := make(chan *corev1.Pod)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				created, err := cs.CoreV1().Pods(p.Namespace).Create(ctx, &corev1.Pod{ObjectMeta: p.ObjectMeta, Spec: p.Spec}, metav1.CreateOptions{})
				if err == nil {
					_, err = kubetest.SetPodStatus(ctx, cs, created, p.Status.PodIP)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, p := range pods {
		work <- p
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
}

func measureLatency(t *testing.T, total, changes int) latencyResult {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	const namespaces = 50
	r := rand.New(rand.NewPCG(uint64(total), 7))

	// Two real pods on the measured node; the rest are API objects on 100 other nodes.
	local := []*corev1.Pod{
		e2ePod("lat", "target-0", "lat-n0", map[string]string{"app": "target"}),
		e2ePod("lat", "client-0", "lat-n0", map[string]string{"app": "client"}),
	}
	c := &model.Cluster{Pods: local}
	c.Normalize()
	spec, err := testbed.Plan(c, testbed.PlanOptions{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range spec.Pods {
		spec.Pods[i].Ports = []policy.Port{{Proto: policy.ProtoTCP, Num: 80}}
	}
	tb, err := testbed.New(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.Close() })

	env := kubetest.Start(t)
	cs := env.Client
	for i := range namespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ns-%d", i), Labels: map[string]string{"team": fmt.Sprintf("t%d", i%10)}}}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "lat", Labels: map[string]string{"team": "lat"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kubetest.CreateNode(ctx, cs, "lat-n0", nil, c.Nodes[0].Status.Addresses[0].Address); err != nil {
		t.Fatal(err)
	}
	var remote []*corev1.Pod
	for i := range total - len(local) {
		p := e2ePod(fmt.Sprintf("ns-%d", i%namespaces), fmt.Sprintf("p-%d", i), fmt.Sprintf("node-%d", i%100),
			map[string]string{"app": fmt.Sprintf("a%d", r.IntN(20)), "tier": fmt.Sprintf("t%d", r.IntN(3))})
		// 10.128.0.0/9: away from the testbed's 10.244.0.0/24.
		p.Status.PodIP = fmt.Sprintf("10.%d.%d.%d", 128+i/65536, (i/256)%256, i%256)
		remote = append(remote, p)
	}
	start := time.Now()
	createPodsFast(t, env.Config, append(slices.Clone(local), remote...))
	t.Logf("%d pods created in %v", total, time.Since(start).Round(time.Millisecond))

	// A deny-all on the target, so the last change (an allow) is visible to packets.
	if _, err := cs.NetworkingV1().NetworkPolicies("lat").Create(ctx, netpol("lat", "deny-all", networkingv1.NetworkPolicySpec{
		PodSelector: *sel("app", "target"), PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	type applied struct {
		at       time.Time
		policies int
		ap       Applied
	}
	var log []applied
	dp, err := OpenNFTables(tb.NodeNetns(0), dataplane.Options{TableName: "netwarden"})
	if err != nil {
		t.Fatal(err)
	}
	defer dp.Close()
	cfg := Config{NodeName: "lat-n0", ResyncPeriod: time.Hour, OnApplied: func(ap Applied) {
		n := len(ap.Snapshot.Cluster.NetworkPolicies)
		// Only the timings are kept: holding every sync's snapshot and engine would make
		// the heap, and the garbage collector's work, many times an agent's.
		ap.Snapshot, ap.Engine, ap.Local, ap.Rejected = nil, nil, nil, nil
		mu.Lock()
		log = append(log, applied{at: ap.Time, policies: n, ap: ap})
		mu.Unlock()
	}}
	if v := os.Getenv("NETWARDEN_AGENT_LATENCY_MIN_SYNC"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("NETWARDEN_AGENT_LATENCY_MIN_SYNC: %v", err)
		}
		cfg.MinSyncInterval = d
		t.Logf("minimum sync interval %v", d)
	}
	agentStart := time.Now()
	ra := startAgent(t, env.Config, cfg, dp)
	first := ra.wait(t, "first sync", func(ap Applied) bool { return len(ap.Engine.Pods) == total })
	res := latencyResult{pods: total, firstSync: first.Time.Sub(agentStart).Round(time.Millisecond)}
	t.Logf("agent ready with %d pods in %v (first sync %v)", len(first.Engine.Pods), res.firstSync, first.Duration.Round(time.Millisecond))

	var cleanMu sync.Mutex
	var scopes, cleanups []time.Duration
	dp.forget.mu.Lock()
	dp.forget.trace = func(scope, total time.Duration) {
		cleanMu.Lock()
		scopes, cleanups = append(scopes, scope), append(cleanups, total)
		cleanMu.Unlock()
	}
	dp.forget.mu.Unlock()
	stopLoad := busyLoops(t)
	gc0 := readGCStats()

	var lat, deliver, queue []time.Duration
	base := len(first.Snapshot.Cluster.NetworkPolicies)
	for i := range changes {
		var np *networkingv1.NetworkPolicy
		port := intstr.FromInt32(int32(1000 + i))
		peer := networkingv1.NetworkPolicyPeer{NamespaceSelector: sel("team", fmt.Sprintf("t%d", i%10)), PodSelector: sel("app", fmt.Sprintf("a%d", i%20))}
		if i%4 == 0 { // a quarter select pods in every namespace: sets of ~5% of all pods
			peer = networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}, PodSelector: sel("app", fmt.Sprintf("a%d", i%20))}
		}
		np = netpol("lat", fmt.Sprintf("change-%d", i), networkingv1.NetworkPolicySpec{
			PodSelector: *sel("app", "target"),
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{peer}, Ports: portsOf(port)}},
		})
		if i == changes-1 {
			np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("app", "client")}}, Ports: portsOf(intstr.FromInt32(80))}}
		}
		// Changes arrive at random moments, some closer than the coalescing interval.
		time.Sleep(time.Duration(r.IntN(100)) * time.Millisecond)
		t0 := time.Now()
		if _, err := cs.NetworkingV1().NetworkPolicies("lat").Create(ctx, np, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		want := base + i + 1
		ap := ra.wait(t, "policy enforced", func(ap Applied) bool { return len(ap.Snapshot.Cluster.NetworkPolicies) >= want })
		mu.Lock()
		for _, a := range log {
			if a.policies >= want {
				ap = a.ap
				break
			}
		}
		mu.Unlock()
		lat = append(lat, ap.Time.Sub(t0))
		if !ap.Oldest.IsZero() {
			start := ap.Time.Add(-ap.Duration)
			deliver = append(deliver, ap.Oldest.Sub(t0))
			queue = append(queue, start.Sub(ap.Oldest))
		}
	}

	gc := readGCStats().since(gc0)
	stopLoad()
	mu.Lock()
	var syncs, compiles, diffs, writes, policies, snaps, cores []time.Duration
	var writeFit, compileFit lineFit
	incremental, written := 0, 0
	for _, a := range log[1:] {
		if a.ap.Stats.Incremental {
			incremental++
		}
		written += a.ap.Stats.Written
		writeFit.add(float64(a.ap.Stats.Written), a.ap.Stats.Write)
		compileFit.add(float64(a.ap.Stats.SetElements), a.ap.Stats.Compile)
		syncs = append(syncs, a.ap.Duration)
		snaps = append(snaps, a.ap.SnapshotTime)
		cores = append(cores, a.ap.PolicyTime)
		compiles = append(compiles, a.ap.Stats.Compile)
		diffs = append(diffs, a.ap.Stats.Diff)
		writes = append(writes, a.ap.Stats.Write)
		policies = append(policies, a.ap.Duration-a.ap.Stats.Compile-a.ap.Stats.Write)
	}
	last := log[len(log)-1].ap
	mu.Unlock()
	res.policies = changes
	res.setElements = last.Stats.SetElements
	res.syncs = len(syncs)
	res.p50, res.p90, res.p99, res.max = quantile(lat, .5), quantile(lat, .9), quantile(lat, .99), quantile(lat, 1)
	res.syncP50, res.compileP50, res.writeP50, res.policyP50 = quantile(syncs, .5), quantile(compiles, .5), quantile(writes, .5), quantile(policies, .5)
	for _, d := range []*time.Duration{&res.p50, &res.p90, &res.p99, &res.max, &res.syncP50, &res.compileP50, &res.writeP50, &res.policyP50} {
		*d = d.Round(100 * time.Microsecond)
	}
	t.Logf("%d pods, %d policy creates: create→kernel p50 %v p90 %v p99 %v max %v; %d syncs, sync p50 %v", total, changes, res.p50, res.p90, res.p99, res.max, res.syncs, res.syncP50)
	q := len(lat) / 4
	t.Logf("by how many policies the node already had: first quarter p50 %v p99 %v, last quarter p50 %v p99 %v",
		quantile(lat[:q], .5).Round(100*time.Microsecond), quantile(lat[:q], .99).Round(100*time.Microsecond),
		quantile(lat[len(lat)-q:], .5).Round(100*time.Microsecond), quantile(lat[len(lat)-q:], .99).Round(100*time.Microsecond))
	t.Logf("sync phases p50: snapshot %v, policy.Compile %v, dataplane.Compile %v, write %v", quantile(snaps, .5).Round(100*time.Microsecond),
		quantile(cores, .5).Round(100*time.Microsecond), res.compileP50, res.writeP50)
	// The tail is in the last syncs, which hold the most policies: where does their time go?
	if n := len(syncs) / 4; n > 0 {
		tail := func(ds []time.Duration, q float64) time.Duration {
			return quantile(ds[len(ds)-n:], q).Round(100 * time.Microsecond)
		}
		t.Logf("last quarter of syncs, p50/p90: sync %v/%v, snapshot %v/%v, policy.Compile %v/%v, dataplane.Compile %v/%v, write %v/%v",
			tail(syncs, .5), tail(syncs, .9), tail(snaps, .5), tail(snaps, .9), tail(cores, .5), tail(cores, .9),
			tail(compiles, .5), tail(compiles, .9), tail(writes, .5), tail(writes, .9))
	}
	t.Logf("%d of %d syncs incremental; %d elements written per sync on average, %d in the last sync", incremental, len(syncs),
		written/max(1, len(syncs)), last.Stats.Written)
	t.Logf("per sync: kernel write %s per element written; dataplane compile %s per set element", writeFit, compileFit)
	cleanMu.Lock()
	pq := func(ds []time.Duration) string {
		if len(ds) == 0 {
			return "-"
		}
		return fmt.Sprintf("%v / %v", quantile(ds, .5).Round(100*time.Microsecond), quantile(ds, .99).Round(100*time.Microsecond))
	}
	lastQ := func(ds []time.Duration) []time.Duration { return ds[len(ds)-max(1, len(ds)/4):] }
	t.Logf("phases p50 / p99, all syncs | last quarter:\n"+
		"| phase | all syncs | last quarter |\n| --- | --- | --- |\n"+
		"| snapshot | %s | %s |\n| policy compile | %s | %s |\n| dataplane compile | %s | %s |\n| diff | %s | %s |\n"+
		"| kernel write | %s | %s |\n| whole sync | %s | %s |\n| create→kernel | %s | %s |\n"+
		"| conntrack scope (after the write, beside the next sync) | %s | %s |\n| conntrack cleanup, scope included | %s | %s |",
		pq(snaps), pq(lastQ(snaps)), pq(cores), pq(lastQ(cores)), pq(compiles), pq(lastQ(compiles)), pq(diffs), pq(lastQ(diffs)),
		pq(writes), pq(lastQ(writes)), pq(syncs), pq(lastQ(syncs)), pq(lat), pq(lastQ(lat)),
		pq(scopes), pq(lastQ(scopes)), pq(cleanups), pq(lastQ(cleanups)))
	cleanMu.Unlock()
	t.Logf("during the creates: %d GC cycles, GC %.1f%% of the process's CPU (%v of %v), live heap %d MB, goal %d MB (GOGC %d); load average %s",
		gc.cycles, 100*gc.gcCPU/max(gc.cpu, 1e-9), time.Duration(gc.gcCPU*1e9).Round(time.Millisecond),
		time.Duration(gc.cpu*1e9).Round(time.Millisecond), gc.live>>20, gc.goal>>20, gcPercent(), loadAvg())
	if len(deliver) > 0 {
		t.Logf("create→event received p50 %v p99 %v; event→sync start p50 %v p99 %v; sync p99 %v",
			quantile(deliver, .5).Round(100*time.Microsecond), quantile(deliver, .99).Round(100*time.Microsecond),
			quantile(queue, .5).Round(100*time.Microsecond), quantile(queue, .99).Round(100*time.Microsecond), quantile(syncs, .99).Round(100*time.Microsecond))
	}

	// The packets agree: client reaches target on 80 only after the last change.
	if err := tb.ResetConntrack(); err != nil {
		t.Fatal(err)
	}
	ci, ti := podIndex(tb, "lat/client-0"), podIndex(tb, "lat/target-0")
	obs := tb.ProbeOne(context.Background(), testbed.Probe{From: ci, To: ti, Port: policy.Port{Proto: policy.ProtoTCP, Num: 80}, Family: 4}, testbed.ProbeOptions{})
	if !obs.Outcome.Reached() {
		t.Errorf("client -> target 80/TCP after the allow: %s; want connected", obs.Outcome)
	}
	return res
}

// busyLoops starts NETWARDEN_AGENT_LATENCY_LOAD shell busy loops at nice 0 (whatever the
// test's own niceness) and returns what stops them.
func busyLoops(t *testing.T) func() {
	n := 0
	if v := os.Getenv("NETWARDEN_AGENT_LATENCY_LOAD"); v != "" {
		if _, err := fmt.Sscan(v, &n); err != nil {
			t.Fatalf("NETWARDEN_AGENT_LATENCY_LOAD: %v", err)
		}
	}
	var cmds []*exec.Cmd
	stop := func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
		cmds = nil
	}
	t.Cleanup(stop)
	for range n {
		c := exec.Command("sh", "-c", "while :; do :; done")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, c.Process.Pid, 0); err != nil {
			t.Fatal(err)
		}
	}
	if n > 0 {
		t.Logf("%d busy loops at nice 0 while the policies are created", n)
	}
	return stop
}

// lineFit fits durations to a count by least squares: d ≈ a + b·n.
type lineFit struct{ n, sx, sy, sxx, sxy, syy float64 }

func (f *lineFit) add(x float64, d time.Duration) {
	y := float64(d) / float64(time.Millisecond)
	f.n, f.sx, f.sy, f.sxx, f.sxy, f.syy = f.n+1, f.sx+x, f.sy+y, f.sxx+x*x, f.sxy+x*y, f.syy+y*y
}

func (f lineFit) String() string {
	vx, vy, cxy := f.n*f.sxx-f.sx*f.sx, f.n*f.syy-f.sy*f.sy, f.n*f.sxy-f.sx*f.sy
	if f.n < 2 || vx == 0 || vy == 0 {
		return "(too few syncs to fit)"
	}
	b := cxy / vx
	a := (f.sy - b*f.sx) / f.n
	return fmt.Sprintf("%.2f µs (%.1f ms + %.2f µs·n, r² %.2f)", 1000*b, a, 1000*b, cxy*cxy/(vx*vy))
}

type gcStats struct {
	cycles     uint64
	gcCPU, cpu float64 // seconds: by the garbage collector, by Go code in all
	// live and goal are the heap marked live by the last cycle and the next cycle's goal
	// (the whole test process: the agent, its informers and the test's clients).
	live, goal uint64
}

func readGCStats() gcStats {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/cpu/classes/gc/total:cpu-seconds"},
		{Name: "/cpu/classes/total:cpu-seconds"}, {Name: "/cpu/classes/idle:cpu-seconds"},
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	// The runtime's estimate of the CPU the process's Go code used: what GOMAXPROCS
	// allowed, less idle time.
	return gcStats{cycles: s[0].Value.Uint64(), gcCPU: s[1].Value.Float64(), cpu: s[2].Value.Float64() - s[3].Value.Float64(),
		live: s[4].Value.Uint64(), goal: s[5].Value.Uint64()}
}

func (g gcStats) since(o gcStats) gcStats {
	return gcStats{cycles: g.cycles - o.cycles, gcCPU: g.gcCPU - o.gcCPU, cpu: g.cpu - o.cpu, live: g.live, goal: g.goal}
}

// gcPercent reads the GOGC in force (only SetGCPercent tells it).
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func podIndex(tb *testbed.Testbed, key string) int {
	for i, p := range tb.Spec.Pods {
		if p.Key == key {
			return i
		}
	}
	return -1
}
