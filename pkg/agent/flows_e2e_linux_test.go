//go:build linux

package agent

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netwarden/netwarden/internal/kubetest"
	"github.com/netwarden/netwarden/pkg/dataplane"
	"github.com/netwarden/netwarden/pkg/flowlog"
	"github.com/netwarden/netwarden/pkg/policy"
)

// await waits for a record of the flow log that match accepts, and returns it.
func await(t *testing.T, l *flowlog.Log, what string, match func(flowlog.Record) bool) flowlog.Record {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs := l.Hub().Recent(flowlog.Filter{}, 0)
		i := slices.IndexFunc(recs, match)
		var r flowlog.Record
		if i >= 0 {
			r = recs[i]
		}
		n := len(recs)
		var sample []string
		for _, r := range recs[max(0, n-10):] {
			sample = append(sample, r.Text())
		}
		if i >= 0 {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("no flow record %s among %d; the last ones:\n%s", what, n, strings.Join(sample, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFlowLogAndCountersEndToEnd: real packets between pods on two nodes, each node's
// agent logging through NFLOG: denied connections become records naming the isolating
// policy, the kernel's counters name the rules that allowed and denied, and an audit
// policy changes the records but not what passes.
func TestFlowLogAndCountersEndToEnd(t *testing.T) {
	pods := []*corev1.Pod{
		e2ePod("alpha", "web-0", "e2e-n0", map[string]string{"app": "web"}),
		e2ePod("alpha", "db-0", "e2e-n1", map[string]string{"app": "db"}),
		e2ePod("beta", "client-0", "e2e-n0", map[string]string{"app": "client"}),
		e2ePod("beta", "client-1", "e2e-n1", map[string]string{"app": "client"}),
	}
	namespaces := map[string]map[string]string{"alpha": {"team": "a"}, "beta": {"team": "b"}}
	logs := make([]*flowlog.Log, 2)
	e := newE2ECluster(t, pods, namespaces, func(*corev1.Pod) bool { return true }, func(e *e2eCluster) {
		e.log = dataplane.LogOptions{Group: dataplane.DefaultLogGroup, Denied: true, Audit: true, Rate: 1000, Burst: 1000}
		e.flows = func(i int) *flowlog.Log {
			logs[i] = flowlog.New(flowlog.Config{NetNS: e.tb.NodeNetns(i), Group: dataplane.DefaultLogGroup, Node: e.nodes[i]})
			return logs[i]
		}
	})
	ctx := ctxFor(t)
	node := func(name string) int { return slices.Index(e.nodes, name) }
	n0, n1 := node("e2e-n0"), node("e2e-n1")

	db := netpol("alpha", "db-ingress", networkingv1.NetworkPolicySpec{
		PodSelector: *sel("app", "db"),
		Ingress: []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{{PodSelector: sel("app", "web")}},
			Ports: portsOf(intstr.FromInt32(5432)),
		}},
	})
	if _, err := e.cs.NetworkingV1().NetworkPolicies("alpha").Create(ctx, db, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.check("db isolated, web allowed on 5432")

	t.Run("a denied connection is a record naming the isolating policy", func(t *testing.T) {
		r := await(t, logs[n1], "denying beta/client-0 -> alpha/db-0:5432", func(r flowlog.Record) bool {
			return r.Verdict == flowlog.VerdictDeny && r.Src.Pod == "beta/client-0" && r.Dst.Pod == "alpha/db-0" && r.Port == 5432
		})
		if r.Direction != "ingress" || r.Tier != "networkpolicy" || r.Protocol != "TCP" || r.Node != "e2e-n1" {
			t.Errorf("record %+v: want ingress, networkpolicy, TCP, on e2e-n1", r)
		}
		if !strings.Contains(r.Reason, "NetworkPolicy alpha/db-ingress") || len(r.IsolatedBy) != 1 || r.IsolatedBy[0].Name != "db-ingress" {
			t.Errorf("record %+v does not name the isolating policy alpha/db-ingress", r)
		}
		if r.Stale {
			t.Errorf("record %+v is stale, but nothing changed", r)
		}
	})

	t.Run("the kernel's counters name the rule that allowed and the isolation that denied", func(t *testing.T) {
		dp := e.agent[n1].dp.(*NFTables)
		counts, err := dp.Counters()
		if err != nil {
			t.Fatal(err)
		}
		var allowed, isolated dataplane.Counts
		for _, a := range dp.Current().Accounts {
			switch {
			case a.Kind == dataplane.AccountRule && a.Policy.Name == "db-ingress" && a.Rule == 0 && a.Direction == policy.Ingress:
				allowed = counts[a.Name]
			case a.Kind == dataplane.AccountIsolation && a.Namespace == "alpha" && a.Direction == policy.Ingress:
				isolated = counts[a.Name]
			}
		}
		if allowed.Packets == 0 || allowed.Bytes == 0 {
			t.Errorf("db-ingress rule 0 counted %+v; web-0 reached db-0 on 5432", allowed)
		}
		// Every other probe to db-0 was denied: 3 peers x 3 ports, less web's one.
		if isolated.Packets < 8 {
			t.Errorf("isolation of alpha counted %+v packets; want at least the 8 denied probes", isolated)
		}
		for _, want := range []string{`policy="db-ingress",rule="0"`, `rule="isolation"`} {
			if got := scrapeFor(t, e.agent[n1].reg, want); !strings.Contains(got, want) {
				t.Errorf("/metrics has no series with %s:\n%s", want, got)
			}
		}
	})

	kubetest.InstallCRDs(t, e.env.Config)
	for _, a := range e.agent {
		a.wait(t, "CNP watched", func(Applied) bool { return slices.Contains(a.Cache().Watched(), "ClusterNetworkPolicy/v1beta1") })
	}
	// An admin deny of beta -> alpha on 80, its rule named.
	admin := cnp("no-beta-web", v1beta1.AdminTier, 10)
	admin.Spec.Ingress[0].Name = "block-web"
	admin.Spec.Ingress[0].From = []v1beta1.ClusterNetworkPolicyIngressPeer{{Namespaces: sel("team", "b")}}
	admin.Spec.Ingress[0].Protocols = []v1beta1.ClusterNetworkPolicyProtocol{{TCP: &v1beta1.ClusterNetworkPolicyProtocolTCP{DestinationPort: &v1beta1.Port{Number: 80}}}}
	if _, err := e.dyn.Resource(gvr("v1beta1", "clusternetworkpolicies")).Create(ctx,
		toUnstructured(t, "policy.networking.k8s.io/v1beta1", "ClusterNetworkPolicy", admin), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.check("an admin rule denies beta -> alpha on 80")

	t.Run("an admin denial is a record and a count naming the policy and its rule", func(t *testing.T) {
		r := await(t, logs[n0], "denying beta/client-1 -> alpha/web-0:80", func(r flowlog.Record) bool {
			return r.Verdict == flowlog.VerdictDeny && r.Src.Pod == "beta/client-1" && r.Dst.Pod == "alpha/web-0" && r.Port == 80
		})
		if r.Tier != "admin" || r.Policy == nil || r.Policy.Kind != "ClusterNetworkPolicy" || r.Policy.Name != "no-beta-web" ||
			r.Rule == nil || *r.Rule != 0 || r.RuleName != "block-web" {
			t.Errorf("record %+v: want admin ClusterNetworkPolicy no-beta-web rule 0 (block-web)", r)
		}
		want := `kind="ClusterNetworkPolicy",namespace="",policy="no-beta-web",rule="0",rule_name="block-web",tier="admin",verdict="deny"`
		if got := scrapeFor(t, e.agent[n0].reg, want); !strings.Contains(got, want) {
			t.Errorf("/metrics has no count of no-beta-web's rule 0:\n%s", got)
		}
	})

	audit := netpol("beta", "deny-egress", networkingv1.NetworkPolicySpec{
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
	})
	audit.Annotations = map[string]string{policy.AuditAnnotation: "audit"}
	if _, err := e.cs.NetworkingV1().NetworkPolicies("beta").Create(ctx, audit, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// check probes against the enforced view: the audit policy must change nothing.
	e.check("an audit policy denying beta's egress changes no verdict")

	t.Run("an audit policy's would-be denial is a record of an allowed connection", func(t *testing.T) {
		r := await(t, logs[n0], "of beta/client-0 -> alpha/web-0 that the audit policy would deny", func(r flowlog.Record) bool {
			return r.Verdict == flowlog.VerdictAllow && r.Src.Pod == "beta/client-0" && r.Dst.Pod == "alpha/web-0" && r.Audit != nil
		})
		if r.Direction != "egress" || r.Audit.Verdict != flowlog.VerdictDeny || !strings.Contains(r.Audit.Reason, "beta/deny-egress") {
			t.Errorf("record %+v: want egress, audit deny naming beta/deny-egress", r)
		}
	})
}

// scrapeFor scrapes the rule counters until a series contains want (the counters are
// read from the kernel at each scrape), for up to five seconds, and returns the last
// scrape.
func scrapeFor(t *testing.T, reg prometheus.Gatherer, want string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := gathered(t, reg, "netwarden_agent_rule_packets_total")
		if strings.Contains(got, want) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}
