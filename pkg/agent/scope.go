package agent

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/netwarden/netwarden/pkg/model"
)

// nodeScope returns the part of c that can decide this node's verdicts: everything but
// the NetworkPolicies that select none of the node's pods. A node enforces only its own
// pods (the other end of a connection is checked by its own node), and a NetworkPolicy
// decides only for the pods it selects, which are in its own namespace; so the others
// cannot change what this node programs. Leaving them out saves compiling them, and their
// changes then leave the kernel untouched. Admin kinds select across namespaces and are
// all kept. The returned cluster shares c's objects.
func nodeScope(c *model.Cluster, node string) *model.Cluster {
	local := map[string][]*corev1.Pod{} // by namespace
	for _, p := range c.Pods {
		if p.Spec.NodeName == node && !p.Spec.HostNetwork {
			local[p.Namespace] = append(local[p.Namespace], p)
		}
	}
	out := *c
	out.NetworkPolicies = make([]*networkingv1.NetworkPolicy, 0, len(c.NetworkPolicies))
	for _, np := range c.NetworkPolicies {
		if selectsAny(np, local[np.Namespace]) {
			out.NetworkPolicies = append(out.NetworkPolicies, np)
		}
	}
	return &out
}

// selectsAny reports whether np's pod selector matches one of pods. A selector that
// cannot be read counts as matching, so that compiling the policy reports it.
func selectsAny(np *networkingv1.NetworkPolicy, pods []*corev1.Pod) bool {
	if len(pods) == 0 {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil {
		return true
	}
	for _, p := range pods {
		if sel.Matches(labels.Set(p.Labels)) {
			return true
		}
	}
	return false
}
