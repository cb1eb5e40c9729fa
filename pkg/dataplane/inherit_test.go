package dataplane

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/policy"
)

// TestInheritedNamesDecideTheSame: a program whose sets took over the names of another
// program's (even an unrelated one) still agrees with its engine and counts in the same
// accounts, and names stay unique.
func TestInheritedNamesDecideTheSame(t *testing.T) {
	compile := func(seed int) (*policy.Engine, *Program) {
		return compileManifests(t, fmt.Sprintf("random-%d.yaml", seed), randomCluster(rand.New(rand.NewPCG(uint64(seed), 7))))
	}
	renamed := 0
	for seed := range min(*randomCases, 100) {
		_, prev := compile(seed)
		e, p := compile(seed + 1)
		before := map[string]bool{}
		for _, s := range p.Sets {
			before[s.Name] = true
		}
		p.inherit(prev, true) // every set that can takes over a name
		seen := map[string]bool{}
		for _, s := range p.Sets {
			if seen[s.Name] {
				t.Fatalf("seed %d: two sets named %s", seed, s.Name)
			}
			seen[s.Name] = true
			if !before[s.Name] {
				renamed++
			}
		}
		name := fmt.Sprintf("seed %d after seed %d", seed+1, seed)
		checkAgainstEngine(t, name, e, p, localPods(e, "node-a"))
		checkAccounts(t, name, e, p, localPods(e, "node-a"))
		if t.Failed() {
			t.Fatalf("%s disagrees; the program:\n%s", name, p)
		}
	}
	if renamed == 0 {
		t.Error("no set took over a name: the test checks nothing")
	}
	t.Logf("%d sets took over names", renamed)
}

// TestInheritWritesOnlyWhatAPolicyAdds: a policy joining those that select the db pods
// changes their union; the union keeps its name, and the update writes the new
// policy's peers, not every pod of the cluster again.
func TestInheritWritesOnlyWhatAPolicyAdds(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Namespace\nmetadata: {name: prod}\n")
	for i := range 400 {
		app := "web"
		if i < 2 {
			app = "db"
		}
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p%d, namespace: prod, labels: {app: %s}}\n"+
			"spec: {nodeName: node-a, containers: [{name: c, image: x}]}\nstatus: {podIP: 10.1.%d.%d}\n", i, app, i/250, i%250+1)
	}
	policyYAML := func(name, from string, port int) string {
		return fmt.Sprintf("---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: %s, namespace: prod}\n"+
			"spec: {podSelector: {matchLabels: {app: db}}, ingress: [{from: [{podSelector: {%s}}], ports: [{port: %d}]}]}\n", name, from, port)
	}
	base := b.String() + policyYAML("from-all", "", 80)
	compile := func(manifests string) *Program {
		_, p := compileManifests(t, "cluster.yaml", manifests)
		return p
	}
	old := compile(base)
	grown := base + policyYAML("from-db", "matchLabels: {app: db}", 5432)
	written := func(inherit bool) int {
		p := compile(grown)
		if inherit {
			p.Inherit(old)
		}
		d, ok := Diff(old, p)
		if !ok {
			t.Fatal("Diff refused")
		}
		return d.Elements(p)
	}
	fresh, inherited := written(false), written(true)
	t.Logf("elements written: %d with fresh names, %d with inherited ones", fresh, inherited)
	if fresh < 400 || inherited > 20 {
		t.Errorf("elements written: %d with fresh names (want the whole union, 400+), %d inherited (want the new policy's few)", fresh, inherited)
	}
}

// compileManifests compiles node-a's program of a cluster written as manifests.
func compileManifests(t *testing.T, name, manifests string) (*policy.Engine, *Program) {
	t.Helper()
	c, err := loader.LoadBytes(name, []byte(manifests), loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := policy.Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(e, localPods(e, "node-a"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e, p
}
