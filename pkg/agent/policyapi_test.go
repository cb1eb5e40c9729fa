package agent

import (
	"slices"
	"strings"
	"testing"
	"time"

	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netwarden/netwarden/internal/kubetest"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

func gvr(version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: PolicyAPIGroup, Version: version, Resource: resource}
}

func toUnstructured(t *testing.T, apiVersion, kind string, obj any) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	delete(m, "status")
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	return u
}

func cnp(name string, tier v1beta1.Tier, priority int32) *v1beta1.ClusterNetworkPolicy {
	return &v1beta1.ClusterNetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1beta1.ClusterNetworkPolicySpec{
			Tier:     tier,
			Priority: priority,
			Subject: v1beta1.ClusterNetworkPolicySubject{
				Namespaces: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}},
			},
			Ingress: []v1beta1.ClusterNetworkPolicyIngressRule{{
				Name:   "deny-all",
				Action: v1beta1.ClusterNetworkPolicyRuleActionDeny,
				From:   []v1beta1.ClusterNetworkPolicyIngressPeer{{Namespaces: &metav1.LabelSelector{}}},
			}},
		},
	}
}

func anp(name string, priority int32, network string) *v1alpha1.AdminNetworkPolicy {
	return &v1alpha1.AdminNetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.AdminNetworkPolicySpec{
			Priority: priority,
			Subject:  v1alpha1.AdminNetworkPolicySubject{Namespaces: &metav1.LabelSelector{}},
			Egress: []v1alpha1.AdminNetworkPolicyEgressRule{{
				Name:   "deny-net",
				Action: v1alpha1.AdminNetworkPolicyRuleActionDeny,
				To:     []v1alpha1.AdminNetworkPolicyEgressPeer{{Networks: []v1alpha1.CIDR{v1alpha1.CIDR(network)}}},
			}},
		},
	}
}

func policyWith(kind, name string) func(Applied) bool {
	return func(ap Applied) bool { return hasPolicy(ap, kind, "", name) != nil }
}

