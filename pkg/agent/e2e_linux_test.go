//go:build linux

package agent

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netwarden/netwarden/internal/kubetest"
	"github.com/netwarden/netwarden/pkg/dataplane"
	"github.com/netwarden/netwarden/pkg/flowlog"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
	"github.com/netwarden/netwarden/pkg/render"
	"github.com/netwarden/netwarden/pkg/testbed"
)

// requireNetAdmin skips tests that build network namespaces and nftables tables when the
// process cannot.
func requireNetAdmin(t testing.TB) {
	t.Helper()
	if err := testbed.RequireRoot(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		t.Skip("skipping: no network namespaces on this system")
	}
}

// e2eTable is the table the e2e agents own in their node namespaces.
const e2eTable = "netwarden"

var e2ePorts = []policy.Port{{Proto: policy.ProtoTCP, Num: 80}, {Proto: policy.ProtoTCP, Num: 5432}, {Proto: policy.ProtoUDP, Num: 53}}

func e2ePod(ns, name, node string, labels map[string]string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}}
	p.Spec.NodeName = node
	p.Spec.Containers = []corev1.Container{{Name: "app", Image: kubetest.PauseImage, Ports: []corev1.ContainerPort{
		{Name: "http", ContainerPort: 80, Protocol: corev1.ProtocolTCP},
		{Name: "pg", ContainerPort: 5432, Protocol: corev1.ProtocolTCP},
		{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
	}}}
	return p
}

// e2eCluster is a live emulated cluster: an API server, a testbed whose pod namespaces
// carry the addresses of the Pod objects, and one agent per node.
type e2eCluster struct {
	t     *testing.T
	env   *kubetest.Env
	cs    kubernetes.Interface
	dyn   dynamic.Interface
	tb    *testbed.Testbed
	pods  []*corev1.Pod // by testbed index; the template each Pod object is made from
	proxy *outageProxy
	nodes []string
	agent []*runningAgent
	cfg   Config
	// log and flows, when set, turn on the kernel's log and agent i's flow log.
	log   dataplane.LogOptions
	flows func(i int) *flowlog.Log
}

func newE2ECluster(t *testing.T, pods []*corev1.Pod, namespaces map[string]map[string]string, inAPI func(*corev1.Pod) bool, opts ...func(*e2eCluster)) *e2eCluster {
	requireNetAdmin(t)
	ctx := ctxFor(t)
	c := &model.Cluster{Pods: pods}
	for name, labels := range namespaces {
		c.Namespaces = append(c.Namespaces, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}})
	}
	c.Normalize()
	spec, err := testbed.Plan(c, testbed.PlanOptions{Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range spec.Pods {
		spec.Pods[i].Ports = e2ePorts
	}
	tb, err := testbed.New(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tb.Close(); err != nil {
			t.Errorf("closing the testbed: %v", err)
		}
	})
	env := kubetest.Start(t)
	e := &e2eCluster{t: t, env: env, cs: env.Client, dyn: env.Dynamic, tb: tb, pods: c.Pods}
	for _, ns := range c.Namespaces {
		if _, err := e.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.Name, Labels: ns.Labels}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	for _, n := range c.Nodes {
		var ips []string
		for _, a := range n.Status.Addresses {
			ips = append(ips, a.Address)
		}
		if _, err := kubetest.CreateNode(ctx, e.cs, n.Name, n.Labels, ips...); err != nil {
			t.Fatal(err)
		}
	}
	// Agent i programs testbed node i.
	for _, n := range spec.Nodes {
		e.nodes = append(e.nodes, n.Name)
	}
	for _, p := range c.Pods {
		if inAPI(p) {
			e.createPod(p)
		}
	}
	e.proxy = newOutageProxy(t, hostPort(t, env.APIServerURL))
	e.cfg = Config{MinSyncInterval: 10 * time.Millisecond, ResyncPeriod: time.Second, DiscoveryInterval: 200 * time.Millisecond}
	e.agent = make([]*runningAgent, len(e.nodes))
	for _, o := range opts {
		o(e)
	}
	for i := range e.nodes {
		e.startAgent(i)
	}
	return e
}

