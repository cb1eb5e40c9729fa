package kube_test

import (
	"bytes"
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netwarden/netwarden/internal/kubetest"
	"github.com/netwarden/netwarden/pkg/analysis"
	"github.com/netwarden/netwarden/pkg/gen"
	"github.com/netwarden/netwarden/pkg/kube"
	"github.com/netwarden/netwarden/pkg/kube/kubeapply"
	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func matrixOf(t *testing.T, c *model.Cluster) *analysis.Matrix {
	t.Helper()
	e, err := policy.Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	return analysis.ComputeMatrix(e, analysis.MatrixOptions{})
}

// A generated cluster with every policy kind, put into a real API server, reads back to
// the same matrix as its manifest files.
func TestLiveClusterReadsLikeItsManifests(t *testing.T) {
	env := kubetest.Start(t) // private: the cluster holds only this test's objects
	ctx := ctxFor(t)
	adminCRDs, err := kubeapply.WriteAdminCRDs(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	kubetest.InstallCRDs(t, env.Config, append([]string{kubetest.NetworkPolicyAPICRDDir(t, "standard")}, adminCRDs...)...)

	g, err := gen.Generate(gen.Options{Pods: 150, Policies: 60, Namespaces: 6, Admin: true, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := g.WriteStream(&buf); err != nil {
		t.Fatal(err)
	}
	files, err := loader.LoadBytes("gen.yaml", buf.Bytes(), loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A pod still waiting for its address is read (and in the files too).
	pending := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: "pending", Labels: map[string]string{"app": "web", "tier": "frontend"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: kubetest.PauseImage, Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}}}
	pending.Status.Phase = corev1.PodPending
	files.Pods = append(files.Pods, pending)
	files.Normalize()
	if err := kubeapply.Apply(ctx, env.Config, files); err != nil {
		t.Fatal(err)
	}
	// Finished pods hold no address any more and are left out.
	for _, phase := range []corev1.PodPhase{corev1.PodSucceeded, corev1.PodFailed} {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: "job-" + strings.ToLower(string(phase))},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: kubetest.PauseImage}}}}
		p, err := env.Client.CoreV1().Pods("payments").Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Status.Phase = phase
		if _, err := env.Client.CoreV1().Pods("payments").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	snap, err := kube.Load(ctx, env.Config)
	if err != nil {
		t.Fatal(err)
	}
	live := snap.Cluster
	if snap.Skipped != 2 {
		t.Errorf("%d finished pods left out, want 2", snap.Skipped)
	}
	wantServed := []string{"AdminNetworkPolicy policy.networking.k8s.io/v1alpha1", "BaselineAdminNetworkPolicy policy.networking.k8s.io/v1alpha1", "ClusterNetworkPolicy policy.networking.k8s.io/v1beta1"}
	if !slices.Equal(snap.Served, wantServed) {
		t.Errorf("served kinds %q, want %q", snap.Served, wantServed)
	}
	counts := func(c *model.Cluster) []int {
		return []int{len(c.Pods), len(c.NetworkPolicies), len(c.AdminNetworkPolicies), len(c.BaselineAdminNetworkPolicies), len(c.ClusterNetworkPolicies), len(c.Nodes)}
	}
	if got, want := counts(live), counts(files); !slices.Equal(got, want) {
		t.Errorf("live cluster has pods, NPs, ANPs, BANPs, CNPs, nodes = %v; files %v", got, want)
	}
	if len(files.AdminNetworkPolicies) == 0 || len(files.ClusterNetworkPolicies) == 0 {
		t.Fatal("the generated cluster has no admin policies to compare")
	}
	got, want := matrixOf(t, live), matrixOf(t, files)
	if !reflect.DeepEqual(got, want) {
		for i := range want.Results {
			if i >= len(got.Results) || got.Results[i] != want.Results[i] {
				t.Fatalf("live matrix differs from the files' at result %d: %+v vs %+v (pods %d vs %d)", i, got.Results[min(i, len(got.Results)-1)], want.Results[i], len(got.Pods), len(want.Pods))
			}
		}
		t.Fatalf("live matrix differs from the files': %d vs %d results", len(got.Results), len(want.Results))
	}
	allowed := 0
	for _, r := range got.Results {
		if r.Allowed {
			allowed++
		}
	}
	t.Logf("%d pods, %d results (%d allowed) equal from the API server and from files", len(got.Pods), len(got.Results), allowed)
	if allowed == 0 || allowed == len(got.Results) {
		t.Errorf("a matrix of all-%v says nothing", allowed > 0)
	}
}

// Without the admin CRDs, only the core kinds are read, and that is no error.
func TestLiveClusterWithoutAdminCRDs(t *testing.T) {
	env := kubetest.Start(t)
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	if _, err := kubetest.CreatePod(ctx, env.Client, ns, "web-0", "", map[string]string{"app": "web"}, "10.244.1.5"); err != nil {
		t.Fatal(err)
	}
	snap, err := kube.Load(ctx, env.Config)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Served) != 0 {
		t.Errorf("served %v without CRDs", snap.Served)
	}
	if len(snap.Cluster.Pods) != 1 || snap.Cluster.Pods[0].Status.PodIP != "10.244.1.5" {
		t.Errorf("pods read: %v", snap.Cluster.Pods)
	}
}
