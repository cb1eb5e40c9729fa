package kubetest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// NetworkPolicyAPIModule is the Go module whose CRD manifests
// NetworkPolicyAPICRDDir finds; its version is the one in go.mod.
const NetworkPolicyAPIModule = "sigs.k8s.io/network-policy-api"

// NetworkPolicyAPICRDDir returns the directory of CRD manifests for channel
// ("standard" or "experimental") inside the sigs.k8s.io/network-policy-api
// module, as resolved by this module's go.mod (`go list -m`). At v0.3.0 it
// holds only the ClusterNetworkPolicy CRD (versions v1alpha2 and v1beta1,
// v1beta1 stored); AdminNetworkPolicy and BaselineAdminNetworkPolicy have Go
// types (apis/v1alpha1) but no CRD manifests in that module.
func NetworkPolicyAPICRDDir(t testing.TB, channel string) string {
	t.Helper()
	modDir := goListModDir(t)
	if modDir == "" {
		// Required in go.mod but not in the module cache yet.
		dl := exec.Command("go", "mod", "download", NetworkPolicyAPIModule)
		if out, err := dl.CombinedOutput(); err != nil {
			t.Fatalf("kubetest: go mod download %s: %v: %s", NetworkPolicyAPIModule, err, out)
		}
		modDir = goListModDir(t)
	}
	dir := filepath.Join(modDir, "config", "crd", channel)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("kubetest: no CRD directory %s in %s", channel, modDir)
	}
	return dir
}

func goListModDir(t testing.TB) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", NetworkPolicyAPIModule)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubetest: go list -m %s: %v: %s", NetworkPolicyAPIModule, err, stderr.Bytes())
	}
	return strings.TrimSpace(string(out))
}

// InstallCRDs creates (or updates) the CustomResourceDefinitions found in
// paths, which may be YAML files (several documents each) or directories of
// them; documents of other kinds are ignored. With no paths it installs the
// standard-channel network-policy-api CRDs (NetworkPolicyAPICRDDir). It
// waits until each CRD is Established and its resources are in discovery,
// and returns them. The CRDs are left in place (they die with the server).
func InstallCRDs(t testing.TB, cfg *rest.Config, paths ...string) []*apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	if len(paths) == 0 {
		paths = []string{NetworkPolicyAPICRDDir(t, "standard")}
	}
	crds, err := readCRDs(paths)
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	if len(crds) == 0 {
		t.Fatalf("kubetest: no CustomResourceDefinition in %v", paths)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	installed, err := ApplyCRDs(ctx, cfg, crds)
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	return installed
}

// ApplyCRDs is InstallCRDs without testing.TB, for already decoded CRDs.
func ApplyCRDs(ctx context.Context, cfg *rest.Config, crds []*apiextensionsv1.CustomResourceDefinition) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	cs, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	api := cs.ApiextensionsV1().CustomResourceDefinitions()
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, crd := range crds {
		got, err := api.Create(ctx, crd, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			var cur *apiextensionsv1.CustomResourceDefinition
			if cur, err = api.Get(ctx, crd.Name, metav1.GetOptions{}); err == nil {
				upd := crd.DeepCopy()
				upd.ResourceVersion = cur.ResourceVersion
				got, err = api.Update(ctx, upd, metav1.UpdateOptions{})
			}
		}
		if err != nil {
			return nil, fmt.Errorf("applying CRD %s: %w", crd.Name, err)
		}
		out = append(out, got)
	}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	for i, crd := range out {
		var last *apiextensionsv1.CustomResourceDefinition
		err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			cur, err := api.Get(ctx, crd.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			last = cur
			if !crdCondition(cur, apiextensionsv1.Established) || !crdCondition(cur, apiextensionsv1.NamesAccepted) {
				return false, nil
			}
			return crdServed(disco, cur), nil
		})
		if err != nil {
			var conds []string
			if last != nil {
				for _, c := range last.Status.Conditions {
					conds = append(conds, fmt.Sprintf("%s=%s (%s)", c.Type, c.Status, c.Message))
				}
			}
			return nil, fmt.Errorf("CRD %s not established: %w; conditions: %s", crd.Name, err, strings.Join(conds, "; "))
		}
		out[i] = last
	}
	return out, nil
}

func crdCondition(crd *apiextensionsv1.CustomResourceDefinition, typ apiextensionsv1.CustomResourceDefinitionConditionType) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == typ {
			return c.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}

// crdServed reports whether discovery lists the CRD's plural for every
// served version, so a client that follows discovery can use it at once.
func crdServed(disco discovery.DiscoveryInterface, crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, v := range crd.Spec.Versions {
		if !v.Served {
			continue
		}
		list, err := disco.ServerResourcesForGroupVersion(crd.Spec.Group + "/" + v.Name)
		if err != nil {
			return false
		}
		if !slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool {
			return r.Name == crd.Spec.Names.Plural
		}) {
			return false
		}
	}
	return true
}

// readCRDs decodes every CustomResourceDefinition document in paths.
func readCRDs(paths []string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if tm.Kind != "CustomResourceDefinition" {
				continue
			}
			if tm.APIVersion != "apiextensions.k8s.io/v1" {
				return nil, fmt.Errorf("%s: CustomResourceDefinition of %s, want apiextensions.k8s.io/v1", f, tm.APIVersion)
			}
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := yaml.UnmarshalStrict(doc, crd); err != nil {
				return nil, fmt.Errorf("%s: decoding CRD: %w", f, err)
			}
			crds = append(crds, crd)
		}
	}
	return crds, nil
}
