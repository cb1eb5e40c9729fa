package e2emodel

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/netwarden/netwarden/pkg/validation"
)

func TestCatalogue(t *testing.T) {
	cases := Cases()
	if len(cases) < 40 {
		t.Errorf("the catalogue has %d cases, want at least 40", len(cases))
	}
	names := map[string]bool{}
	for _, c := range cases {
		if names[c.Name] {
			t.Errorf("duplicate case name %q", c.Name)
		}
		names[c.Name] = true
		if len(c.Probes) == 0 {
			t.Errorf("%s: no probes", c.Name)
		}
		n := len(c.NetworkPolicies) + len(c.AdminNetworkPolicies) + len(c.BaselineAdminNetworkPolicies) + len(c.ClusterNetworkPolicies)
		if docs := strings.Count(c.Manifests, "\nkind: "); n != docs {
			t.Errorf("%s: decoded %d policies from %d documents", c.Name, n, docs)
		}
		for _, p := range c.Probes {
			for i := range PodCount {
				if !p.Want[i][i] {
					t.Errorf("%s %s: the table denies %s to itself", c.Name, p, PodKeys()[i])
				}
			}
		}
	}
}

// TestCasesAreValid holds the catalogue to the API's validation: a case the API server would
// refuse pins nothing.
func TestCasesAreValid(t *testing.T) {
	for _, c := range Cases() {
		var errs field.ErrorList
		for _, o := range c.NetworkPolicies {
			errs = append(errs, validation.NetworkPolicy(o)...)
		}
		for _, o := range c.AdminNetworkPolicies {
			errs = append(errs, validation.AdminNetworkPolicy(o)...)
		}
		for _, o := range c.BaselineAdminNetworkPolicies {
			errs = append(errs, validation.BaselineAdminNetworkPolicy(o)...)
		}
		for _, o := range c.ClusterNetworkPolicies {
			errs = append(errs, validation.ClusterNetworkPolicy(o)...)
		}
		if len(errs) > 0 {
			t.Errorf("%s: %v", c.Name, errs.ToAggregate())
		}
	}
}

func TestModel(t *testing.T) {
	for _, dual := range []bool{false, true} {
		c := build(dual)
		if len(c.Pods) != PodCount || len(c.Namespaces) != 3 || len(c.Nodes) != 1 {
			t.Fatalf("dual=%v: %d pods, %d namespaces, %d nodes", dual, len(c.Pods), len(c.Namespaces), len(c.Nodes))
		}
		for i, p := range c.Pods {
			if key := p.Namespace + "/" + p.Name; key != PodKeys()[i] {
				t.Errorf("pod %d is %s, want %s", i, key, PodKeys()[i])
			}
			if errs := validation.Pod(p); len(errs) > 0 {
				t.Errorf("%s: %v", p.Name, errs.ToAggregate())
			}
			want := 1
			if dual {
				want = 2
			}
			if len(p.Status.PodIPs) != want || p.Status.PodIP != PodIP(i, 4).String() {
				t.Errorf("%s: addresses %v", p.Name, p.Status.PodIPs)
			}
			if len(p.Spec.Containers) != 6 || p.Spec.Containers[1].Ports[0].Name != "serve-80-udp" {
				t.Errorf("%s: containers %+v", p.Name, p.Spec.Containers)
			}
		}
		for _, ns := range c.Namespaces {
			if ns.Labels["ns"] != ns.Name || ns.Labels["kubernetes.io/metadata.name"] != ns.Name {
				t.Errorf("namespace %s labels %v", ns.Name, ns.Labels)
			}
		}
	}
	if got := PodIP(PodIndex("y/b"), 4).String(); got != "10.0.2.11" {
		t.Errorf("y/b IPv4 %s", got)
	}
	if got := PodIP(PodIndex("z/c"), 6).String(); got != "fd00:0:0:3::c" {
		t.Errorf("z/c IPv6 %s", got)
	}
}

func TestTablePatterns(t *testing.T) {
	for _, tc := range []struct {
		name    string
		table   Table
		allowed []string // every allowed pair "from to"; all others denied
		count   int      // number of allowed pairs
	}{
		{"Denied keeps the diagonal", Denied(), []string{"x/a x/a", "z/c z/c"}, 9},
		{"Deny never touches the diagonal", Allowed().Deny("* -> *"), nil, 9},
		{"ns wildcard", Denied().Allow("x/* -> y/a"), []string{"x/b y/a"}, 12},
		{"pod lists", Denied().Allow("y,z/b,c -> x/a"), []string{"y/b x/a", "z/c x/a"}, 13},
		{"later steps win", Allowed().Deny("* -> x/a").Allow("x/b -> x/a"), []string{"x/b x/a", "y/a y/b"}, 81 - 7},
	} {
		n := 0
		for i := range PodCount {
			for j := range PodCount {
				if tc.table[i][j] {
					n++
				}
			}
		}
		if n != tc.count {
			t.Errorf("%s: %d allowed pairs, want %d\n%s", tc.name, n, tc.count, tc.table)
		}
		for _, pair := range tc.allowed {
			f := strings.Fields(pair)
			if !tc.table.Get(f[0], f[1]) {
				t.Errorf("%s: %s denied", tc.name, pair)
			}
		}
	}
}

func TestTableStringRoundTrip(t *testing.T) {
	want := Allowed().Deny("* -> x/a").Allow("y/* -> x/a")
	got, err := ParseTable(want.String())
	if err != nil {
		t.Fatal(err)
	}
	if d := want.Diff(got); len(d) > 0 {
		t.Fatalf("round trip changed %v\n%s", d, want)
	}
	if d := want.Diff(Allowed()); len(d) != 5 || d[0] != "x/b -> x/a: want denied, got allowed" {
		t.Errorf("diff = %q", d)
	}
	if _, err := ParseTable("x/a . ."); err == nil {
		t.Error("a short table parsed")
	}
}

func TestBadPatternPanics(t *testing.T) {
	for _, p := range []string{"x/a y/b", "q/a -> x/a", "x -> x/a"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("pattern %q did not panic", p)
				}
			}()
			Allowed().Deny(p)
		}()
	}
}
