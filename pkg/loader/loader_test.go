package loader_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/netwarden/netwarden/internal/e2emodel"
	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// skipped records what Options.Skipped is told, as "Kind name at source".
type skipped []string

func (s *skipped) opts() loader.Options {
	return loader.Options{Skipped: func(src model.Source, apiVersion, kind, name string) {
		*s = append(*s, fmt.Sprintf("%s %s %s at %s", apiVersion, kind, name, src))
	}}
}

func keys[T interface {
	GetNamespace() string
	GetName() string
}](objs []T) []string {
	var out []string
	for _, o := range objs {
		k := o.GetName()
		if o.GetNamespace() != "" {
			k = o.GetNamespace() + "/" + k
		}
		out = append(out, k)
	}
	return out
}

func mustLoad(t *testing.T, paths []string, opts loader.Options) *model.Cluster {
	t.Helper()
	c, err := loader.Load(paths, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDirectoriesAreReadRecursively(t *testing.T) {
	var sk skipped
	c := mustLoad(t, []string{"testdata/tree"}, sk.opts())
	if got := keys(c.Namespaces); !slices.Equal(got, []string{"shop"}) {
		t.Errorf("namespaces %v", got)
	}
	if got := c.Namespaces[0].Labels; got["team"] != "retail" || got[model.NamespaceNameLabel] != "shop" {
		t.Errorf("namespace labels %v", got)
	}
	if got := keys(c.Pods); !slices.Equal(got, []string{"shop/web"}) {
		t.Errorf("pods %v", got)
	}
	if got := keys(c.NetworkPolicies); !slices.Equal(got, []string{"shop/web"}) {
		t.Errorf("policies %v (the JSON file two levels down)", got)
	}
	want := []string{"v1 Service web at testdata/tree/apps/pods.yml (document 1)"}
	if !slices.Equal(sk, want) {
		t.Errorf("skipped %q, want %q", sk, want)
	}
	for ref, want := range map[model.Ref]string{
		{Kind: model.KindNamespace, Name: "shop"}:                       "testdata/tree/namespaces.yaml (document 2)",
		{Kind: model.KindPod, Namespace: "shop", Name: "web"}:           "testdata/tree/apps/pods.yml (document 0)",
		{Kind: model.KindNetworkPolicy, Namespace: "shop", Name: "web"}: "testdata/tree/apps/deeper/policy.json (document 0)",
	} {
		if got := c.SourceOf(ref).String(); got != want {
			t.Errorf("%s comes from %s, want %s", ref, got, want)
		}
	}
	// The loaded pod decides like any other: its named port and its two addresses.
	e, err := policy.Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	if ips := e.Pods[0].IPs; len(ips) != 2 || ips[1].String() != "fd00::5" {
		t.Errorf("pod addresses %v", ips)
	}
	if np := e.Pods[0].NamedPorts; len(np) != 1 || np[0] != (policy.NamedPort{Name: "http", Proto: policy.ProtoTCP, Num: 8080}) {
		t.Errorf("named ports %+v", np)
	}
}

func TestListsAndImplicitNamespaces(t *testing.T) {
	var sk skipped
	c := mustLoad(t, []string{"testdata/list.yaml", "testdata/podlist.json"}, sk.opts())
	if got := keys(c.Pods); !slices.Equal(got, []string{"batch/p1", "batch/p2", "implicit/a"}) {
		t.Errorf("pods %v", got)
	}
	if got := keys(c.NetworkPolicies); !slices.Equal(got, []string{"default/deny"}) {
		t.Errorf("a policy without a namespace is in default: %v", got)
	}
	if got := keys(c.Namespaces); !slices.Equal(got, []string{"batch", "default", "implicit"}) {
		t.Errorf("implicit namespaces %v", got)
	}
	for _, ns := range c.Namespaces {
		if ns.Labels[model.NamespaceNameLabel] != ns.Name {
			t.Errorf("namespace %s lacks the automatic label: %v", ns.Name, ns.Labels)
		}
	}
	if want := []string{"v1 ConfigMap settings at testdata/list.yaml (document 0, item 1)"}; !slices.Equal(sk, want) {
		t.Errorf("skipped %q, want %q", sk, want)
	}
	if got := c.SourceOf(model.Ref{Kind: model.KindPod, Namespace: "batch", Name: "p2"}); got != (model.Source{File: "testdata/podlist.json", Doc: 0, Item: 1}) {
		t.Errorf("p2 source %+v", got)
	}
}

func TestStdin(t *testing.T) {
	in := strings.NewReader("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n")
	c := mustLoad(t, []string{"-"}, loader.Options{Stdin: in})
	if got := keys(c.Pods); !slices.Equal(got, []string{"default/p"}) {
		t.Errorf("pods %v", got)
	}
	if got := c.SourceOf(model.Ref{Kind: model.KindPod, Namespace: "default", Name: "p"}).String(); got != "<stdin> (document 0)" {
		t.Errorf("source %s", got)
	}
	if _, err := loader.Load([]string{"-"}, loader.Options{}); err == nil || !strings.Contains(err.Error(), "no standard input") {
		t.Errorf("- without stdin: %v", err)
	}
	if _, err := loader.Load([]string{"testdata/missing.yaml"}, loader.Options{}); err == nil || !strings.Contains(err.Error(), "testdata/missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

func TestWorkloadsBecomePods(t *testing.T) {
	c := mustLoad(t, []string{"testdata/workloads.yaml"}, loader.Options{})
	type want struct {
		owner  string
		labels string
		port   string
		host   bool
	}
	wants := map[string]want{
		"shop/web":       {"Deployment/web", "app=web,tier=front", "http 8080/TCP", false},
		"shop/db":        {"StatefulSet/db", "app=db", "pg 5432/TCP", false},
		"infra/agent":    {"DaemonSet/agent", "app=agent", "metrics 9100/TCP", true},
		"shop/cache":     {"ReplicaSet/cache", "app=cache", "redis 6379/TCP", false},
		"shop/migrate":   {"Job/migrate", "app=migrate", "", false},
		"default/report": {"CronJob/report", "app=report", "push 9091/UDP", false},
		"shop/legacy":    {"ReplicationController/legacy", "app=legacy", " 80/TCP", false},
	}
	if len(c.Pods) != len(wants) {
		t.Fatalf("%d pods, want %d: %v", len(c.Pods), len(wants), keys(c.Pods))
	}
	for _, p := range c.Pods {
		key := p.Namespace + "/" + p.Name
		w, ok := wants[key]
		if !ok {
			t.Errorf("unexpected pod %s", key)
			continue
		}
		kind, name := model.Owner(p)
		var ports []string
		for _, ct := range p.Spec.Containers {
			for _, cp := range ct.Ports {
				proto := cp.Protocol
				if proto == "" {
					proto = corev1.ProtocolTCP
				}
				ports = append(ports, fmt.Sprintf("%s %d/%s", cp.Name, cp.ContainerPort, proto))
			}
		}
		got := want{kind + "/" + name, labelString(p.Labels), strings.Join(ports, ","), p.Spec.HostNetwork}
		if got != w {
			t.Errorf("%s: got %+v, want %+v", key, got, w)
		}
	}
	if got := keys(c.Namespaces); !slices.Equal(got, []string{"default", "infra", "shop"}) {
		t.Errorf("namespaces %v", got)
	}
}

func labelString(l map[string]string) string {
	var kv []string
	for k, v := range l {
		kv = append(kv, k+"="+v)
	}
	slices.Sort(kv)
	return strings.Join(kv, ",")
}

func TestClusterNetworkPolicyV1alpha2ReadsLikeV1beta1(t *testing.T) {
	c := mustLoad(t, []string{"testdata/cnp-v1alpha2.yaml"}, loader.Options{})
	if len(c.ClusterNetworkPolicies) != 1 {
		t.Fatalf("%d CNPs", len(c.ClusterNetworkPolicies))
	}
	spec := c.ClusterNetworkPolicies[0].Spec
	if spec.Tier != "Admin" || spec.Priority != 3 || len(spec.Ingress) != 1 || spec.Ingress[0].Action != "Deny" {
		t.Errorf("spec %+v", spec)
	}
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	_, err := loader.Load([]string{"testdata/errors/duplicate.yaml", "testdata/errors/invalid-cidr.yaml", "testdata/tree"}, loader.Options{})
	var errs loader.Errors
	if !errors.As(err, &errs) || len(errs) != 4 {
		t.Fatalf("want 4 errors (a duplicate, a bad CIDR, then the tree's namespace and policy again), got %v", err)
	}
	if errs[1].Field != "spec.ingress[0].from[0].ipBlock.cidr" || errs[1].Object != "NetworkPolicy shop/web" || errs[1].Source.File != "testdata/errors/invalid-cidr.yaml" {
		t.Errorf("second error %+v", errs[1])
	}
}

func TestDuplicatesAcrossFilesNameBothPlaces(t *testing.T) {
	one := "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"
	_, err := loader.Load([]string{"testdata/tree/namespaces.yaml", "-"}, loader.Options{Stdin: strings.NewReader(one)})
	want := `<stdin> (document 0): Namespace shop: metadata.name: Duplicate value: "shop" is already defined in testdata/tree/namespaces.yaml (document 2)`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

func TestYAMLErrorsCountFileLines(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"after a leading separator and a comment document",
			"---\n# comment\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   bad: y\n",
			"f.yaml (document 1): invalid YAML: yaml: line 8: mapping values are not allowed in this context"},
		{"in a later document",
			"apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nkind: Pod\nmetadata:\n  name: x\n   bad: y\n",
			"f.yaml (document 1): invalid YAML: yaml: line 8: mapping values are not allowed in this context"},
		{"a JSON document with a syntax error",
			"{\"apiVersion\": \"v1\",\n \"kind\": \"Pod\",,\n}",
			"f.yaml (document 0): invalid YAML: yaml: line 1: did not find expected node content"},
		{"a scalar document",
			"just words\n",
			"f.yaml (document 0): not a Kubernetes object: json: cannot unmarshal string into Go value of type loader.header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loader.LoadBytes("f.yaml", []byte(tc.data), loader.Options{})
			if err == nil || err.Error() != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestE2ECasesLoad reads every e2e case as a user would, from its manifests, and checks the
// loaded cluster decides every probe exactly as the case's objects do.
func TestE2ECasesLoad(t *testing.T) {
	for _, c := range e2emodel.Cases() {
		y, err := c.YAML()
		if err != nil {
			t.Fatal(err)
		}
		loaded, err := loader.LoadBytes(c.Name+".yaml", y, loader.Options{})
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if loaded.PolicyCount() != c.Cluster().PolicyCount() || len(loaded.Pods) != e2emodel.PodCount {
			t.Fatalf("%s: loaded %d policies and %d pods", c.Name, loaded.PolicyCount(), len(loaded.Pods))
		}
		fromFile, err := policy.Compile(loaded)
		if err != nil {
			t.Fatal(err)
		}
		direct, err := policy.Compile(c.Cluster())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range c.Probes {
			port, err := policy.ParsePort(p.String())
			if err != nil {
				t.Fatal(err)
			}
			for a := range fromFile.Pods {
				for b := range fromFile.Pods {
					s1, d1 := fromFile.PodEndpoint(int32(a), c.Family), fromFile.PodEndpoint(int32(b), c.Family)
					s2, d2 := direct.PodEndpoint(int32(a), c.Family), direct.PodEndpoint(int32(b), c.Family)
					if fromFile.Decide(s1, d1, port) != direct.Decide(s2, d2, port) {
						t.Errorf("%s %s %s -> %s: loaded and direct differ", c.Name, p, fromFile.Pods[a].Key, fromFile.Pods[b].Key)
					}
				}
			}
		}
	}
}
