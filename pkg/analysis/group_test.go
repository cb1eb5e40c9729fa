package analysis_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netwarden/netwarden/pkg/analysis"
	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// podSpec is a pod for grouping tables: "ns/name", labels, and an optional controller.
type podSpec struct {
	key        string
	labels     map[string]string
	ownerKind  string
	ownerName  string
	hostNet    bool
	notControl bool // the owner reference is not the controller
}

func makePod(s podSpec) *corev1.Pod {
	ns, name, _ := strings.Cut(s.key, "/")
	p := &corev1.Pod{}
	p.Namespace, p.Name, p.Labels = ns, name, s.labels
	p.Spec.HostNetwork = s.hostNet
	if s.ownerKind != "" {
		ctl := !s.notControl
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: s.ownerKind, Name: s.ownerName, Controller: &ctl}}
	}
	return p
}

func TestGroupingRules(t *testing.T) {
	hash := func(app, h string) map[string]string { return map[string]string{"app": app, "pod-template-hash": h} }
	app := func(a string) map[string]string { return map[string]string{"app": a} }
	cases := []struct {
		name string
		by   analysis.GroupBy
		pods []podSpec
		want map[string][]string // group name -> member keys
	}{
		{"a Deployment's pods, through their ReplicaSet, are one group named ns/Deployment/name", analysis.ByWorkloads,
			[]podSpec{{"shop/web-7c9f8-a", hash("web", "7c9f8"), "ReplicaSet", "web-7c9f8", false, false}, {"shop/web-7c9f8-b", hash("web", "7c9f8"), "ReplicaSet", "web-7c9f8", false, false}},
			map[string][]string{"shop/Deployment/web": {"shop/web-7c9f8-a", "shop/web-7c9f8-b"}}},
		{"two ReplicaSets of one Deployment (a rollout) are one group", analysis.ByWorkloads,
			[]podSpec{{"shop/api-1111-a", hash("api", "1111"), "ReplicaSet", "api-1111", false, false}, {"shop/api-2222-b", hash("api", "2222"), "ReplicaSet", "api-2222", false, false}},
			map[string][]string{"shop/Deployment/api": {"shop/api-1111-a", "shop/api-2222-b"}}},
		{"a ReplicaSet whose name does not end in its pods' template hash stays a ReplicaSet", analysis.ByWorkloads,
			[]podSpec{{"shop/rs-a", app("rs"), "ReplicaSet", "rs", false, false}, {"shop/rs-b", hash("rs", "9999"), "ReplicaSet", "rs", false, false}},
			map[string][]string{"shop/ReplicaSet/rs": {"shop/rs-a", "shop/rs-b"}}},
		{"other controllers group under their own kind", analysis.ByWorkloads,
			[]podSpec{{"shop/db-0", app("db"), "StatefulSet", "db", false, false}, {"shop/db-1", app("db"), "StatefulSet", "db", false, false}, {"kube-system/proxy-x", app("proxy"), "DaemonSet", "proxy", true, false}},
			map[string][]string{"shop/StatefulSet/db": {"shop/db-0", "shop/db-1"}, "kube-system/DaemonSet/proxy": {"kube-system/proxy-x"}}},
		{"an owner that is not the controller does not group", analysis.ByWorkloads,
			[]podSpec{{"shop/a", app("a"), "StatefulSet", "x", false, true}},
			map[string][]string{"shop/a": {"shop/a"}}},
		{"a bare pod alone keeps its key", analysis.ByWorkloads,
			[]podSpec{{"default/backend", app("backend"), "", "", false, false}, {"default/db", app("db"), "", "", false, false}},
			map[string][]string{"default/backend": {"default/backend"}, "default/db": {"default/db"}}},
		{"bare pods with the same namespace and labels are one group named by their labels", analysis.ByWorkloads,
			[]podSpec{{"batch/w1", map[string]string{"app": "w", "tier": "2"}, "", "", false, false}, {"batch/w2", map[string]string{"tier": "2", "app": "w"}, "", "", false, false}},
			map[string][]string{"batch/{app=w,tier=2}": {"batch/w1", "batch/w2"}}},
		{"bare pods without labels are one group named {}", analysis.ByWorkloads,
			[]podSpec{{"batch/x", nil, "", "", false, false}, {"batch/y", map[string]string{}, "", "", false, false}},
			map[string][]string{"batch/{}": {"batch/x", "batch/y"}}},
		{"same labels in different namespaces stay apart", analysis.ByWorkloads,
			[]podSpec{{"a/w", app("w"), "", "", false, false}, {"b/w", app("w"), "", "", false, false}},
			map[string][]string{"a/w": {"a/w"}, "b/w": {"b/w"}}},
		{"bare hostNetwork pods stay alone: they are their nodes' addresses", analysis.ByWorkloads,
			[]podSpec{{"a/h1", app("h"), "", "", true, false}, {"a/h2", app("h"), "", "", true, false}, {"a/p", app("h"), "", "", false, false}},
			map[string][]string{"a/h1": {"a/h1"}, "a/h2": {"a/h2"}, "a/p": {"a/p"}}},
		{"by pods every pod is its own group, workload or not", analysis.ByPods,
			[]podSpec{{"shop/web-1-a", hash("web", "1"), "ReplicaSet", "web-1", false, false}, {"shop/web-1-b", hash("web", "1"), "ReplicaSet", "web-1", false, false}},
			map[string][]string{"shop/web-1-a": {"shop/web-1-a"}, "shop/web-1-b": {"shop/web-1-b"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &model.Cluster{}
			for _, s := range tc.pods {
				c.Pods = append(c.Pods, makePod(s))
			}
			c.Normalize()
			g := analysis.NewGrouping(compile(t, c), tc.by)
			got := map[string][]string{}
			var names []string
			for gi, grp := range g.Groups {
				got[grp.Name] = grp.Pods
				names = append(names, grp.Name)
				if grp.Namespace+"/"+grp.Label != grp.Name {
					t.Errorf("group %q: namespace %q and label %q do not make its name", grp.Name, grp.Namespace, grp.Label)
				}
				for _, m := range grp.Members {
					if g.Of[m] != int32(gi) {
						t.Errorf("pod %d is in group %d but Of says %d", m, gi, g.Of[m])
					}
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("groups %v, want %v", got, tc.want)
			}
			for i := 1; i < len(g.Groups); i++ {
				a, b := g.Groups[i-1], g.Groups[i]
				if a.Namespace > b.Namespace || (a.Namespace == b.Namespace && a.Label >= b.Label) {
					t.Errorf("groups out of order: %q before %q", a.Name, b.Name)
				}
			}
		})
	}
}

func TestParseGroupBy(t *testing.T) {
	for in, want := range map[string]analysis.GroupBy{"pods": analysis.ByPods, "Workloads": analysis.ByWorkloads, "workload": analysis.ByWorkloads} {
		if got, err := analysis.ParseGroupBy(in); err != nil || got != want {
			t.Errorf("ParseGroupBy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := analysis.ParseGroupBy("namespaces"); err == nil || !strings.Contains(err.Error(), "pods, workloads") {
		t.Errorf("ParseGroupBy(namespaces) error %v, want one naming the accepted values", err)
	}
}

// withOwners gives some pods of a random cluster controllers, some through a Deployment's
// ReplicaSets, so workload groups mix pods the classes tell apart.
func withOwners(r *rand.Rand, c *model.Cluster) {
	for _, p := range c.Pods {
		switch r.IntN(4) {
		case 0:
			h := []string{"aaaa", "bbbb"}[r.IntN(2)]
			l := map[string]string{"pod-template-hash": h}
			for k, v := range p.Labels {
				l[k] = v
			}
			p.Labels = l
			ctl := true
			p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "deploy-" + h, Controller: &ctl}}
		case 1:
			ctl := true
			p.OwnerReferences = []metav1.OwnerReference{{Kind: "StatefulSet", Name: []string{"s1", "s2"}[r.IntN(2)], Controller: &ctl}}
		}
	}
}

// The group verdicts count exactly what deciding every member pair one by one counts.
func TestDecideGroupsEqualsMemberPairs(t *testing.T) {
	portSets := map[string][]policy.Port{
		"declared ports": nil,
		"given ports":    {{Proto: policy.ProtoTCP, Num: 8080}, {Proto: policy.ProtoICMP}, {Proto: policy.ProtoUDP, Num: 53}},
	}
	const seeds = 300
	mixed := 0
	for seed := range seeds {
		r := rand.New(rand.NewPCG(uint64(seed), 23))
		c := randomCluster(r)
		withOwners(r, c)
		e := compile(t, c)
		for _, by := range []analysis.GroupBy{analysis.ByPods, analysis.ByWorkloads} {
			g := analysis.NewGrouping(e, by)
			for pname, ports := range portSets {
				opts := analysis.MatrixOptions{Ports: ports}
				v := analysis.DecideGroups(e, g, opts)
				perPod := analysis.DestinationPorts(e)
				for from, gf := range g.Groups {
					for to, gt := range g.Groups {
						cells := v.Cells(from, to)
						if len(cells) != len(v.DstPorts[to]) {
							t.Fatalf("seed %d: %d cells for %d ports", seed, len(cells), len(v.DstPorts[to]))
						}
						for k, pt := range v.DstPorts[to] {
							want := bruteCell(e, gf.Members, gt.Members, pt)
							got := cells[k]
							got.AllowedPair, got.DeniedPair = [2]int32{}, [2]int32{}
							if got != want {
								t.Fatalf("seed %d, %s, %s: %s -> %s on %s: got %+v, want %+v", seed, by, pname, gf.Name, gt.Name, pt, got, want)
							}
							if cells[k].State() == analysis.CellMixed {
								mixed++
							}
							checkWitness(t, e, g, from, to, pt, cells[k])
						}
						if ports == nil {
							// A group is probed on the union of its members' ports.
							want := map[policy.Port]bool{}
							for _, m := range gt.Members {
								for _, pt := range perPod[m] {
									want[pt] = true
								}
							}
							if len(want) != len(v.DstPorts[to]) {
								t.Fatalf("seed %d: group %s probed on %v, members declare %v", seed, gt.Name, v.DstPorts[to], want)
							}
						}
					}
				}
			}
		}
	}
	if mixed == 0 {
		t.Errorf("no random cluster produced a mixed cell; the test does not cover disagreement")
	}
	t.Logf("%d random clusters, %d mixed cells", seeds, mixed)
}

func bruteCell(e *policy.Engine, from, to []int32, pt policy.Port) analysis.GroupCell {
	var c analysis.GroupCell
	single := len(from) == 1 && reflect.DeepEqual(from, to)
	for _, a := range from {
		for _, b := range to {
			if a == b && !single {
				continue
			}
			s, d := e.PodPair(a, b)
			v := e.Decide(s, d, pt)
			c.Pairs++
			if v.Allowed {
				c.Allowed++
			}
			if v.Egress.Allowed {
				c.Egress++
			}
			if v.Ingress.Allowed {
				c.Ingress++
			}
			if a != b && (decidedBy(e, policy.Egress, v.Egress) || decidedBy(e, policy.Ingress, v.Ingress)) {
				c.Decided++
			}
		}
	}
	return c
}

func decidedBy(e *policy.Engine, d policy.Direction, dec policy.Decision) bool {
	if dec.Reason == policy.ReasonIsolated || (dec.Reason == policy.ReasonRule && dec.Action != policy.Allow) {
		return true
	}
	if dec.Reason == policy.ReasonRule {
		r := e.Policies[dec.Policy].Rules(d)[dec.Rule]
		return !(r.AnyPeer && r.AnyPort)
	}
	return false
}

// checkWitness: the representative pairs belong to the groups and have the verdict they
// stand for, so explanations drawn from them explain the cell.
func checkWitness(t *testing.T, e *policy.Engine, g *analysis.Grouping, from, to int, pt policy.Port, c analysis.GroupCell) {
	t.Helper()
	for _, w := range []struct {
		pair    [2]int32
		allowed bool
		needed  bool
	}{{c.AllowedPair, true, c.Allowed > 0}, {c.DeniedPair, false, c.Allowed < c.Pairs}} {
		if !w.needed {
			if w.pair[0] >= 0 {
				t.Fatalf("%s -> %s: witness %v for a verdict no pair has", g.Groups[from].Name, g.Groups[to].Name, w.pair)
			}
			continue
		}
		if w.pair[0] < 0 || g.Of[w.pair[0]] != int32(from) || g.Of[w.pair[1]] != int32(to) {
			t.Fatalf("%s -> %s: witness %v is not a member pair", g.Groups[from].Name, g.Groups[to].Name, w.pair)
		}
		s, d := e.PodPair(w.pair[0], w.pair[1])
		if e.Decide(s, d, pt).Allowed != w.allowed {
			t.Fatalf("%s -> %s on %s: witness %v is not %v", g.Groups[from].Name, g.Groups[to].Name, pt, w.pair, w.allowed)
		}
	}
}

// By pods, the grouped matrix is the pod matrix; MatrixBy uses the pod path for it.
func TestGroupMatrixByPodsIsThePodMatrix(t *testing.T) {
	for seed := range 100 {
		e := compile(t, randomCluster(rand.New(rand.NewPCG(uint64(seed), 29))))
		want := analysis.ComputeMatrixPodByPod(e, analysis.MatrixOptions{})
		got := analysis.DecideGroups(e, analysis.NewGrouping(e, analysis.ByPods), analysis.MatrixOptions{}).Matrix()
		if got.GroupBy != "pods" || len(got.Groups) != len(e.Pods) {
			t.Fatalf("seed %d: grouped by %q with %d groups", seed, got.GroupBy, len(got.Groups))
		}
		got.GroupBy, got.Groups = "", nil
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: the by-pods group matrix differs from the pod matrix", seed)
		}
		// MatrixBy takes the pod path (ComputeMatrix, tested against the reference in
		// classes_test.go) for pods.
		if by := analysis.MatrixBy(e, analysis.ByPods, analysis.MatrixOptions{}); !reflect.DeepEqual(by, analysis.ComputeMatrix(e, analysis.MatrixOptions{})) {
			t.Fatalf("seed %d: MatrixBy(pods) is not ComputeMatrix", seed)
		}
	}
}

func loadDir(t *testing.T, dir string) *policy.Engine {
	t.Helper()
	c, err := loader.Load([]string{dir}, loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return compile(t, c)
}

const shopDir = "../render/testdata/shop"

func TestGroupMatrixOnShop(t *testing.T) {
	e := loadDir(t, shopDir)
	m := analysis.MatrixBy(e, analysis.ByWorkloads, analysis.MatrixOptions{})
	var names []string
	for _, g := range m.Groups {
		names = append(names, fmt.Sprintf("%s%v", g.Name, g.Pods))
	}
	wantNames := []string{
		"batch/{app=worker}[batch/worker-a batch/worker-b]",
		"ingress/Deployment/ingress-nginx[ingress/ingress-nginx-6f7d9-lx2vb]",
		"kube-system/Deployment/coredns[kube-system/coredns-5d78c-4qz7m]",
		"monitoring/Deployment/prometheus[monitoring/prometheus]",
		"shop/Deployment/api[shop/api-5b6d7-q8mlc shop/api-84f2c-7tn4d]",
		"shop/Deployment/web[shop/web-7c9f8-2xkqp shop/web-7c9f8-9hwzt]",
		"shop/StatefulSet/db[shop/db-0]",
	}
	if !reflect.DeepEqual(names, wantNames) {
		t.Fatalf("groups:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(wantNames, "\n"))
	}
	find := func(from, to, port string) analysis.Result {
		for _, r := range m.Results {
			if r.From == from && r.To == to && r.Port == port {
				return r
			}
		}
		t.Fatalf("no result %s -> %s on %s", from, to, port)
		return analysis.Result{}
	}
	cases := []struct {
		name, from, to, port string
		allowed, mixed       bool
	}{
		{"members an ipBlock tells apart make the cell mixed, not allowed", "batch/{app=worker}", "shop/StatefulSet/db", "5432/TCP", false, true},
		{"members that are equivalent agree (allowed)", "shop/Deployment/api", "shop/StatefulSet/db", "5432/TCP", true, false},
		{"pods of one workload under default deny cannot reach each other", "shop/Deployment/web", "shop/Deployment/web", "8080/TCP", false, false},
		{"a group of one pod with itself is the pod talking to itself", "shop/StatefulSet/db", "shop/StatefulSet/db", "5432/TCP", true, false},
		{"ReplicaSets of one rollout differ only in pod-template-hash and agree", "shop/Deployment/web", "shop/Deployment/api", "8080/TCP", true, false},
		{"members that are equivalent agree (denied)", "shop/Deployment/web", "shop/StatefulSet/db", "5432/TCP", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := find(tc.from, tc.to, tc.port)
			if r.Allowed != tc.allowed || r.Mixed != tc.mixed {
				t.Errorf("%s -> %s on %s: allowed %v mixed %v, want allowed %v mixed %v", tc.from, tc.to, tc.port, r.Allowed, r.Mixed, tc.allowed, tc.mixed)
			}
		})
	}
}

// graphText prints a graph one fact a line, for tables.
func graphText(g *analysis.Graph) []string {
	end := func(x analysis.GraphEnd) string {
		if x.Namespace {
			return "ns " + g.Namespaces[x.Index].Name
		}
		return g.Nodes[x.Index].Name
	}
	var out []string
	for _, ns := range g.Namespaces {
		if ns.Within != "" {
			out = append(out, "within ns "+ns.Name+": "+ns.Within)
		}
	}
	for _, ed := range g.Edges {
		out = append(out, end(ed.From)+" -> "+end(ed.To)+": "+ed.Label())
	}
	for _, p := range g.Policies {
		var to []string
		for _, x := range p.Protects {
			to = append(to, end(x))
		}
		if p.OwnNamespace {
			to = append(to, "its namespace")
		}
		out = append(out, p.Ref+" ("+p.Directions+") protects "+strings.Join(to, ", "))
	}
	return out
}

func writeCluster(t *testing.T, yaml string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "c.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

const twoNamespaces = `
apiVersion: v1
kind: Pod
metadata: {name: a1, namespace: a, labels: {app: a1}}
spec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: a2, namespace: a, labels: {app: a2}}
spec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b1, namespace: b, labels: {app: b1}}
spec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b2, namespace: b, labels: {app: b2}}
spec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}
`

func TestGraphRules(t *testing.T) {
	denyB := `
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: b}
spec: {podSelector: {}, policyTypes: [Ingress]}
`
	sameNS := `
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: same, namespace: b}
spec:
  podSelector: {}
  ingress: [{from: [{podSelector: {}}]}]
`
	onlyB1 := `
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b1-from-a1, namespace: b}
spec:
  podSelector: {matchLabels: {app: b1}}
  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchLabels: {app: a1}}}], ports: [{port: 80}]}]
`
	allowAll := `
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: b}
spec:
  podSelector: {}
  ingress: [{}]
`
	twoPorts := strings.ReplaceAll(twoNamespaces, "ports: [{containerPort: 80}]", "ports: [{containerPort: 80}, {containerPort: 443}]")
	only80FromA := `
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: http-from-a, namespace: b}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: a}}}], ports: [{port: 80}]}]
`
	cases := []struct {
		name  string
		yaml  string
		want  []string
		notes []string
	}{
		{"pairs allowed on the same ports collapse, listing those ports", twoPorts + only80FromA,
			[]string{"within ns b: all traffic between its pods is blocked", "ns a -> ns b: 80/TCP", "NetworkPolicy b/http-from-a (ingress) protects its namespace"}, nil},
		{"without policies nothing is drawn and a note says all traffic is allowed", twoNamespaces, nil,
			[]string{"12 of 12 workload pairs are not drawn: no policy restricts them, so they are allowed"}},
		{"a namespace blocked to every other namespace is one edge between the namespaces", twoNamespaces + denyB,
			[]string{"within ns b: all traffic between its pods is blocked", "ns a -> ns b: blocked", "NetworkPolicy b/deny (ingress) protects its namespace"}, nil},
		{"traffic inside a namespace that collapses becomes a note on the namespace", twoNamespaces + sameNS,
			[]string{"within ns b: its pods may all reach each other on 80/TCP", "ns a -> ns b: blocked", "NetworkPolicy b/same (ingress) protects its namespace"}, nil},
		{"a policy selecting one group links to that group; unrestricted pairs are left out", twoNamespaces + onlyB1,
			[]string{"a/a1 -> b/b1: 80/TCP", "a/a2 -> b/b1: blocked", "b/b2 -> b/b1: blocked", "NetworkPolicy b/b1-from-a1 (ingress) protects b/b1"},
			[]string{"9 of 12 workload pairs are not drawn: no policy restricts them, so they are allowed"}},
		{"a rule allowing everything restricts nothing and draws nothing", twoNamespaces + allowAll,
			[]string{"NetworkPolicy b/allow-all (ingress) protects its namespace"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := loadDir(t, writeCluster(t, tc.yaml))
			g := analysis.BuildGraph(analysis.DecideGroups(e, analysis.NewGrouping(e, analysis.ByWorkloads), analysis.MatrixOptions{}), analysis.GraphOptions{})
			got := graphText(g)
			want := tc.want
			if !reflect.DeepEqual(got, want) {
				t.Errorf("graph:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
			for _, n := range tc.notes {
				found := false
				for _, gn := range g.Notes {
					found = found || gn == n
				}
				if !found {
					t.Errorf("notes %q lack %q", g.Notes, n)
				}
			}
		})
	}
}

func TestGraphOnShop(t *testing.T) {
	e := loadDir(t, shopDir)
	g := analysis.BuildGraph(analysis.DecideGroups(e, analysis.NewGrouping(e, analysis.ByWorkloads), analysis.MatrixOptions{}), analysis.GraphOptions{})
	got := strings.Join(graphText(g), "\n")
	for _, want := range []string{
		"batch/{app=worker} -> shop/StatefulSet/db: mixed: 5432/TCP",
		"ingress/Deployment/ingress-nginx -> shop/Deployment/web: 8080/TCP",
		"shop/Deployment/web -> shop/Deployment/web: blocked",
		"kube-system/Deployment/coredns -> ns shop: blocked",
		"monitoring/Deployment/prometheus -> ns shop: 5432/TCP, 8080/TCP",
		"AdminNetworkPolicy/monitoring-scrapes-all (ingress) protects batch/{app=worker}, ingress/Deployment/ingress-nginx, kube-system/Deployment/coredns, monitoring/Deployment/prometheus, ns shop",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("graph lacks %q:\n%s", want, got)
		}
	}
	// Blocked edges: all, none, or (auto) only while the picture stays small.
	for _, tc := range []struct {
		mode        analysis.Blocked
		wantBlocked bool
		wantNote    bool
	}{{analysis.BlockedAll, true, false}, {analysis.BlockedAuto, true, false}, {analysis.BlockedNone, false, true}} {
		gg := analysis.BuildGraph(analysis.DecideGroups(e, analysis.NewGrouping(e, analysis.ByWorkloads), analysis.MatrixOptions{}), analysis.GraphOptions{Blocked: tc.mode})
		blocked := 0
		for _, ed := range gg.Edges {
			if ed.State == analysis.CellDenied {
				blocked++
			}
		}
		note := strings.Contains(strings.Join(gg.Notes, "\n"), "blocked edges are not drawn")
		if (blocked > 0) != tc.wantBlocked || note != tc.wantNote {
			t.Errorf("--blocked %s: %d blocked edges, note %v; want blocked %v, note %v", tc.mode, blocked, note, tc.wantBlocked, tc.wantNote)
		}
	}
}

// A ring where each pod admits only the next one: past AutoEdgeLimit, auto leaves the
// blocked edges out and keeps every allowed one.
func TestGraphAutoLeavesBlockedEdgesOutPastTheLimit(t *testing.T) {
	var b strings.Builder
	const n = 10
	for i := range n {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p%d, namespace: a, labels: {app: p%d}}\nspec: {containers: [{name: c, image: i, ports: [{containerPort: 80}]}]}\n", i, i)
		fmt.Fprintf(&b, "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p%d, namespace: a}\nspec:\n  podSelector: {matchLabels: {app: p%d}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: p%d}}}]}]\n", i, i, (i+1)%n)
	}
	e := loadDir(t, writeCluster(t, b.String()))
	v := analysis.DecideGroups(e, analysis.NewGrouping(e, analysis.ByWorkloads), analysis.MatrixOptions{})
	all := analysis.BuildGraph(v, analysis.GraphOptions{Blocked: analysis.BlockedAll})
	auto := analysis.BuildGraph(v, analysis.GraphOptions{})
	if len(all.Edges) != n*(n-1) {
		t.Fatalf("all: %d edges, want %d", len(all.Edges), n*(n-1))
	}
	if len(auto.Edges) != n {
		t.Errorf("auto: %d edges, want the %d allowed ones", len(auto.Edges), n)
	}
	for _, ed := range auto.Edges {
		if ed.State != analysis.CellAllowed {
			t.Errorf("auto kept a %s edge", ed.State)
		}
	}
	if !strings.Contains(strings.Join(auto.Notes, "\n"), fmt.Sprintf("%d blocked edges are not drawn (the picture would have more than %d edges)", n*(n-2), analysis.AutoEdgeLimit)) {
		t.Errorf("auto notes %q lack the count of left-out edges", auto.Notes)
	}
}

// Showing a subset of pods (-n) shows their groups only, with the verdicts they have in
// the whole cluster.
func TestDecideGroupsShowsOnlyTheGivenPods(t *testing.T) {
	e := loadDir(t, shopDir)
	g := analysis.NewGrouping(e, analysis.ByWorkloads)
	full := analysis.DecideGroups(e, g, analysis.MatrixOptions{})
	var shop []int32
	for i, p := range e.Pods {
		if p.Pod.Namespace == "shop" || p.Key == "batch/worker-b" {
			shop = append(shop, int32(i))
		}
	}
	part := analysis.DecideGroups(e, g, analysis.MatrixOptions{Pods: shop})
	var names []string
	for _, grp := range part.Grouping.Groups {
		names = append(names, fmt.Sprintf("%s%v", grp.Name, grp.Pods))
	}
	want := []string{"batch/{app=worker}[batch/worker-b]", "shop/Deployment/api[shop/api-5b6d7-q8mlc shop/api-84f2c-7tn4d]",
		"shop/Deployment/web[shop/web-7c9f8-2xkqp shop/web-7c9f8-9hwzt]", "shop/StatefulSet/db[shop/db-0]"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("groups %v, want %v", names, want)
	}
	index := map[string]int{}
	for i, grp := range full.Grouping.Groups {
		index[grp.Name] = i
	}
	for a, ga := range part.Grouping.Groups {
		for b, gb := range part.Grouping.Groups {
			fa, fb := index[ga.Name], index[gb.Name]
			for k, c := range part.Cells(a, b) {
				fc := full.Cells(fa, fb)[k]
				if len(ga.Members) == len(full.Grouping.Groups[fa].Members) && len(gb.Members) == len(full.Grouping.Groups[fb].Members) && c != fc {
					t.Errorf("%s -> %s: %+v shown, %+v in full", ga.Name, gb.Name, c, fc)
				}
			}
		}
	}
	// worker-b alone is denied into db (worker-a, in the ipBlock, is not shown).
	worker, db := 0, 3
	if c := part.Cells(worker, db)[0]; c.State() != analysis.CellDenied || c.Pairs != 1 {
		t.Errorf("worker-b -> db: %+v, want one denied pair", c)
	}
}
