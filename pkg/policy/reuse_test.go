package policy_test

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// TestCompileReusing: an engine compiled reusing a previous one is the engine Compile
// builds, whatever changed; the pod work is shared only when the pods, namespaces and
// nodes are the previous engine's very objects.
func TestCompileReusing(t *testing.T) {
	before := np("x", "allow-y", `
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}}], ports: [{port: 80}]}]`)
	after := before + np("x", "deny-b", `
  podSelector: {matchLabels: {pod: b}}
  policyTypes: [Ingress, Egress]`) + anp("pods-a", `
  priority: 5
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: a}}}}
  ingress: [{name: deny-z, action: Deny, from: [{namespaces: {matchLabels: {ns: "z"}}}]}]`)

	for _, tc := range []struct {
		name string
		// next builds the cluster compiled second from the first one (whose objects it
		// must not modify) and the policies of after.
		next   func(prev, policies *model.Cluster) *model.Cluster
		shared bool
	}{
		{"policies added over the same objects share the pod work", func(prev, pols *model.Cluster) *model.Cluster {
			c := *prev
			c.NetworkPolicies, c.AdminNetworkPolicies = pols.NetworkPolicies, pols.AdminNetworkPolicies
			return &c
		}, true},
		{"policies removed over the same objects share the pod work", func(prev, _ *model.Cluster) *model.Cluster {
			c := *prev
			c.NetworkPolicies = nil
			return &c
		}, true},
		{"a pod replaced by a changed copy is compiled anew", func(prev, pols *model.Cluster) *model.Cluster {
			c := *prev
			c.NetworkPolicies = pols.NetworkPolicies
			c.Pods = append([]*corev1.Pod(nil), prev.Pods...)
			p := *c.Pods[0]
			p.Labels = map[string]string{"pod": "b"}
			c.Pods[0] = &p
			return &c
		}, false},
		{"the same objects loaded again are compiled anew", func(_, pols *model.Cluster) *model.Cluster {
			return pols
		}, false},
		{"a namespace more is compiled anew", func(prev, pols *model.Cluster) *model.Cluster {
			c := *prev
			c.NetworkPolicies = pols.NetworkPolicies
			ns := &corev1.Namespace{}
			ns.Name, ns.Labels = "zz", map[string]string{model.NamespaceNameLabel: "zz"}
			c.Namespaces = append(append([]*corev1.Namespace(nil), prev.Namespaces...), ns)
			return &c
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := loadModel(t, true, before)
			prev := compile(t, first)
			c := tc.next(first, loadModel(t, true, after))
			got, err := policy.CompileReusing(prev, c)
			if err != nil {
				t.Fatal(err)
			}
			want := compile(t, c)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("CompileReusing differs from Compile")
			}
			if shared := &got.Pods[0] == &prev.Pods[0]; shared != tc.shared {
				t.Errorf("pod work shared with the previous engine: %v, want %v", shared, tc.shared)
			}
			// The previous engine is untouched: it still decides as a fresh compile of its
			// own cluster does.
			if again := compile(t, prev.Cluster); !reflect.DeepEqual(prev, again) {
				t.Errorf("the previous engine changed")
			}
		})
	}
}
