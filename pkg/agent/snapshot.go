package agent

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netwarden/netwarden/pkg/model"
)

// UnknownNamespacePolicy names the deny-all NetworkPolicy a snapshot adds to a namespace
// that pods are in but whose Namespace object the agent has not seen (yet). Without the
// namespace's labels, namespace selectors cannot be decided, so such pods are isolated in
// both directions until the namespace arrives: failing closed for a moment beats
// enforcing the wrong policy.
const UnknownNamespacePolicy = "netwarden-unknown-namespace"

// Snapshot is the cluster as the caches hold it at one moment.
type Snapshot struct {
	Cluster *model.Cluster
	// UnknownNamespaces are namespaces that pods are in but whose objects are not known;
	// each got an UnknownNamespacePolicy.
	UnknownNamespaces []string
	// TerminalPods counts pods left out because they have finished (Succeeded or Failed):
	// their addresses may already belong to new pods.
	TerminalPods int
}

// Snapshot copies the caches into a normalized model.Cluster. Objects are shared with the
// caches and must not be modified; only namespaces are copied (Normalize may add a label).
//
// The pods, namespaces and nodes, with the slices holding them, are those of the previous
// snapshot while none of their events came in between (see world): a policy change then
// costs listing and sorting the policies only, and policy.CompileReusing recognizes the
// same objects and reuses its work on them. Those shared slices are never written again.
func (c *Cache) Snapshot() (*Snapshot, error) {
	policyObjs, pending := c.policyAPI.objects()
	if len(pending) > 0 {
		return nil, fmt.Errorf("%w: %s", errPending, strings.Join(pending, ", "))
	}
	w := c.currentWorld()
	cl := &model.Cluster{Namespaces: slices.Clone(w.namespaces)}
	s := &Snapshot{Cluster: cl, UnknownNamespaces: w.unknown, TerminalPods: w.terminal}
	for _, o := range c.netpols.GetStore().List() {
		cl.NetworkPolicies = append(cl.NetworkPolicies, o.(*networkingv1.NetworkPolicy))
	}
	for _, o := range policyObjs[model.KindClusterNetworkPolicy] {
		cl.ClusterNetworkPolicies = append(cl.ClusterNetworkPolicies, o.(*v1beta1.ClusterNetworkPolicy))
	}
	for _, o := range policyObjs[model.KindAdminNetworkPolicy] {
		cl.AdminNetworkPolicies = append(cl.AdminNetworkPolicies, o.(*v1alpha1.AdminNetworkPolicy))
	}
	for _, o := range policyObjs[model.KindBaselineAdminNetworkPolicy] {
		cl.BaselineAdminNetworkPolicies = append(cl.BaselineAdminNetworkPolicies, o.(*v1alpha1.BaselineAdminNetworkPolicy))
	}
	for _, ns := range w.unknown {
		cl.NetworkPolicies = append(cl.NetworkPolicies, unknownNamespacePolicy(ns))
	}
	// Normalizing the world was done once (world.go); this sorts the policies and adds a
	// namespace for policies in one neither the API nor a pod mentions. The world's
	// namespaces already carry their name label, so it writes none of them.
	cl.Normalize()
	cl.Pods, cl.Nodes = w.pods, w.nodes
	return s, nil
}

// world is the pods, namespaces and nodes of a snapshot, normalized (sorted, namespaces
// copied and labeled, a namespace made up for pods in one not known), and what the
// snapshot says about them. It is shared by the snapshots taken while its generations
// hold, so nothing may write its slices or objects.
type world struct {
	pods       []*corev1.Pod
	namespaces []*corev1.Namespace
	nodes      []*corev1.Node
	unknown    []string
	terminal   int
}

// worldGens count the events of each kind.
type worldGens struct{ pods, namespaces, nodes atomic.Uint64 }

type worldKey struct{ pods, namespaces, nodes uint64 }

func (g *worldGens) key() worldKey {
	return worldKey{g.pods.Load(), g.namespaces.Load(), g.nodes.Load()}
}

// currentWorld returns the last world if no pod, namespace or node event came since it
// was listed, and lists a new one otherwise. The counts are read before the stores are
// listed: an event counted after that point makes the next call list again.
func (c *Cache) currentWorld() *world {
	key := c.gens.key()
	c.worldMu.Lock()
	defer c.worldMu.Unlock()
	if c.world != nil && c.worldKey == key {
		return c.world
	}
	w := &world{}
	cl := &model.Cluster{}
	known := map[string]bool{}
	for _, o := range c.nss.GetStore().List() {
		ns := *o.(*corev1.Namespace)
		known[ns.Name] = true
		cl.Namespaces = append(cl.Namespaces, &ns)
	}
	unknown := map[string]bool{}
	podObjs := c.pods.GetStore().List()
	cl.Pods = make([]*corev1.Pod, 0, len(podObjs))
	for _, o := range podObjs {
		p := o.(*corev1.Pod)
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			w.terminal++
			continue
		}
		if !known[p.Namespace] {
			unknown[p.Namespace] = true
		}
		cl.Pods = append(cl.Pods, p)
	}
	for _, o := range c.nodes.GetStore().List() {
		cl.Nodes = append(cl.Nodes, o.(*corev1.Node))
	}
	for ns := range unknown {
		w.unknown = append(w.unknown, ns)
	}
	sort.Strings(w.unknown)
	cl.Normalize()
	w.pods, w.namespaces, w.nodes = cl.Pods, cl.Namespaces, cl.Nodes
	c.world, c.worldKey = w, key
	return w
}

func unknownNamespacePolicy(ns string) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: UnknownNamespacePolicy, Namespace: ns},
		Spec: networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		},
	}
}
