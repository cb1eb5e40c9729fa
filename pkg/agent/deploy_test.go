package agent

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/netwarden/netwarden/internal/kubetest"
)

const deployDir = "../../deploy"

// kustomization is the part of a kustomization.yaml this test applies by hand (there is
// no kustomize binary here): resources (files or directories of their own), the
// namespace they go to, image overrides, and patches (only read, not applied).
type kustomization struct {
	Namespace string   `json:"namespace"`
	Resources []string `json:"resources"`
	Images    []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images"`
	Patches []struct {
		Target struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"target"`
		Patch string `json:"patch"`
	} `json:"patches"`
}

func readKustomization(t *testing.T, dir string) kustomization {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.Unmarshal(raw, &k); err != nil {
		t.Fatalf("%s/kustomization.yaml: %v", dir, err)
	}
	return k
}

// kustomizeBuild reads dir as kustomize would build it for the transformers above.
func kustomizeBuild(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	k := readKustomization(t, dir)
	var out []*unstructured.Unstructured
	for _, res := range k.Resources {
		p := filepath.Join(dir, res)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			out = append(out, kustomizeBuild(t, p)...)
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range strings.Split(string(data), "\n---\n") {
			js, err := yaml.YAMLToJSON([]byte(doc))
			if err != nil {
				t.Fatalf("%s document %d: %v", p, i, err)
			}
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(js); err != nil {
				t.Fatalf("%s document %d: %v", p, i, err)
			}
			out = append(out, u)
		}
	}
	for _, u := range out {
		if u.GetNamespace() != "" && k.Namespace != "" {
			u.SetNamespace(k.Namespace)
		}
		if u.GetKind() == "DaemonSet" {
			cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
			for _, c := range cs {
				m := c.(map[string]any)
				for _, im := range k.Images {
					if m["image"] == im.Name {
						m["image"] = im.NewName + ":" + im.NewTag
					}
				}
			}
			_ = unstructured.SetNestedSlice(u.Object, cs, "spec", "template", "spec", "containers")
		}
	}
	return out
}

// TestUninstallVariantRunsUninstall: deploy/uninstall is deploy/ with the agent's
// arguments replaced by --uninstall --keep-running.
func TestUninstallVariantRunsUninstall(t *testing.T) {
	k := readKustomization(t, filepath.Join(deployDir, "uninstall"))
	if !slices.Equal(k.Resources, []string{"../agent"}) || len(k.Patches) != 1 {
		t.Fatalf("deploy/uninstall: resources %v, %d patches; want ../agent and one patch", k.Resources, len(k.Patches))
	}
	p := k.Patches[0]
	var ops []struct {
		Op    string   `json:"op"`
		Path  string   `json:"path"`
		Value []string `json:"value"`
	}
	if err := yaml.Unmarshal([]byte(p.Patch), &ops); err != nil {
		t.Fatal(err)
	}
	if p.Target.Kind != "DaemonSet" || p.Target.Name != "netwarden-agent" || len(ops) != 1 ||
		ops[0].Path != "/spec/template/spec/containers/0/args" ||
		!slices.Contains(ops[0].Value, "--uninstall") || !slices.Contains(ops[0].Value, "--keep-running") {
		t.Errorf("deploy/uninstall patch %+v %+v; want the DaemonSet's args replaced by agent --uninstall --keep-running", p.Target, ops)
	}
	for _, u := range kustomizeBuild(t, filepath.Join(deployDir, "agent")) {
		if u.GetKind() == "DaemonSet" && u.GetName() != p.Target.Name {
			t.Errorf("the patch targets %s but the DaemonSet is %s", p.Target.Name, u.GetName())
		}
	}
}

// TestDeployManifests applies deploy/ to a real API server (its validation and admission
// are the judges), checks that a pod of the DaemonSet would be admitted, and runs an agent
// with the service account's permissions only: what the ClusterRole grants is enough to
// watch every kind, and nothing is granted beyond reading.
func TestDeployManifests(t *testing.T) {
	env := kubetest.Start(t) // private: cluster-scoped RBAC objects and CRDs
	ctx := ctxFor(t)
	kubetest.InstallCRDs(t, env.Config)
	kubetest.InstallCRDs(t, env.Config, "testdata/anp-banp-crds.yaml")
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(env.Client.Discovery()))

	var ds *unstructured.Unstructured
	kinds := map[string]bool{}
	for _, u := range kustomizeBuild(t, deployDir) {
		kinds[u.GetKind()] = true
		gvk := u.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("%s: %v", gvk, err)
		}
		if _, err := env.Dynamic.Resource(m.Resource).Namespace(u.GetNamespace()).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
		}
		if u.GetKind() == "DaemonSet" {
			ds = u
		}
	}
	for _, k := range []string{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"} {
		if !kinds[k] {
			t.Errorf("deploy/ has no %s", k)
		}
	}
	if ds == nil {
		t.Fatal("no DaemonSet")
	}

	// A pod of the DaemonSet, as its controller would make it, is admitted (pod security,
	// priority class, probes, capabilities).
	var tmpl corev1.PodTemplateSpec
	raw, _, _ := unstructured.NestedMap(ds.Object, "spec", "template")
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &tmpl); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec}
	pod.Name = "netwarden-agent-test"
	pod.Spec.NodeName = "some-node"
	if _, err := env.Client.CoreV1().Pods(ds.GetNamespace()).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatalf("a pod of the DaemonSet is refused: %v", err)
	}
	c := tmpl.Spec.Containers[0]
	if !tmpl.Spec.HostNetwork || c.SecurityContext == nil || c.SecurityContext.Capabilities == nil ||
		!slices.Equal(c.SecurityContext.Capabilities.Add, []corev1.Capability{"NET_ADMIN"}) ||
		!slices.Equal(c.SecurityContext.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
		(c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged) {
		t.Errorf("the agent must run in the host network with NET_ADMIN only")
	}
	if len(tmpl.Spec.Tolerations) != 1 || tmpl.Spec.Tolerations[0].Operator != corev1.TolerationOpExists || tmpl.Spec.Tolerations[0].Key != "" {
		t.Errorf("tolerations %v; want one that tolerates every taint", tmpl.Spec.Tolerations)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("probes must use /readyz and /healthz")
	}
	if len(c.Env) == 0 || c.Env[0].Name != "NODE_NAME" || c.Env[0].ValueFrom == nil || c.Env[0].ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
		t.Errorf("NODE_NAME must come from spec.nodeName")
	}

	// The service account's permissions, and only them.
	sa := rest.CopyConfig(env.Config)
	sa.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + ds.GetNamespace() + ":netwarden-agent",
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + ds.GetNamespace(), "system:authenticated"},
	}
	ra := startAgent(t, sa, Config{NodeName: "some-node", DiscoveryInterval: 100 * time.Millisecond}, &fakeDataplane{})
	ra.wait(t, "first sync as the service account", func(Applied) bool { return true })
	if got := ra.Cache().Watched(); len(got) != 3 {
		t.Errorf("as the service account, watching %v; want all three network-policy-api kinds", got)
	}
	saClient, err := kubernetes.NewForConfig(sa)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := saClient.CoreV1().Secrets("").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing secrets as the agent: %v; want forbidden", err)
	}
	_, err = saClient.NetworkingV1().NetworkPolicies("default").Create(ctx, allowFromWeb("x", 1), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if !apierrors.IsForbidden(err) {
		t.Errorf("creating a NetworkPolicy as the agent: %v; want forbidden", err)
	}
}