// startAgent starts node i's agent, as the DaemonSet would (again after a kill).
func (e *e2eCluster) startAgent(i int) {
	t := e.t
	dp, err := OpenNFTables(e.tb.NodeNetns(i), dataplane.Options{TableName: e2eTable, Log: e.log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dp.Close() })
	cfg := e.cfg
	cfg.NodeName = e.nodes[i]
	if e.flows != nil {
		cfg.Flows = e.flows(i)
	}
	e.agent[i] = startAgent(t, e.proxy.config(e.env.Config), cfg, dp)
	e.agent[i].wait(t, "agent ready on "+cfg.NodeName, func(Applied) bool { return true })
}

// template returns the testbed pod "ns/name".
func (e *e2eCluster) template(key string) *corev1.Pod {
	for _, p := range e.pods {
		if p.Namespace+"/"+p.Name == key {
			return p
		}
	}
	e.t.Fatalf("no testbed pod %s", key)
	return nil
}

func (e *e2eCluster) createPod(tmpl *corev1.Pod) {
	t := e.t
	ctx := ctxFor(t)
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: tmpl.Namespace, Name: tmpl.Name, Labels: tmpl.Labels}, Spec: tmpl.Spec}
	created, err := e.cs.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	for _, ip := range tmpl.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	if _, err := kubetest.SetPodStatus(ctx, e.cs, created, ips...); err != nil {
		t.Fatal(err)
	}
}