// TestPolicyAPIKindsFollowTheirCRDs: the network-policy-api kinds are watched once their
// CRDs are served (installed after the agent started), in the preferred version, their
// objects follow creates, updates and deletes in either served version, an object that
// cannot be compiled is left out (and named) without holding back the others, and a
// removed CRD takes its objects out of the snapshot.
func TestPolicyAPIKindsFollowTheirCRDs(t *testing.T) {
	env := kubetest.Start(t) // private: this test installs and deletes CRDs
	ctx := ctxFor(t)
	dp := &fakeDataplane{}
	ra := startAgent(t, env.Config, Config{NodeName: "n1", MinSyncInterval: 10 * time.Millisecond, DiscoveryInterval: 100 * time.Millisecond}, dp)
	ra.wait(t, "first sync", func(Applied) bool { return true })
	if w := ra.Cache().Watched(); len(w) != 0 {
		t.Fatalf("watching %v before any CRD is installed", w)
	}
	watching := func(kv string) func(Applied) bool {
		return func(Applied) bool { return slices.Contains(ra.Cache().Watched(), kv) }
	}

	kubetest.InstallCRDs(t, env.Config)
	ra.wait(t, "ClusterNetworkPolicy watched in v1beta1", watching("ClusterNetworkPolicy/v1beta1"))

	cnps := env.Dynamic.Resource(gvr("v1beta1", "clusternetworkpolicies"))
	if _, err := cnps.Create(ctx, toUnstructured(t, "policy.networking.k8s.io/v1beta1", "ClusterNetworkPolicy", cnp("admin-deny", v1beta1.AdminTier, 10)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ap := ra.wait(t, "v1beta1 ClusterNetworkPolicy created", policyWith(model.KindClusterNetworkPolicy, "admin-deny"))
	if p := hasPolicy(ap, model.KindClusterNetworkPolicy, "", "admin-deny"); p.Tier != policy.TierAdmin || p.Priority != 10 {
		t.Errorf("compiled as tier %v priority %d; want Admin 10", p.Tier, p.Priority)
	}

	old := env.Dynamic.Resource(gvr("v1alpha2", "clusternetworkpolicies"))
	if _, err := old.Create(ctx, toUnstructured(t, "policy.networking.k8s.io/v1alpha2", "ClusterNetworkPolicy", cnp("baseline-deny", v1beta1.BaselineTier, 5)), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ra.wait(t, "v1alpha2 ClusterNetworkPolicy created", func(ap Applied) bool {
		p := hasPolicy(ap, model.KindClusterNetworkPolicy, "", "baseline-deny")
		return p != nil && p.Tier == policy.TierBaseline
	})

	u, err := cnps.Get(ctx, "admin-deny", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(u.Object, int64(20), "spec", "priority"); err != nil {
		t.Fatal(err)
	}
	if _, err := cnps.Update(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ra.wait(t, "ClusterNetworkPolicy updated", func(ap Applied) bool {
		p := hasPolicy(ap, model.KindClusterNetworkPolicy, "", "admin-deny")
		return p != nil && p.Priority == 20
	})
	if err := cnps.Delete(ctx, "baseline-deny", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ra.wait(t, "ClusterNetworkPolicy deleted", func(ap Applied) bool {
		return hasPolicy(ap, model.KindClusterNetworkPolicy, "", "baseline-deny") == nil
	})

	// AdminNetworkPolicy and BaselineAdminNetworkPolicy, from minimal CRDs.
	kubetest.InstallCRDs(t, env.Config, "testdata/anp-banp-crds.yaml")
	ra.wait(t, "AdminNetworkPolicy watched", watching("AdminNetworkPolicy/v1alpha1"))
	ra.wait(t, "BaselineAdminNetworkPolicy watched", watching("BaselineAdminNetworkPolicy/v1alpha1"))
	anps := env.Dynamic.Resource(gvr("v1alpha1", "adminnetworkpolicies"))
	if _, err := anps.Create(ctx, toUnstructured(t, "policy.networking.k8s.io/v1alpha1", "AdminNetworkPolicy", anp("deny-doc-net", 3, "192.0.2.0/24")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	banp := &v1alpha1.BaselineAdminNetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: v1alpha1.BaselineAdminNetworkPolicySpec{
			Subject: v1alpha1.AdminNetworkPolicySubject{Namespaces: &metav1.LabelSelector{}},
			Ingress: []v1alpha1.BaselineAdminNetworkPolicyIngressRule{{
				Name: "deny", Action: v1alpha1.BaselineAdminNetworkPolicyRuleActionDeny,
				From: []v1alpha1.AdminNetworkPolicyIngressPeer{{Namespaces: &metav1.LabelSelector{}}},
			}},
		},
	}
	if _, err := env.Dynamic.Resource(gvr("v1alpha1", "baselineadminnetworkpolicies")).Create(ctx,
		toUnstructured(t, "policy.networking.k8s.io/v1alpha1", "BaselineAdminNetworkPolicy", banp), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ra.wait(t, "AdminNetworkPolicy and BaselineAdminNetworkPolicy seen", func(ap Applied) bool {
		return hasPolicy(ap, model.KindAdminNetworkPolicy, "", "deny-doc-net") != nil &&
			hasPolicy(ap, model.KindBaselineAdminNetworkPolicy, "", "default") != nil
	})

	// The permissive test CRD lets an unreadable CIDR through, as a CRD newer than
	// netwarden could: that policy is left out and named; the rest still applies.
	if _, err := anps.Create(ctx, toUnstructured(t, "policy.networking.k8s.io/v1alpha1", "AdminNetworkPolicy", anp("bad-cidr", 4, "not-a-cidr")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := anps.Create(ctx, toUnstructured(t, "policy.networking.k8s.io/v1alpha1", "AdminNetworkPolicy", anp("after-bad", 5, "198.51.100.0/24")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ap = ra.wait(t, "policy after the bad one", policyWith(model.KindAdminNetworkPolicy, "after-bad"))
	if len(ap.Rejected) != 1 || !strings.Contains(ap.Rejected[0].Error(), "bad-cidr") || !strings.Contains(ap.Rejected[0].Error(), "networks[0]") {
		t.Errorf("rejected %v; want the one error naming bad-cidr and its field", ap.Rejected)
	}
	if hasPolicy(ap, model.KindAdminNetworkPolicy, "", "bad-cidr") != nil || hasPolicy(ap, model.KindAdminNetworkPolicy, "", "deny-doc-net") == nil {
		t.Errorf("the bad policy must be left out and the good ones kept")
	}

	// Removing the ClusterNetworkPolicy CRD removes its objects.
	ext, err := apiextensionsclient.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := ext.ApiextensionsV1().CustomResourceDefinitions().Delete(ctx, "clusternetworkpolicies.policy.networking.k8s.io", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ap = ra.wait(t, "CRD removed", func(ap Applied) bool {
		return !slices.Contains(ra.Cache().Watched(), "ClusterNetworkPolicy/v1beta1") && len(ap.Snapshot.Cluster.ClusterNetworkPolicies) == 0
	})
	if hasPolicy(ap, model.KindAdminNetworkPolicy, "", "deny-doc-net") == nil {
		t.Errorf("AdminNetworkPolicies lost with the ClusterNetworkPolicy CRD")
	}
}
