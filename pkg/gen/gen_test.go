package gen_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/netwarden/netwarden/pkg/gen"
	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

func generate(t *testing.T, o gen.Options) ([]byte, *model.Cluster) {
	t.Helper()
	c, err := gen.Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := c.WriteStream(&buf); err != nil {
		t.Fatal(err)
	}
	cl, err := loader.LoadBytes("gen.yaml", buf.Bytes(), loader.Options{})
	if err != nil {
		t.Fatalf("generated cluster does not load: %v", err)
	}
	return buf.Bytes(), cl
}

func TestGeneratedClustersLoadWithTheAskedCounts(t *testing.T) {
	tests := []struct {
		name string
		o    gen.Options
	}{
		{"an empty cluster is one namespace and two nodes", gen.Options{Namespaces: 1}},
		{"pods without policies", gen.Options{Pods: 30, Namespaces: 2}},
		{"fewer policies than namespaces stop after the default denies", gen.Options{Pods: 50, Policies: 3, Namespaces: 6}},
		{"system namespaces come with three or more", gen.Options{Pods: 200, Policies: 40, Namespaces: 5}},
		{"many policies per workload repeat partner variants", gen.Options{Pods: 60, Policies: 500, Namespaces: 3, Seed: 9}},
		{"admin tiers", gen.Options{Pods: 300, Policies: 50, Namespaces: 8, Admin: true, Seed: 3}},
		{"more namespaces than team names", gen.Options{Pods: 500, Policies: 100, Namespaces: 30}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, c := generate(t, tc.o)
			if len(c.Pods) != tc.o.Pods {
				t.Errorf("%d pods, want %d", len(c.Pods), tc.o.Pods)
			}
			if len(c.NetworkPolicies) != tc.o.Policies {
				t.Errorf("%d NetworkPolicies, want %d", len(c.NetworkPolicies), tc.o.Policies)
			}
			if len(c.Namespaces) != tc.o.Namespaces {
				t.Errorf("%d namespaces, want %d", len(c.Namespaces), tc.o.Namespaces)
			}
			admin := len(c.AdminNetworkPolicies) + len(c.BaselineAdminNetworkPolicies) + len(c.ClusterNetworkPolicies)
			if (admin > 0) != tc.o.Admin {
				t.Errorf("%d admin policies with Admin=%v", admin, tc.o.Admin)
			}
			if _, err := policy.Compile(c); err != nil {
				t.Fatalf("compile: %v", err)
			}
		})
	}
}

func TestSameSeedSameBytes(t *testing.T) {
	o := gen.Options{Pods: 400, Policies: 120, Namespaces: 7, Admin: true, Seed: 42}
	a, _ := generate(t, o)
	b, _ := generate(t, o)
	if !bytes.Equal(a, b) {
		t.Fatal("two runs with the same seed differ")
	}
	o.Seed = 43
	c, _ := generate(t, o)
	if bytes.Equal(a, c) {
		t.Fatal("another seed gave the same cluster")
	}
}

// The generated clusters exercise what analysis must get right at scale.
func TestGeneratedClustersHaveTheFeatures(t *testing.T) {
	_, c := generate(t, gen.Options{Pods: 2000, Policies: 400, Namespaces: 12, Admin: true, Seed: 5})
	has := map[string]bool{}
	for _, np := range c.NetworkPolicies {
		for _, r := range np.Spec.Ingress {
			for _, p := range r.From {
				if p.IPBlock != nil && len(p.IPBlock.Except) > 0 {
					has["ipBlock with except"] = true
				}
				if p.NamespaceSelector != nil && p.PodSelector != nil {
					has["namespace and pod selector peer"] = true
				}
			}
			for _, pt := range r.Ports {
				if pt.Port != nil && pt.Port.StrVal != "" {
					has["named port"] = true
				}
				if pt.EndPort != nil {
					has["endPort"] = true
				}
			}
		}
		if len(np.Spec.PolicyTypes) == 1 && np.Spec.PolicyTypes[0] == "Egress" {
			has["egress policy"] = true
		}
	}
	replicas := map[string]int{}
	for _, p := range c.Pods {
		if p.Spec.HostNetwork {
			has["hostNetwork pod"] = true
		}
		if _, name := model.Owner(p); name != "" {
			replicas[name]++
		}
		if p.Status.PodIP == "" {
			t.Errorf("pod %s/%s has no address", p.Namespace, p.Name)
		}
	}
	for _, n := range replicas {
		if n > 1 {
			has["replicated deployment"] = true
		}
	}
	for _, o := range c.AdminNetworkPolicies {
		for _, r := range o.Spec.Ingress {
			has["ANP "+string(r.Action)] = true
		}
		for _, r := range o.Spec.Egress {
			for _, p := range r.To {
				if p.Nodes != nil {
					has["ANP node peer"] = true
				}
				if len(p.Networks) > 0 {
					has["ANP network peer"] = true
				}
			}
		}
	}
	if len(c.BaselineAdminNetworkPolicies) > 0 {
		has["BANP"] = true
	}
	for _, o := range c.ClusterNetworkPolicies {
		has["CNP "+string(o.Spec.Tier)] = true
	}
	for _, want := range []string{"ipBlock with except", "namespace and pod selector peer", "named port", "endPort", "egress policy",
		"hostNetwork pod", "replicated deployment", "ANP Allow", "ANP Deny", "ANP Pass", "ANP node peer", "ANP network peer",
		"BANP", "CNP Admin", "CNP Baseline"} {
		if !has[want] {
			t.Errorf("no %s in the generated cluster", want)
		}
	}
}

func TestBadOptionsAreErrors(t *testing.T) {
	for _, o := range []gen.Options{{Pods: -1, Namespaces: 1}, {Policies: -1, Namespaces: 1}, {Namespaces: 0}} {
		if _, err := gen.Generate(o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

// JSON Lists and YAML documents are the same cluster.
func TestJSONAndYAMLAreTheSameCluster(t *testing.T) {
	c, err := gen.Generate(gen.Options{Pods: 300, Policies: 80, Namespaces: 6, Admin: true, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	load := func(format string) *model.Cluster {
		dir := t.TempDir()
		if err := c.WriteDirFormat(dir, format); err != nil {
			t.Fatal(err)
		}
		cl, err := loader.Load([]string{dir}, loader.Options{})
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		cl.Sources = nil
		return cl
	}
	y, j := load(gen.FormatYAML), load(gen.FormatJSON)
	if !reflect.DeepEqual(y, j) {
		t.Fatal("the JSON cluster differs from the YAML one")
	}
	if err := c.WriteDirFormat(t.TempDir(), "toml"); err == nil {
		t.Error("an unknown format is no error")
	}
}
