package kubetest

import (
	"context"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// PauseImage is the image of pods made by CreatePod. Nothing pulls it: no
// kubelet runs.
const PauseImage = "registry.k8s.io/pause:3.10"

// SetPodStatus does what a kubelet would once the pod's sandbox is up: it
// sets status.podIP/podIPs to ips (at most one per IP family, the first is
// podIP), phase Running and the Ready conditions, through the status
// subresource. It re-reads the pod and retries on conflicts, and returns the
// updated pod. With no ips the pod is Running without an IP.
func SetPodStatus(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod, ips ...string) (*corev1.Pod, error) {
	podIPs := make([]corev1.PodIP, 0, len(ips))
	for _, s := range ips {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("pod %s/%s: bad IP %q", pod.Namespace, pod.Name, s)
		}
		podIPs = append(podIPs, corev1.PodIP{IP: a.String()})
	}
	var out *corev1.Pod
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := cs.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		cur.Status.Phase = corev1.PodRunning
		cur.Status.PodIPs = podIPs
		cur.Status.PodIP = ""
		if len(podIPs) > 0 {
			cur.Status.PodIP = podIPs[0].IP
		}
		if cur.Status.StartTime == nil {
			cur.Status.StartTime = &now
		}
		for _, typ := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
			setPodCondition(&cur.Status, typ, now)
		}
		out, err = cs.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("setting status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return out, nil
}

func setPodCondition(st *corev1.PodStatus, typ corev1.PodConditionType, now metav1.Time) {
	for i := range st.Conditions {
		if st.Conditions[i].Type == typ {
			if st.Conditions[i].Status != corev1.ConditionTrue {
				st.Conditions[i].Status = corev1.ConditionTrue
				st.Conditions[i].LastTransitionTime = now
			}
			return
		}
	}
	st.Conditions = append(st.Conditions, corev1.PodCondition{Type: typ, Status: corev1.ConditionTrue, LastTransitionTime: now})
}

// CreatePod creates a pod running PauseImage with the given labels, bound to
// nodeName (may be empty, and the node need not exist), then marks it
// Running with ips through SetPodStatus.
func CreatePod(ctx context.Context, cs kubernetes.Interface, namespace, name, nodeName string, labels map[string]string, ips ...string) (*corev1.Pod, error) {
	pod, err := cs.CoreV1().Pods(namespace).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: corev1.PodSpec{
			NodeName:   nodeName,
			Containers: []corev1.Container{{Name: "pause", Image: PauseImage}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating pod %s/%s: %w", namespace, name, err)
	}
	return SetPodStatus(ctx, cs, pod, ips...)
}

// CreateNode creates a Node and sets, through the status subresource, its
// InternalIP addresses to ips and its Ready condition to True. No node
// lifecycle controller runs, so it stays Ready.
func CreateNode(ctx context.Context, cs kubernetes.Interface, name string, labels map[string]string, ips ...string) (*corev1.Node, error) {
	node, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating node %s: %w", name, err)
	}
	now := metav1.Now()
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}}
	for _, s := range ips {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("node %s: bad IP %q", name, s)
		}
		node.Status.Addresses = append(node.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: a.String()})
	}
	node.Status.Conditions = []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: corev1.ConditionTrue,
		LastHeartbeatTime: now, LastTransitionTime: now, Reason: "KubeletReady",
	}}
	node, err = cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("setting status of node %s: %w", name, err)
	}
	return node, nil
}
