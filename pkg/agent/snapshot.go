package agent

import (
	"fmt"
	"sort"
	"strings"

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
func (c *Cache) Snapshot() (*Snapshot, error) {
	policyObjs, pending := c.policyAPI.objects()
	if len(pending) > 0 {
		return nil, fmt.Errorf("%w: %s", errPending, strings.Join(pending, ", "))
	}
	cl := &model.Cluster{}
	s := &Snapshot{Cluster: cl}
	known := map[string]bool{}
	for _, o := range c.nss.GetStore().List() {
		ns := *o.(*corev1.Namespace)
		known[ns.Name] = true
		cl.Namespaces = append(cl.Namespaces, &ns)
	}
	unknown := map[string]bool{}
	for _, o := range c.pods.GetStore().List() {
		p := o.(*corev1.Pod)
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			s.TerminalPods++
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
	for ns := range unknown {
		s.UnknownNamespaces = append(s.UnknownNamespaces, ns)
		cl.NetworkPolicies = append(cl.NetworkPolicies, unknownNamespacePolicy(ns))
	}
	sort.Strings(s.UnknownNamespaces)
	cl.Normalize()
	return s, nil
}

func unknownNamespacePolicy(ns string) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: UnknownNamespacePolicy, Namespace: ns},
		Spec: networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		},
	}
}
