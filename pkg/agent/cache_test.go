package agent

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/netwarden/netwarden/internal/kubetest"
	"github.com/netwarden/netwarden/pkg/model"
)

func isLocal(ap Applied, key string) bool {
	i, ok := ap.Engine.PodByKey(key)
	return ok && slices.Contains(ap.Local, i)
}

func nsOf(ap Applied, name string) *corev1.Namespace {
	for _, ns := range ap.Snapshot.Cluster.Namespaces {
		if ns.Name == name {
			return ns
		}
	}
	return nil
}

func nodeOf(ap Applied, name string) *corev1.Node {
	for _, n := range ap.Snapshot.Cluster.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

func mergePatch(ctx context.Context, t *testing.T, do func(context.Context, string, types.PatchType, []byte, metav1.PatchOptions, ...string) error, name, patch string) {
	t.Helper()
	if err := do(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("patching %s: %v", name, err)
	}
}

func patchPod(cs kubernetes.Interface, ns string) func(context.Context, string, types.PatchType, []byte, metav1.PatchOptions, ...string) error {
	return func(ctx context.Context, name string, pt types.PatchType, data []byte, o metav1.PatchOptions, sub ...string) error {
		_, err := cs.CoreV1().Pods(ns).Patch(ctx, name, pt, data, o, sub...)
		return err
	}
}

func allowFromWeb(name string, ports ...int32) *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		},
	}
	for _, p := range ports {
		np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{
			From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}},
			Ports: []networkingv1.NetworkPolicyPort{{Port: ptrIntStr(p)}},
		})
	}
	return np
}

