package kube

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery/fake"
	kubetesting "k8s.io/client-go/testing"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netwarden/netwarden/pkg/model"
)

func pod(ns, name string, owner ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if len(owner) == 2 {
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{Kind: owner[0], Name: owner[1], Controller: &yes}}
	}
	return p
}

func np(ns, name string, types ...networkingv1.PolicyType) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: networkingv1.NetworkPolicySpec{PolicyTypes: types}}
}

func podNames(c *model.Cluster) []string {
	var out []string
	for _, p := range c.Pods {
		out = append(out, p.Namespace+"/"+p.Name)
	}
	return out
}

func TestOverlay(t *testing.T) {
	live := &model.Cluster{
		Pods: []*corev1.Pod{
			pod("prod", "web-7d4b9c8f5-x2x9z", "ReplicaSet", "web-7d4b9c8f5"),
			pod("prod", "web-7d4b9c8f5-k8p4q", "ReplicaSet", "web-7d4b9c8f5"),
			pod("prod", "db-0", "StatefulSet", "db"),
			pod("prod", "backup-28391040-abcde", "Job", "backup-28391040"),
			pod("prod", "debug"),
			pod("dev", "web-7d4b9c8f5-zzzzz", "ReplicaSet", "web-7d4b9c8f5"),
		},
		NetworkPolicies:        []*networkingv1.NetworkPolicy{np("prod", "deny", networkingv1.PolicyTypeIngress), np("prod", "other")},
		ClusterNetworkPolicies: []*v1beta1.ClusterNetworkPolicy{{ObjectMeta: metav1.ObjectMeta{Name: "live-only"}}},
	}
	tests := []struct {
		name     string
		files    *model.Cluster
		wantPods []string
		check    func(t *testing.T, c *model.Cluster)
	}{
		{
			name:     "a file object replaces the live object of the same kind, namespace and name",
			files:    &model.Cluster{NetworkPolicies: []*networkingv1.NetworkPolicy{np("prod", "deny", networkingv1.PolicyTypeEgress)}},
			wantPods: []string{"dev/web-7d4b9c8f5-zzzzz", "prod/backup-28391040-abcde", "prod/db-0", "prod/debug", "prod/web-7d4b9c8f5-k8p4q", "prod/web-7d4b9c8f5-x2x9z"},
			check: func(t *testing.T, c *model.Cluster) {
				if len(c.NetworkPolicies) != 2 {
					t.Fatalf("%d NetworkPolicies, want 2", len(c.NetworkPolicies))
				}
				for _, p := range c.NetworkPolicies {
					if p.Name == "deny" && !slices.Equal(p.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}) {
						t.Errorf("deny kept the live spec %v", p.Spec.PolicyTypes)
					}
				}
				if len(c.ClusterNetworkPolicies) != 1 {
					t.Errorf("live-only ClusterNetworkPolicy lost")
				}
			},
		},
		{
			name:     "a proposed Deployment replaces the running pods of its ReplicaSets, in its namespace only",
			files:    &model.Cluster{Pods: []*corev1.Pod{pod("prod", "web", "Deployment", "web")}},
			wantPods: []string{"dev/web-7d4b9c8f5-zzzzz", "prod/backup-28391040-abcde", "prod/db-0", "prod/debug", "prod/web"},
		},
		{
			name:     "a proposed StatefulSet replaces its pods",
			files:    &model.Cluster{Pods: []*corev1.Pod{pod("prod", "db", "StatefulSet", "db")}},
			wantPods: []string{"dev/web-7d4b9c8f5-zzzzz", "prod/backup-28391040-abcde", "prod/db", "prod/debug", "prod/web-7d4b9c8f5-k8p4q", "prod/web-7d4b9c8f5-x2x9z"},
		},
		{
			name:     "a proposed CronJob replaces the pods of its Jobs",
			files:    &model.Cluster{Pods: []*corev1.Pod{pod("prod", "backup", "CronJob", "backup")}},
			wantPods: []string{"dev/web-7d4b9c8f5-zzzzz", "prod/backup", "prod/db-0", "prod/debug", "prod/web-7d4b9c8f5-k8p4q", "prod/web-7d4b9c8f5-x2x9z"},
		},
		{
			name:     "a pod exported from a cluster replaces only the pod of its name",
			files:    &model.Cluster{Pods: []*corev1.Pod{pod("prod", "web-7d4b9c8f5-x2x9z", "ReplicaSet", "web-7d4b9c8f5")}},
			wantPods: []string{"dev/web-7d4b9c8f5-zzzzz", "prod/backup-28391040-abcde", "prod/db-0", "prod/debug", "prod/web-7d4b9c8f5-k8p4q", "prod/web-7d4b9c8f5-x2x9z"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(live.Pods)
			c := Overlay(live, tc.files)
			if got := podNames(c); !slices.Equal(got, tc.wantPods) {
				t.Errorf("pods %v\nwant %v", got, tc.wantPods)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
			if len(live.Pods) != before {
				t.Errorf("the live cluster was modified")
			}
		})
	}
}

func TestLiveWorkloadNames(t *testing.T) {
	tests := []struct {
		name                 string
		ownerKind, ownerName string
		kind, workload       string
	}{
		{"a ReplicaSet with a pod-template-hash belongs to its Deployment", "ReplicaSet", "web-7d4b9c8f5", "Deployment", "web"},
		{"a ReplicaSet without one stands alone", "ReplicaSet", "web-frontend", "ReplicaSet", "web-frontend"},
		{"a Job with a schedule suffix belongs to its CronJob", "Job", "backup-28391040", "CronJob", "backup"},
		{"a Job without one stands alone", "Job", "migrate", "Job", "migrate"},
		{"a DaemonSet is itself", "DaemonSet", "node-exporter", "DaemonSet", "node-exporter"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, n := liveWorkload(pod("ns", "p", tc.ownerKind, tc.ownerName))
			if k != tc.kind || n != tc.workload {
				t.Errorf("got %s/%s, want %s/%s", k, n, tc.kind, tc.workload)
			}
		})
	}
}

func TestServedAdminKindsPreferV1beta1(t *testing.T) {
	res := func(gv string, names ...string) *metav1.APIResourceList {
		l := &metav1.APIResourceList{GroupVersion: gv}
		for _, n := range names {
			l.APIResources = append(l.APIResources, metav1.APIResource{Name: n})
		}
		return l
	}
	tests := []struct {
		name   string
		served []*metav1.APIResourceList
		want   []string
	}{
		{"nothing served", nil, nil},
		{"v1beta1 is preferred over v1alpha2", []*metav1.APIResourceList{res(Group+"/v1alpha2", cnpResource), res(Group+"/v1beta1", cnpResource)}, []string{"ClusterNetworkPolicy/v1beta1"}},
		{"v1alpha2 when v1beta1 is not served", []*metav1.APIResourceList{res(Group+"/v1alpha2", cnpResource)}, []string{"ClusterNetworkPolicy/v1alpha2"}},
		{"the v1alpha1 admin kinds", []*metav1.APIResourceList{res(Group+"/v1alpha1", anpResource, banpResource)}, []string{"AdminNetworkPolicy/v1alpha1", "BaselineAdminNetworkPolicy/v1alpha1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &fake.FakeDiscovery{Fake: &kubetesting.Fake{Resources: tc.served}}
			kinds, err := servedAdminKinds(d)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, k := range kinds {
				got = append(got, k.kind+"/"+k.version)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
