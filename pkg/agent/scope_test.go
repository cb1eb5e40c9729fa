package agent

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netwarden/netwarden/pkg/model"
)

func TestNodeScope(t *testing.T) {
	pod := func(ns, name, node string, host bool, labels map[string]string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}}
		p.Spec.NodeName, p.Spec.HostNetwork = node, host
		return p
	}
	np := func(ns, name string, sel *metav1.LabelSelector) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: networkingv1.NetworkPolicySpec{PodSelector: *sel}}
	}
	bad := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Sometimes"}}}
	c := &model.Cluster{
		Pods: []*corev1.Pod{
			pod("shop", "web-0", "n1", false, map[string]string{"app": "web"}),
			pod("shop", "db-0", "n2", false, map[string]string{"app": "db"}),
			pod("infra", "agent-0", "n1", true, map[string]string{"app": "agent"}),
			pod("other", "x-0", "n2", false, map[string]string{"app": "x"}),
		},
		NetworkPolicies: []*networkingv1.NetworkPolicy{
			np("shop", "web-only", sel("app", "web")),
			np("shop", "all-of-shop", &metav1.LabelSelector{}),
			np("shop", "db-only", sel("app", "db")),
			np("infra", "host-pods", &metav1.LabelSelector{}),
			np("other", "elsewhere", &metav1.LabelSelector{}),
			np("shop", "unreadable", bad),
		},
		ClusterNetworkPolicies: []*v1beta1.ClusterNetworkPolicy{cnp("admin", v1beta1.AdminTier, 1)},
	}
	got := nodeScope(c, "n1")
	var names []string
	for _, p := range got.NetworkPolicies {
		names = append(names, p.Name)
	}
	for _, tc := range []struct {
		rule   string
		policy string
		kept   bool
	}{
		{"a policy selecting a local pod is kept", "web-only", true},
		{"an empty pod selector is kept where the namespace has a local pod", "all-of-shop", true},
		{"a policy selecting only pods of other nodes is left out", "db-only", false},
		{"hostNetwork pods are not policy subjects", "host-pods", false},
		{"a namespace without local pods is left out", "elsewhere", false},
		{"an unreadable selector is kept, so compiling it reports the error", "unreadable", true},
	} {
		if slices.Contains(names, tc.policy) != tc.kept {
			t.Errorf("%s: %s kept=%v", tc.rule, tc.policy, !tc.kept)
		}
	}
	if len(got.ClusterNetworkPolicies) != 1 || len(got.Pods) != len(c.Pods) || len(c.NetworkPolicies) != 6 {
		t.Errorf("admin policies and pods must be kept whole, and the input untouched")
	}
}
