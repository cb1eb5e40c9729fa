package agent

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
)

// TestSnapshotReusesTheWorld: snapshots taken while no pod, namespace or node event
// arrives share the previous one's pods, namespaces and nodes (so the compile can reuse
// its work on them), yet equal a snapshot listed afresh; any such event makes the next
// snapshot list them again, and policy changes are always seen.
func TestSnapshotReusesTheWorld(t *testing.T) {
	objs := syntheticObjects(200, 5, false)
	ghost := e2ePodSpec("ghost", "g-0", "node-0", map[string]string{"app": "x"}) // its namespace is not known
	lonely := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "lonely", Name: "np"}}
	objs = append(objs, ghost, lonely, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-0"}})
	cs := fake.NewClientset(objs...)
	c := NewCache(cs, dynamicfake.NewSimpleDynamicClient(runtime.NewScheme()), cs.Discovery(), CacheOptions{Logger: testLogger(t)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.Start(ctx)
	if err := c.WaitForSync(ctx); err != nil {
		t.Fatal(err)
	}
	// The informers call their handlers after filling their stores: wait until every
	// object has been counted, so that the snapshots below follow no event.
	settled := func() worldKey {
		for {
			k := c.gens.key()
			time.Sleep(50 * time.Millisecond)
			if c.gens.key() == k {
				return k
			}
		}
	}
	settled()
	snap := func() *Snapshot {
		t.Helper()
		s, err := c.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	shares := func(a, b *Snapshot) bool {
		return &a.Cluster.Pods[0] == &b.Cluster.Pods[0] && &a.Cluster.Nodes[0] == &b.Cluster.Nodes[0] &&
			a.Cluster.Namespaces[0] == b.Cluster.Namespaces[0]
	}

	first, second := snap(), snap()
	if !shares(first, second) {
		t.Error("two snapshots with no event between them do not share the pods, namespaces and nodes")
	}
	c.gens.pods.Add(1) // as any pod event does
	fresh := snap()
	if shares(second, fresh) {
		t.Error("a snapshot after a pod event shares the previous one's pods")
	}
	if !reflect.DeepEqual(second, fresh) {
		t.Error("a snapshot sharing the previous one's objects differs from one listed afresh")
	}
	if want := []string{"ghost"}; !slices.Equal(fresh.UnknownNamespaces, want) {
		t.Errorf("unknown namespaces %v, want %v", fresh.UnknownNamespaces, want)
	}
	if nsOf(Applied{Snapshot: fresh}, "lonely") == nil || nsOf(Applied{Snapshot: fresh}, "ghost") == nil {
		t.Error("the namespaces of a policy and of a pod that the API does not know are missing")
	}

	// A policy change: seen at once, over the same pods.
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "ns-1", Name: "a-new"}}
	if _, err := cs.NetworkingV1().NetworkPolicies("ns-1").Create(ctx, np, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var withPolicy *Snapshot
	for withPolicy == nil || len(withPolicy.Cluster.NetworkPolicies) == len(fresh.Cluster.NetworkPolicies) {
		time.Sleep(10 * time.Millisecond)
		withPolicy = snap()
	}
	if !shares(fresh, withPolicy) {
		t.Error("a snapshot after a policy change does not share the pods")
	}
	if !slices.IsSortedFunc(withPolicy.Cluster.NetworkPolicies, func(a, b *networkingv1.NetworkPolicy) int {
		return cmpNsName(a.Namespace, a.Name, b.Namespace, b.Name)
	}) {
		t.Error("the policies are not sorted")
	}

	// A pod change: listed again, and seen.
	k := settled()
	p := e2ePodSpec("ns-1", "a-new", "node-3", map[string]string{"app": "x"})
	if _, err := cs.CoreV1().Pods("ns-1").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for c.gens.key() == k {
		time.Sleep(10 * time.Millisecond)
	}
	withPod := snap()
	if shares(withPolicy, withPod) || !slices.ContainsFunc(withPod.Cluster.Pods, func(q *corev1.Pod) bool { return q.Name == "a-new" }) {
		t.Error("a snapshot after a pod create does not list the pods again")
	}
}

func cmpNsName(ns1, n1, ns2, n2 string) int {
	switch {
	case ns1 != ns2 && ns1 < ns2, ns1 == ns2 && n1 < n2:
		return -1
	case ns1 == ns2 && n1 == n2:
		return 0
	}
	return 1
}