// TestSnapshotFollowsTheAPI: every create, update and delete that can change a decision
// reaches the programmed snapshot, and the node's own pods are exactly the local ones.
func TestSnapshotFollowsTheAPI(t *testing.T) {
	env := kubetest.Shared(t)
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	node := ns + "-node"
	other := ns + "-other"
	cs := env.Client
	dp := &fakeDataplane{}
	ra := startAgent(t, env.Config, Config{NodeName: node, MinSyncInterval: 10 * time.Millisecond}, dp)
	ra.wait(t, "first sync", func(Applied) bool { return true })
	if !ra.Ready() {
		t.Fatal("not ready after the first sync")
	}

	steps := []struct {
		name string
		do   func(t *testing.T)
		want func(ap Applied) bool
	}{
		{"a new pod on the node is local, with its labels and address", func(t *testing.T) {
			if _, err := kubetest.CreatePod(ctx, cs, ns, "web-0", node, map[string]string{"app": "web"}, "10.1.0.5"); err != nil {
				t.Fatal(err)
			}
		}, func(ap Applied) bool {
			p := podIn(ap, ns+"/web-0")
			return p != nil && p.Pod.Labels["app"] == "web" && len(p.IPs) == 1 && p.IPs[0].String() == "10.1.0.5" && isLocal(ap, ns+"/web-0")
		}},
		{"relabeling a pod is seen", func(t *testing.T) {
			mergePatch(ctx, t, patchPod(cs, ns), "web-0", `{"metadata":{"labels":{"app":"api","tier":"front"}}}`)
		}, func(ap Applied) bool {
			p := podIn(ap, ns+"/web-0")
			return p != nil && p.Pod.Labels["app"] == "api" && p.Pod.Labels["tier"] == "front"
		}},
		{"a pod on another node is a peer, not local", func(t *testing.T) {
			if _, err := kubetest.CreatePod(ctx, cs, ns, "db-0", other, map[string]string{"app": "db"}, "10.2.0.7"); err != nil {
				t.Fatal(err)
			}
		}, func(ap Applied) bool { return podIn(ap, ns+"/db-0") != nil && !isLocal(ap, ns+"/db-0") }},
		{"a hostNetwork pod on the node is never local", func(t *testing.T) {
			p, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "host-0", Labels: map[string]string{"app": "host"}},
				Spec:       corev1.PodSpec{NodeName: node, HostNetwork: true, Containers: []corev1.Container{{Name: "c", Image: kubetest.PauseImage}}},
			}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kubetest.SetPodStatus(ctx, cs, p, "192.0.2.50"); err != nil {
				t.Fatal(err)
			}
		}, func(ap Applied) bool {
			p := podIn(ap, ns+"/host-0")
			return p != nil && p.HostNetwork && len(p.IPs) == 1 && !isLocal(ap, ns+"/host-0")
		}},
		{"a pod without an address yet is known but not local", func(t *testing.T) {
			if _, err := kubetest.CreatePod(ctx, cs, ns, "new-0", node, map[string]string{"app": "new"}); err != nil {
				t.Fatal(err)
			}
		}, func(ap Applied) bool { return podIn(ap, ns+"/new-0") != nil && !isLocal(ap, ns+"/new-0") }},
		{"the address arriving makes it local", func(t *testing.T) {
			p, err := cs.CoreV1().Pods(ns).Get(ctx, "new-0", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kubetest.SetPodStatus(ctx, cs, p, "10.1.0.9"); err != nil {
				t.Fatal(err)
			}
		}, func(ap Applied) bool { return isLocal(ap, ns+"/new-0") }},
		{"namespace labels are seen", func(t *testing.T) {
			if _, err := cs.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"a"}}}`), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
		}, func(ap Applied) bool { n := nsOf(ap, ns); return n != nil && n.Labels["team"] == "a" }},
		{"node labels and addresses are seen", func(t *testing.T) {
			if _, err := kubetest.CreateNode(ctx, cs, node, map[string]string{"zone": "z1"}, "192.0.2.50"); err != nil {
				t.Fatal(err)
			}
		}, func(ap Applied) bool {
			n := nodeOf(ap, node)
			return n != nil && n.Labels["zone"] == "z1" && len(ap.Engine.NodeIPs(node)) == 1
		}},
		{"a NetworkPolicy create is seen", func(t *testing.T) {
			np := allowFromWeb("db", 5432)
			// It selects a local pod: the node compiles only the policies of its pods.
			np.Spec.PodSelector = *sel("app", "new")
			if _, err := cs.NetworkingV1().NetworkPolicies(ns).Create(ctx, np, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}, func(ap Applied) bool {
			p := hasPolicy(ap, model.KindNetworkPolicy, ns, "db")
			return p != nil && len(p.Ingress) == 1
		}},
		{"a NetworkPolicy update is seen", func(t *testing.T) {
			np, err := cs.NetworkingV1().NetworkPolicies(ns).Get(ctx, "db", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			np.Spec.Ingress = allowFromWeb("db", 5432, 5433).Spec.Ingress
			if _, err := cs.NetworkingV1().NetworkPolicies(ns).Update(ctx, np, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}, func(ap Applied) bool {
			p := hasPolicy(ap, model.KindNetworkPolicy, ns, "db")
			return p != nil && len(p.Ingress) == 2
		}},
		{"an audit annotation stages a NetworkPolicy", func(t *testing.T) {
			mergePatch(ctx, t, func(ctx context.Context, name string, pt types.PatchType, data []byte, o metav1.PatchOptions, _ ...string) error {
				_, err := cs.NetworkingV1().NetworkPolicies(ns).Patch(ctx, name, pt, data, o)
				return err
			}, "db", `{"metadata":{"annotations":{"netwarden.io/mode":"audit"}}}`)
		}, func(ap Applied) bool {
			p := hasPolicy(ap, model.KindNetworkPolicy, ns, "db")
			return p != nil && p.Audit
		}},
		{"removing the audit annotation enforces it", func(t *testing.T) {
			mergePatch(ctx, t, func(ctx context.Context, name string, pt types.PatchType, data []byte, o metav1.PatchOptions, _ ...string) error {
				_, err := cs.NetworkingV1().NetworkPolicies(ns).Patch(ctx, name, pt, data, o)
				return err
			}, "db", `{"metadata":{"annotations":{"netwarden.io/mode":null}}}`)
		}, func(ap Applied) bool {
			p := hasPolicy(ap, model.KindNetworkPolicy, ns, "db")
			return p != nil && !p.Audit
		}},
		{"a NetworkPolicy delete is seen", func(t *testing.T) {
			if err := cs.NetworkingV1().NetworkPolicies(ns).Delete(ctx, "db", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}, func(ap Applied) bool { return hasPolicy(ap, model.KindNetworkPolicy, ns, "db") == nil }},
		{"a finished pod is left out, since its address may be reused", func(t *testing.T) {
			mergePatch(ctx, t, func(ctx context.Context, name string, pt types.PatchType, data []byte, o metav1.PatchOptions, _ ...string) error {
				_, err := cs.CoreV1().Pods(ns).Patch(ctx, name, pt, data, o, "status")
				return err
			}, "db-0", `{"status":{"phase":"Succeeded"}}`)
		}, func(ap Applied) bool { return podIn(ap, ns+"/db-0") == nil && ap.Snapshot.TerminalPods > 0 }},
		{"a deleted pod disappears", func(t *testing.T) {
			if err := cs.CoreV1().Pods(ns).Delete(ctx, "web-0", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
				t.Fatal(err)
			}
		}, func(ap Applied) bool { return podIn(ap, ns+"/web-0") == nil }},
	}
	t.Cleanup(func() { _ = cs.CoreV1().Nodes().Delete(context.Background(), node, metav1.DeleteOptions{}) })
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do(t)
			ap := ra.wait(t, st.name, st.want)
			if ap.Reason == ReasonInitial {
				t.Errorf("seen only by the initial sync")
			}
		})
	}
	// Status-only updates (conditions, as kubelets write them) must not cost a sync.
	t.Run("a pod condition change does not cause a sync", func(t *testing.T) {
		before := ra.Applied().Seq
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "new-0", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: "example.com/probe", Status: corev1.ConditionTrue})
		if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		// A marker change that does cause a sync: once it is seen, the condition update
		// (sent before it on the same watch) has been handled.
		mergePatch(ctx, t, patchPod(cs, ns), "new-0", `{"metadata":{"labels":{"marker":"1"}}}`)
		ap := ra.wait(t, "marker", func(ap Applied) bool { p := podIn(ap, ns+"/new-0"); return p != nil && p.Pod.Labels["marker"] == "1" })
		if ap.Seq != before+1 {
			t.Errorf("%d syncs for a condition update and a label update; want 1", ap.Seq-before)
		}
	})
}
