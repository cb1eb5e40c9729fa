package kubetest

import (
	"os"
	"path/filepath"
	"testing"
)

func TestNamespacePrefix(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"TestFoo", "testfoo-"},
		{"TestFoo/sub_case#01", "testfoo-sub-case-01-"},
		{"Test_Ünïcode//x", "test-n-code-x-"},
		{"0start", "t-0start-"},
		{"/", "t-"},
		{"TestAVeryLongNameThatGoesOnAndOnAndOnForMoreThanFiftyCharacters/andmore", "testaverylongnamethatgoesonandonandonformorethanfi-"},
	} {
		if got := namespacePrefix(tc.in); got != tc.want {
			t.Errorf("namespacePrefix(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if n := len(namespacePrefix(tc.in)) + 5; n > 63 {
			t.Errorf("namespacePrefix(%q) too long for a label with suffix: %d", tc.in, n)
		}
	}
}

func TestReadCRDs(t *testing.T) {
	dir := t.TempDir()
	multi := `apiVersion: v1
kind: ConfigMap
metadata:
  name: ignored
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object}
`
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(multi), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not yaml: ["), 0o600); err != nil {
		t.Fatal(err)
	}
	crds, err := readCRDs([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(crds) != 1 || crds[0].Name != "widgets.example.com" || crds[0].Spec.Versions[0].Name != "v1" {
		t.Fatalf("got %+v", crds)
	}

	old := `apiVersion: apiextensions.k8s.io/v1beta1
kind: CustomResourceDefinition
metadata:
  name: old.example.com
`
	f := filepath.Join(dir, "old.yaml")
	if err := os.WriteFile(f, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readCRDs([]string{f}); err == nil {
		t.Error("v1beta1 CRD accepted; want an error")
	}
}

func TestFindBinariesMissing(t *testing.T) {
	t.Setenv(EnvTestBin, t.TempDir())
	if _, err := FindBinaries(); err == nil {
		t.Fatal("no error for an empty dir")
	}
}
