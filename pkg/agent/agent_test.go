package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netwarden/netwarden/internal/kubetest"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func counter(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.Metric {
			for _, lp := range m.Label {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metrics
				}
			}
			total += value(m)
		}
	}
	return total
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

// TestReadyOnlyOnceTheKernelEnforces: /readyz fails until a sync has been programmed,
// including while the first writes fail; /healthz answers throughout.
func TestReadyOnlyOnceTheKernelEnforces(t *testing.T) {
	env := kubetest.Shared(t)
	gate := make(chan struct{})
	dp := &fakeDataplane{gate: gate, err: errors.New("kernel says no")}
	ra := startAgent(t, env.Config, Config{NodeName: "ready-node", MinSyncInterval: 10 * time.Millisecond}, dp)
	h := ra.HealthHandler()

	if code, body := get(t, h, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before any sync: %d %q; want 503", code, body)
	}
	if code, _ := get(t, h, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz before any sync: %d; want 200", code)
	}
	close(gate) // writes now fail
	deadline := time.Now().Add(20 * time.Second)
	for calls, _ := dp.counts(); calls < 2; calls, _ = dp.counts() {
		if time.Now().After(deadline) {
			t.Fatal("no retry after a failed first write")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _ := get(t, h, "/readyz"); code != http.StatusServiceUnavailable || ra.Ready() {
		t.Errorf("/readyz after failed writes: %d; want 503", code)
	}
	if n := counter(t, ra.reg, "netwarden_agent_sync_errors_total", map[string]string{"phase": "dataplane"}); n < 1 {
		t.Errorf("sync_errors_total{phase=dataplane} = %v; want the failures counted", n)
	}
	dp.setErr(nil)
	ra.wait(t, "a successful sync", func(Applied) bool { return true })
	if code, body := get(t, h, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after a successful sync: %d %q; want 200", code, body)
	}
}

// TestMetricsAreExposed: the Prometheus endpoint serves the sync, timing and size
// metrics once a sync ran.
func TestMetricsAreExposed(t *testing.T) {
	env := kubetest.Shared(t)
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	node := ns + "-node"
	dp := &fakeDataplane{}
	ra := startAgent(t, env.Config, Config{NodeName: node, MinSyncInterval: 10 * time.Millisecond}, dp)
	ra.wait(t, "first sync", func(Applied) bool { return true })
	if _, err := kubetest.CreatePod(ctx, env.Client, ns, "m-0", node, map[string]string{"app": "m"}, "10.9.0.1"); err != nil {
		t.Fatal(err)
	}
	ra.wait(t, "pod local", func(ap Applied) bool { return isLocal(ap, ns+"/m-0") })

	srv := httptest.NewServer(MetricsHandler(ra.reg))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		`netwarden_agent_syncs_total{reason="initial",result="success"} 1`,
		`netwarden_agent_syncs_total{reason="event",result="success"}`,
		"netwarden_agent_sync_duration_seconds_bucket",
		`netwarden_agent_sync_phase_duration_seconds_count{phase="write"}`,
		"netwarden_agent_event_to_kernel_seconds_count",
		`netwarden_agent_events_total{kind="Pod"}`,
		"netwarden_agent_programmed_local_pods 1",
		"netwarden_agent_programmed_cluster_pods",
		"netwarden_agent_programmed_policies",
		"netwarden_agent_programmed_set_elements",
		"netwarden_agent_written_elements_total",
		"netwarden_agent_ready 1",
		"netwarden_agent_last_sync_success_timestamp_seconds",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", text)
	}
}

// TestEventsAreCoalesced: a burst of API changes costs a few syncs, not one per event,
// and the last sync holds all of them.
func TestEventsAreCoalesced(t *testing.T) {
	env := kubetest.Shared(t)
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	node := ns + "-node"
	dp := &fakeDataplane{}
	ra := startAgent(t, env.Config, Config{NodeName: node, MinSyncInterval: 2 * time.Second}, dp)
	first := ra.wait(t, "first sync", func(Applied) bool { return true })
	const pods = 20
	for i := range pods {
		if _, err := kubetest.CreatePod(ctx, env.Client, ns, fmt.Sprintf("p-%d", i), node, map[string]string{"app": "p"}, fmt.Sprintf("10.8.0.%d", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	last := ra.wait(t, "all pods local", func(ap Applied) bool { return len(ap.Local) == pods })
	syncs := last.Seq - first.Seq
	events := counter(t, ra.reg, "netwarden_agent_events_total", map[string]string{"kind": "Pod"})
	t.Logf("%v pod events in %d syncs", events, syncs)
	if events < 2*pods {
		t.Errorf("%v pod events; want at least %d (a create and an address per pod)", events, 2*pods)
	}
	if float64(syncs) > events/4 {
		t.Errorf("%d syncs for %v events; want them coalesced (at most one sync per 2s interval)", syncs, events)
	}
}

// TestUnknownNamespaceFailsClosed: a pod whose Namespace object is not known is isolated
// in both directions until it is; then the namespace's real policies apply.
func TestUnknownNamespaceFailsClosed(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ghost", Name: "g-0", Labels: map[string]string{"app": "g"}},
		Spec:       corev1.PodSpec{NodeName: "n1"},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.7.0.1", PodIPs: []corev1.PodIP{{IP: "10.7.0.1"}}},
	}
	cs := fake.NewClientset(pod)
	dyn := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme())
	a, err := New(Config{NodeName: "n1", MinSyncInterval: time.Millisecond, Logger: testLogger(t)}, cs, dyn, cs.Discovery(), &fakeDataplane{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	ra := &runningAgent{Agent: a}

	peer := policy.External(netip.MustParseAddr("10.7.0.2"))
	port := policy.Port{Proto: policy.ProtoTCP, Num: 80}
	ap := ra.wait(t, "pod local", func(ap Applied) bool { return isLocal(ap, "ghost/g-0") })
	if !slices.Equal(ap.Snapshot.UnknownNamespaces, []string{"ghost"}) {
		t.Errorf("unknown namespaces %v; want [ghost]", ap.Snapshot.UnknownNamespaces)
	}
	i, _ := ap.Engine.PodByKey("ghost/g-0")
	self := ap.Engine.PodEndpoint(i, 4)
	for _, d := range []policy.Direction{policy.Ingress, policy.Egress} {
		if ap.Engine.DecideDirection(d, self, peer, port).Allowed {
			t.Errorf("%s allowed for a pod of an unknown namespace; want denied until it is known", d)
		}
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ghost"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ap = ra.wait(t, "namespace known", func(ap Applied) bool { return len(ap.Snapshot.UnknownNamespaces) == 0 })
	i, _ = ap.Engine.PodByKey("ghost/g-0")
	self = ap.Engine.PodEndpoint(i, 4)
	for _, d := range []policy.Direction{policy.Ingress, policy.Egress} {
		if !ap.Engine.DecideDirection(d, self, peer, port).Allowed {
			t.Errorf("%s denied once the namespace is known and no policy selects the pod", d)
		}
	}
}

// TestUncompilablePolicyIsLeftOut: one policy the core cannot compile is named and left
// out; the others are enforced.
func TestUncompilablePolicyIsLeftOut(t *testing.T) {
	c := &model.Cluster{
		NetworkPolicies: []*networkingv1.NetworkPolicy{allowFromWeb("db", 5432)},
		ClusterNetworkPolicies: []*v1beta1.ClusterNetworkPolicy{
			cnp("good", v1beta1.AdminTier, 1), cnp("odd-tier", "Platform", 2), cnp("later", v1beta1.BaselineTier, 3),
		},
	}
	c.NetworkPolicies[0].Namespace = "prod"
	c.Normalize()
	e, rejected, err := compileTolerant(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(rejected) != 1 || !strings.Contains(rejected[0].Error(), "odd-tier") || !strings.Contains(rejected[0].Error(), "spec.tier") {
		t.Errorf("rejected %v; want one error naming odd-tier and spec.tier", rejected)
	}
	var names []string
	for _, p := range e.Policies {
		names = append(names, p.Ref.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"db", "good", "later"}) {
		t.Errorf("compiled %v; want db, good and later", names)
	}
}

// TestFirstSyncWaitsForDiscovery: while discovery fails, nothing is programmed, since a
// first sync without the admin kinds would miss their Deny rules; once it answers, the
// first sync holds the ClusterNetworkPolicies.
func TestFirstSyncWaitsForDiscovery(t *testing.T) {
	cs := fake.NewClientset()
	fd := cs.Discovery().(*fakediscovery.FakeDiscovery)
	fd.Resources = []*metav1.APIResourceList{{GroupVersion: PolicyAPIGroup + "/v1beta1", APIResources: []metav1.APIResource{
		{Name: "clusternetworkpolicies", Kind: "ClusterNetworkPolicy", Verbs: metav1.Verbs{"get", "list", "watch"}},
	}}}
	var mu sync.Mutex
	failures := 3
	cs.PrependReactor("get", "group", func(k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		if failures > 0 {
			failures--
			return true, nil, errors.New("discovery is down")
		}
		return false, nil, nil
	})
	u := toUnstructured(t, PolicyAPIGroup+"/v1beta1", "ClusterNetworkPolicy", cnp("deny-early", v1beta1.AdminTier, 1))
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{gvr("v1beta1", "clusternetworkpolicies"): "ClusterNetworkPolicyList"}, u)
	dp := &fakeDataplane{}
	a, err := New(Config{NodeName: "n1", Logger: testLogger(t)}, cs, dyn, cs.Discovery(), dp)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	ra := &runningAgent{Agent: a}
	ap := ra.wait(t, "first sync", func(Applied) bool { return true })
	if ap.Seq != 1 || hasPolicy(ap, model.KindClusterNetworkPolicy, "", "deny-early") == nil {
		t.Errorf("first sync #%d without the ClusterNetworkPolicy; it must wait for discovery", ap.Seq)
	}
	mu.Lock()
	defer mu.Unlock()
	if failures != 0 {
		t.Errorf("%d discovery failures left; the agent did not retry", failures)
	}
}