// listCluster reads the API server's state without the agent's code: the evaluator's
// view of what must be enforced.
func listCluster(t testing.TB, cs kubernetes.Interface, dyn dynamic.Interface) *model.Cluster {
	t.Helper()
	ctx := ctxFor(t)
	c := &model.Cluster{}
	nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range nss.Items {
		c.Namespaces = append(c.Namespaces, &nss.Items[i])
	}
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range pods.Items {
		if ph := pods.Items[i].Status.Phase; ph != corev1.PodSucceeded && ph != corev1.PodFailed {
			c.Pods = append(c.Pods, &pods.Items[i])
		}
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range nodes.Items {
		c.Nodes = append(c.Nodes, &nodes.Items[i])
	}
	nps, err := cs.NetworkingV1().NetworkPolicies("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range nps.Items {
		c.NetworkPolicies = append(c.NetworkPolicies, &nps.Items[i])
	}
	cnps, err := dyn.Resource(gvr("v1beta1", "clusternetworkpolicies")).List(ctx, metav1.ListOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	if err == nil {
		for _, u := range cnps.Items {
			var o v1beta1.ClusterNetworkPolicy
			if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &o); err != nil {
				t.Fatal(err)
			}
			c.ClusterNetworkPolicies = append(c.ClusterNetworkPolicies, &o)
		}
	}
	c.Normalize()
	return c
}

// fingerprint is what of a cluster can change a decision, as text: two snapshots with
// the same fingerprint are enforced the same.
func fingerprint(c *model.Cluster) string {
	var lines []string
	kv := func(m map[string]string) string {
		keys := slices.Sorted(maps.Keys(m))
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%s,", k, m[k])
		}
		return b.String()
	}
	for _, ns := range c.Namespaces {
		lines = append(lines, "ns "+ns.Name+" "+kv(ns.Labels))
	}
	for _, p := range c.Pods {
		lines = append(lines, fmt.Sprintf("pod %s/%s %s %v %s %v", p.Namespace, p.Name, p.Spec.NodeName, p.Spec.HostNetwork, kv(p.Labels), p.Status.PodIPs))
	}
	for _, n := range c.Nodes {
		lines = append(lines, fmt.Sprintf("node %s %s %v", n.Name, kv(n.Labels), n.Status.Addresses))
	}
	for _, p := range c.NetworkPolicies {
		lines = append(lines, fmt.Sprintf("np %s/%s %d %s", p.Namespace, p.Name, p.Generation, p.Annotations[policy.AuditAnnotation]))
	}
	for _, p := range c.ClusterNetworkPolicies {
		lines = append(lines, fmt.Sprintf("cnp %s %d %s", p.Name, p.Generation, p.Annotations[policy.AuditAnnotation]))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// caughtUp waits until every running agent enforces want.
func (e *e2eCluster) caughtUp(want *model.Cluster) {
	e.t.Helper()
	fp := fingerprint(want)
	for _, a := range e.agent {
		a.wait(e.t, "agent caught up with the API server", func(ap Applied) bool { return fingerprint(ap.Snapshot.Cluster) == fp })
	}
}

// expected decides every probe with the evaluator. A testbed pod that is not in the API
// (not created yet, or deleted) is an address outside the pod network.
func (e *e2eCluster) expected(eng *policy.Engine) ([]testbed.Probe, []policy.Verdict, []string) {
	ep := func(i int) policy.Endpoint {
		if k, ok := eng.PodByKey(e.tb.Spec.Pods[i].Key); ok {
			return eng.PodEndpoint(k, 4)
		}
		ip, _ := netip.ParseAddr(e.pods[i].Status.PodIP)
		return policy.External(ip)
	}
	var probes []testbed.Probe
	var want []policy.Verdict
	var why []string
	for i := range e.tb.Spec.Pods {
		for j := range e.tb.Spec.Pods {
			if i == j {
				continue
			}
			for _, pt := range e2ePorts {
				src, dst := ep(i), ep(j)
				probes = append(probes, testbed.Probe{From: i, To: j, Port: pt, Family: 4})
				want = append(want, eng.Decide(src, dst, pt))
				var b strings.Builder
				_ = render.Explain(&b, eng.Explain(src, dst, pt), "text")
				why = append(why, strings.TrimSpace(b.String()))
			}
		}
	}
	return probes, want, why
}

// probe compares real packets with the evaluator's verdicts on eng and returns the
// disagreements, described.
func (e *e2eCluster) probe(eng *policy.Engine) []string {
	e.t.Helper()
	if err := e.tb.ResetConntrack(); err != nil {
		e.t.Fatal(err)
	}
	probes, want, why := e.expected(eng)
	obs := e.tb.Probe(context.Background(), probes, testbed.ProbeOptions{Timeout: 300 * time.Millisecond})
	var diffs []string
	for i, o := range obs {
		if o.Outcome.Reached() != want[i].Allowed {
			diffs = append(diffs, fmt.Sprintf("%s -> %s %s: packets %s, evaluator allowed=%v\n%s",
				e.tb.Spec.Pods[o.From].Key, e.tb.Spec.Pods[o.To].Key, o.Port, o.Outcome, want[i].Allowed, why[i]))
		}
	}
	return diffs
}

// check waits for the agents to catch up with the API server, then requires the probed
// matrix to equal the evaluator's. It returns the engine checked against.
func (e *e2eCluster) check(step string) *policy.Engine {
	e.t.Helper()
	c := listCluster(e.t, e.cs, e.dyn)
	e.caughtUp(c)
	eng, err := policy.Compile(c)
	if err != nil {
		e.t.Fatal(err)
	}
	if diffs := e.probe(eng); len(diffs) > 0 {
		e.t.Fatalf("%s: %d probes disagree with the evaluator:\n%s", step, len(diffs), strings.Join(diffs, "\n"))
	}
	return eng
}

func (e *e2eCluster) denied(eng *policy.Engine) int {
	_, want, _ := e.expected(eng)
	n := 0
	for _, v := range want {
		if !v.Allowed {
			n++
		}
	}
	return n
}

func netpol(ns, name string, spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
}

func sel(kv ...string) *metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &metav1.LabelSelector{MatchLabels: m}
}

func portsOf(ps ...intstr.IntOrString) []networkingv1.NetworkPolicyPort {
	var out []networkingv1.NetworkPolicyPort
	for _, p := range ps {
		p := p
		out = append(out, networkingv1.NetworkPolicyPort{Port: &p})
	}
	return out
}

func udp(n int32) networkingv1.NetworkPolicyPort {
	proto := corev1.ProtocolUDP
	p := intstr.FromInt32(n)
	return networkingv1.NetworkPolicyPort{Protocol: &proto, Port: &p}
}

// TestEndToEnd runs one agent per emulated node, each programming its node's network
// namespace, and after every change through the API server (policies created, updated
// and deleted, pods and namespaces relabeled, pods added and removed, a
// ClusterNetworkPolicy) requires real packets between pod namespaces to get exactly the
// evaluator's verdicts. Then it injects faults: an agent killed (its rules stay, a new
// one adopts them), the API server unreachable (enforcement stays, then catches up), the
// nftables table deleted by hand (the periodic reconcile restores it).
func TestEndToEnd(t *testing.T) {
	pods := []*corev1.Pod{
		e2ePod("alpha", "web-0", "e2e-n0", map[string]string{"app": "web"}),
		e2ePod("alpha", "db-0", "e2e-n1", map[string]string{"app": "db"}),
		e2ePod("beta", "client-0", "e2e-n0", map[string]string{"app": "client"}),
		e2ePod("beta", "client-1", "e2e-n1", map[string]string{"app": "client"}),
		e2ePod("alpha", "spare-0", "e2e-n1", map[string]string{"app": "web"}),
	}
	namespaces := map[string]map[string]string{"alpha": {"team": "a"}, "beta": {"team": "b"}}
	e := newE2ECluster(t, pods, namespaces, func(p *corev1.Pod) bool { return p.Name != "spare-0" })
	ctx := ctxFor(t)
	nps := func(ns string) interface {
		Create(context.Context, *networkingv1.NetworkPolicy, metav1.CreateOptions) (*networkingv1.NetworkPolicy, error)
		Update(context.Context, *networkingv1.NetworkPolicy, metav1.UpdateOptions) (*networkingv1.NetworkPolicy, error)
		Delete(context.Context, string, metav1.DeleteOptions) error
		Get(context.Context, string, metav1.GetOptions) (*networkingv1.NetworkPolicy, error)
	} {
		return e.cs.NetworkingV1().NetworkPolicies(ns)
	}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	patch := func(do func() error) {
		t.Helper()
		if err := do(); err != nil {
			t.Fatal(err)
		}
	}

	steps := []struct {
		name string
		do   func()
	}{
		{"without policies every pod reaches every pod", func() {}},
		{"a default deny in alpha isolates its pods for ingress", func() {
			must(nps("alpha").Create(ctx, netpol("alpha", "deny-all", networkingv1.NetworkPolicySpec{
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}), metav1.CreateOptions{}))
		}},
		{"clients of team b may reach db on 5432", func() {
			must(nps("alpha").Create(ctx, netpol("alpha", "db-from-clients", networkingv1.NetworkPolicySpec{
				PodSelector: *sel("app", "db"),
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("team", "b"), PodSelector: sel("app", "client")}},
					Ports: portsOf(intstr.FromInt32(5432)),
				}},
			}), metav1.CreateOptions{}))
		}},
		{"an update adds the named port http", func() {
			np, err := nps("alpha").Get(ctx, "db-from-clients", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			np.Spec.Ingress[0].Ports = portsOf(intstr.FromInt32(5432), intstr.FromString("http"))
			must(nps("alpha").Update(ctx, np, metav1.UpdateOptions{}))
		}},
		{"a relabeled client loses access", func() {
			patch(func() error {
				_, err := e.cs.CoreV1().Pods("beta").Patch(ctx, "client-1", types.MergePatchType, []byte(`{"metadata":{"labels":{"app":"other"}}}`), metav1.PatchOptions{})
				return err
			})
		}},
		{"a relabeled namespace loses access", func() {
			patch(func() error {
				_, err := e.cs.CoreV1().Namespaces().Patch(ctx, "beta", types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"c"}}}`), metav1.PatchOptions{})
				return err
			})
		}},
		{"the namespace label restored gives access back", func() {
			patch(func() error {
				_, err := e.cs.CoreV1().Namespaces().Patch(ctx, "beta", types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"b"}}}`), metav1.PatchOptions{})
				return err
			})
		}},
		{"egress of beta's clients is limited to db and DNS", func() {
			must(nps("beta").Create(ctx, netpol("beta", "client-egress", networkingv1.NetworkPolicySpec{
				PodSelector: *sel("app", "client"),
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{
					{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("team", "a"), PodSelector: sel("app", "db")}}, Ports: portsOf(intstr.FromInt32(5432))},
					{Ports: []networkingv1.NetworkPolicyPort{udp(53)}},
				},
			}), metav1.CreateOptions{}))
		}},
		{"a pod added to the API is enforced and is a peer", func() { e.createPod(e.template("alpha/spare-0")) }},
		{"a pod removed from the API is an outside address", func() {
			patch(func() error {
				return e.cs.CoreV1().Pods("beta").Delete(ctx, "client-1", metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
			})
		}},
		{"an admin ClusterNetworkPolicy denies what NetworkPolicies allow", func() {
			kubetest.InstallCRDs(t, e.env.Config)
			for _, a := range e.agent {
				a.wait(t, "CNP watched", func(Applied) bool { return slices.Contains(a.Cache().Watched(), "ClusterNetworkPolicy/v1beta1") })
			}
			p := cnp("no-beta-to-db", v1beta1.AdminTier, 10)
			p.Spec.Subject.Namespaces = sel("team", "a")
			p.Spec.Ingress[0].From = []v1beta1.ClusterNetworkPolicyIngressPeer{{Namespaces: sel("team", "b")}}
			p.Spec.Ingress[0].Protocols = []v1beta1.ClusterNetworkPolicyProtocol{{TCP: &v1beta1.ClusterNetworkPolicyProtocolTCP{DestinationPort: &v1beta1.Port{Number: 5432}}}}
			must(e.dyn.Resource(gvr("v1beta1", "clusternetworkpolicies")).Create(ctx,
				toUnstructured(t, "policy.networking.k8s.io/v1beta1", "ClusterNetworkPolicy", p), metav1.CreateOptions{}))
		}},
		{"a policy in audit mode is not enforced", func() {
			np := netpol("beta", "staged-deny", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}})
			np.Annotations = map[string]string{policy.AuditAnnotation: "audit"}
			must(nps("beta").Create(ctx, np, metav1.CreateOptions{}))
		}},
		{"removing the audit annotation enforces it", func() {
			patch(func() error {
				_, err := e.cs.NetworkingV1().NetworkPolicies("beta").Patch(ctx, "staged-deny", types.MergePatchType,
					[]byte(`{"metadata":{"annotations":{"netwarden.io/mode":null}}}`), metav1.PatchOptions{})
				return err
			})
		}},
		{"deleting the policies opens everything again", func() {
			patch(func() error { return nps("beta").Delete(ctx, "staged-deny", metav1.DeleteOptions{}) })
			patch(func() error {
				return e.dyn.Resource(gvr("v1beta1", "clusternetworkpolicies")).Delete(ctx, "no-beta-to-db", metav1.DeleteOptions{})
			})
			for _, n := range []string{"deny-all", "db-from-clients"} {
				patch(func() error { return nps("alpha").Delete(ctx, n, metav1.DeleteOptions{}) })
			}
			patch(func() error { return nps("beta").Delete(ctx, "client-egress", metav1.DeleteOptions{}) })
		}},
	}
	for _, st := range steps {
		st.do()
		eng := e.check(st.name)
		t.Logf("%s: packets agree with the evaluator (%d denied of %d probes)", st.name, e.denied(eng), len(e.pods)*(len(e.pods)-1)*len(e2ePorts))
	}

	// An established flow that a new policy denies is cut: a UDP "connection" from a
	// beta client to web-0 (which echoes), then a default deny in alpha.
	web := e.template("alpha/web-0")
	flow := udpFlowFrom(t, e.tb.PodNetns(podIndex(e.tb, "beta/client-0")), netip.AddrPortFrom(netip.MustParseAddr(web.Status.PodIP), 53))
	if !flow.echoes() {
		t.Fatal("the UDP flow gets no echo before any policy")
	}
	cutBy := e.agent[slices.Index(e.nodes, web.Spec.NodeName)]
	cutBefore := counter(t, cutBy.reg, "netwarden_agent_connections_cut_total", nil)
	must(nps("alpha").Create(ctx, netpol("alpha", "deny-all", networkingv1.NetworkPolicySpec{
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}), metav1.CreateOptions{}))
	e.caughtUp(listCluster(t, e.cs, e.dyn))
	deadline := time.Now().Add(10 * time.Second)
	for counter(t, cutBy.reg, "netwarden_agent_connections_cut_total", nil) <= cutBefore {
		if time.Now().After(deadline) {
			t.Fatal("no connection cut after a deny")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if flow.echoes() {
		t.Error("the established UDP flow still gets through after a policy denied it")
	}
	flow.Close()

	// Faults, with a deny in place so enforcement is visible.
	before := e.check("deny-all again")

	t.Run("a killed agent's rules stay in force and a new agent adopts them", func(t *testing.T) {
		e.agent[1].stop()
		running := e.agent
		e.agent = []*runningAgent{running[0]}
		if diffs := e.probe(before); len(diffs) > 0 {
			t.Fatalf("with node 1's agent gone, %d probes disagree:\n%s", len(diffs), strings.Join(diffs, "\n"))
		}
		// A change made while it is down is enforced once it is back.
		must(nps("alpha").Create(ctx, netpol("alpha", "web-from-beta", networkingv1.NetworkPolicySpec{
			PodSelector: *sel("app", "web"),
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("team", "b")}}}},
		}), metav1.CreateOptions{}))
		e.agent = running
		e.startAgent(1)
		before = e.check("after the agent restarted")
	})

	t.Run("an API server outage keeps the rules, and changes made meanwhile arrive after it", func(t *testing.T) {
		e.proxy.Down()
		patch(func() error { return nps("alpha").Delete(ctx, "deny-all", metav1.DeleteOptions{}) })
		time.Sleep(2 * e.cfg.ResyncPeriod) // resyncs run during the outage
		if diffs := e.probe(before); len(diffs) > 0 {
			t.Fatalf("during the outage, %d probes disagree with the last known state:\n%s", len(diffs), strings.Join(diffs, "\n"))
		}
		for _, a := range e.agent {
			if !a.Ready() {
				t.Errorf("an agent is not ready during the outage")
			}
		}
		e.proxy.Up()
		start := time.Now()
		before = e.check("after the outage")
		t.Logf("caught up %v after the API server came back", time.Since(start).Round(time.Millisecond))
	})

	t.Run("a table deleted by hand comes back within the resync period", func(t *testing.T) {
		must(nps("alpha").Create(ctx, netpol("alpha", "deny-all", networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}), metav1.CreateOptions{}))
		eng := e.check("deny-all before the deletion")
		conn, err := dataplane.Open(e.tb.NodeNetns(1))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		seq := e.agent[1].Applied().Seq
		if err := conn.UninstallTable(e2eTable); err != nil {
			t.Fatal(err)
		}
		deleted := time.Now()
		if diffs := e.probe(eng); len(diffs) == 0 {
			// The probe may already run after the repair; only say so.
			t.Logf("no difference seen after the deletion (the repair was quicker than the probe)")
		}
		// No event follows the deletion: only the periodic full reconcile can repair it.
		ap := e.agent[1].wait(t, "resync after the deletion", func(ap Applied) bool { return ap.Seq > seq && ap.Reason == ReasonResync })
		t.Logf("table rewritten %v after the deletion (resync period %v)", ap.Time.Sub(deleted).Round(time.Millisecond), e.cfg.ResyncPeriod)
		if diffs := e.probe(eng); len(diffs) > 0 {
			t.Fatalf("after the repair, %d probes disagree:\n%s", len(diffs), strings.Join(diffs, "\n"))
		}
	})
}

// udpFlow is a connected UDP socket inside a pod's network namespace.
type udpFlow struct {
	*net.UDPConn
}

func udpFlowFrom(t *testing.T, netnsPath string, dst netip.AddrPort) udpFlow {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := netns.GetFromPath(netnsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic(err) // the thread must not go back to the pool in the pod's namespace
		}
	}()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return udpFlow{c}
}

// echoes sends a datagram on the flow (same addresses and ports every time, so the same
// conntrack entry) and reports whether the echo came back.
func (f udpFlow) echoes() bool {
	for range 2 {
		if _, err := f.Write([]byte("ping")); err != nil {
			continue
		}
		_ = f.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		buf := make([]byte, 16)
		if n, err := f.Read(buf); err == nil && string(buf[:n]) == "ping" {
			return true
		}
	}
	return false
}
