package agent

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netwarden/netwarden/pkg/policy"
)

// Every node runs an agent that holds every pod of the cluster, so the caches keep only
// what the policy core reads. The trim functions are informer transforms: they run once
// per received object, before it is stored, and return anything they do not know (such
// as deletion tombstones) unchanged.

func trimMeta(m *metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:              m.Name,
		Namespace:         m.Namespace,
		UID:               m.UID,
		ResourceVersion:   m.ResourceVersion,
		Generation:        m.Generation,
		Labels:            m.Labels,
		DeletionTimestamp: m.DeletionTimestamp,
		OwnerReferences:   m.OwnerReferences,
	}
}

// trimPod keeps identity, placement, addresses and the container ports (named ports are
// resolved against them).
func trimPod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	out := &corev1.Pod{ObjectMeta: trimMeta(&p.ObjectMeta)}
	out.Spec.NodeName = p.Spec.NodeName
	out.Spec.HostNetwork = p.Spec.HostNetwork
	out.Spec.InitContainers = trimContainers(p.Spec.InitContainers)
	out.Spec.Containers = trimContainers(p.Spec.Containers)
	out.Status.Phase = p.Status.Phase
	out.Status.PodIP = p.Status.PodIP
	out.Status.PodIPs = p.Status.PodIPs
	out.Status.HostIP = p.Status.HostIP
	return out, nil
}

func trimContainers(cs []corev1.Container) []corev1.Container {
	var out []corev1.Container
	for _, c := range cs {
		if len(c.Ports) > 0 {
			out = append(out, corev1.Container{Name: c.Name, Ports: c.Ports})
		}
	}
	return out
}

func trimNamespace(obj any) (any, error) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return obj, nil
	}
	out := &corev1.Namespace{ObjectMeta: trimMeta(&ns.ObjectMeta)}
	out.Status.Phase = ns.Status.Phase
	return out, nil
}

// trimNode keeps labels (node selectors) and addresses (node peers, hostNetwork pods).
func trimNode(obj any) (any, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	out := &corev1.Node{ObjectMeta: trimMeta(&n.ObjectMeta)}
	out.Spec.PodCIDRs = n.Spec.PodCIDRs
	out.Status.Addresses = n.Status.Addresses
	return out, nil
}

// trimNetworkPolicy keeps the spec, and the annotations: policy.AuditAnnotation stages a
// policy without enforcing it.
func trimNetworkPolicy(obj any) (any, error) {
	np, ok := obj.(*networkingv1.NetworkPolicy)
	if !ok {
		return obj, nil
	}
	out := &networkingv1.NetworkPolicy{ObjectMeta: trimMeta(&np.ObjectMeta), Spec: np.Spec}
	out.Annotations = np.Annotations
	return out, nil
}

// The change filters below say whether an update can change a decision. Kubelets rewrite
// pod and node status often (conditions, heartbeats, images); those updates must not cost
// a sync on every node of the cluster.

func podChanged(a, b *corev1.Pod) bool {
	return a.Spec.NodeName != b.Spec.NodeName ||
		a.Spec.HostNetwork != b.Spec.HostNetwork ||
		a.Status.Phase != b.Status.Phase ||
		a.Status.PodIP != b.Status.PodIP ||
		!slices.Equal(a.Status.PodIPs, b.Status.PodIPs) ||
		!maps.Equal(a.Labels, b.Labels) ||
		!containerPortsEqual(a.Spec.Containers, b.Spec.Containers) ||
		!containerPortsEqual(a.Spec.InitContainers, b.Spec.InitContainers)
}

func containerPortsEqual(a, b []corev1.Container) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !slices.Equal(a[i].Ports, b[i].Ports) {
			return false
		}
	}
	return true
}

func namespaceChanged(a, b *corev1.Namespace) bool { return !maps.Equal(a.Labels, b.Labels) }

func nodeChanged(a, b *corev1.Node) bool {
	return !maps.Equal(a.Labels, b.Labels) || !slices.Equal(a.Status.Addresses, b.Status.Addresses)
}

// specChanged is for policies: their generation moves exactly when their spec does; the
// audit annotation, which decides whether a policy is enforced, is metadata and does not
// move it.
func specChanged(a, b metav1.Object) bool {
	return a.GetGeneration() != b.GetGeneration() || a.GetGeneration() == 0 && a.GetResourceVersion() != b.GetResourceVersion() ||
		a.GetAnnotations()[policy.AuditAnnotation] != b.GetAnnotations()[policy.AuditAnnotation]
}
