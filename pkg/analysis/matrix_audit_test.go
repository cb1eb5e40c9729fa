package analysis_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netwarden/netwarden/pkg/analysis"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// stageSome puts a random part of the cluster's policies in audit mode; it reports
// whether it staged any.
func stageSome(r *rand.Rand, c *model.Cluster) bool {
	var objs []metav1.Object
	for _, p := range c.NetworkPolicies {
		objs = append(objs, p)
	}
	for _, p := range c.AdminNetworkPolicies {
		objs = append(objs, p)
	}
	for _, p := range c.BaselineAdminNetworkPolicies {
		objs = append(objs, p)
	}
	for _, p := range c.ClusterNetworkPolicies {
		objs = append(objs, p)
	}
	staged := false
	for _, o := range objs {
		if r.IntN(2) == 0 {
			a := map[string]string{}
			for k, v := range o.GetAnnotations() {
				a[k] = v
			}
			a[model.ModeAnnotation] = model.ModeAudit
			o.SetAnnotations(a)
			staged = true
		}
	}
	return staged
}

// withoutMarks is m with its marks taken off, to compare verdicts with an unmarked matrix.
func withoutMarks(m *analysis.Matrix) *analysis.Matrix {
	out := *m
	out.Audit = nil
	out.Results = make([]analysis.Result, len(m.Results))
	for i, r := range m.Results {
		r.Audit = ""
		out.Results[i] = r
	}
	return &out
}

// The marked class matrix is the pair-by-pair one in both views; its verdicts in the
// with-audit view are those of the cluster with the annotations removed (compiled on its
// own); and a result is marked exactly when the two views differ.
func TestAuditMarksEqualPairByPair(t *testing.T) {
	portSets := map[string][]policy.Port{
		"declared ports": nil,
		"given ports":    {{Proto: policy.ProtoTCP, Num: 8080}, {Proto: policy.ProtoUDP, Num: 53}},
	}
	marked, clusters := 0, 0
	for seed := range 300 {
		r := rand.New(rand.NewPCG(uint64(seed), 41))
		c := randomCluster(r)
		if !stageSome(r, c) {
			continue
		}
		clusters++
		e := compile(t, c)
		unstaged := compile(t, c.EnforceAudit())
		for name, ports := range portSets {
			today := analysis.ComputeMatrixPodByPod(e, analysis.MatrixOptions{Ports: ports})
			after := analysis.ComputeMatrixPodByPod(unstaged, analysis.MatrixOptions{Ports: ports})
			for _, view := range []policy.View{policy.Enforced, policy.WithAudit} {
				opts := analysis.MatrixOptions{Ports: ports, View: view, Audit: true}
				want := analysis.ComputeMatrixPodByPodIn(e, opts)
				got := analysis.ComputeClassMatrix(e, opts).Matrix()
				if !reflect.DeepEqual(got, want) {
					for i := range want.Results {
						if i >= len(got.Results) || got.Results[i] != want.Results[i] {
							t.Fatalf("seed %d, %s, %s: result %d: classes give %+v, pair by pair %+v", seed, name, view, i, got.Results[min(i, len(got.Results)-1)], want.Results[i])
						}
					}
					t.Fatalf("seed %d, %s, %s: matrices differ: summary %+v vs %+v", seed, name, view, got.Audit, want.Audit)
				}
				shown := today
				if view == policy.WithAudit {
					shown = after
				}
				if !reflect.DeepEqual(withoutMarks(got), shown) {
					t.Fatalf("seed %d, %s, %s: the verdicts are not the view's", seed, name, view)
				}
				for i, res := range got.Results {
					was, will := today.Results[i].Allowed, after.Results[i].Allowed
					wantMark := ""
					switch {
					case was && !will:
						wantMark = analysis.AuditDeny
					case !was && will:
						wantMark = analysis.AuditAllow
					}
					if res.Audit != wantMark {
						t.Fatalf("seed %d, %s, %s: %s -> %s %s: mark %q, want %q (today %v, enforced %v)", seed, name, view, res.From, res.To, res.Port, res.Audit, wantMark, was, will)
					}
					if res.Audit != "" {
						marked++
					}
				}
			}
		}
	}
	if marked == 0 {
		t.Error("no random cluster produced a mark; the test does not cover the marks")
	}
	t.Logf("%d clusters with audit policies, %d marked results", clusters, marked)
}

// Without audit policies, asking for marks changes nothing: no summary, no marks, and the
// with-audit view is the enforced one.
func TestAuditMarksNeedAuditPolicies(t *testing.T) {
	for seed := range 60 {
		e := compile(t, randomCluster(rand.New(rand.NewPCG(uint64(seed), 43))))
		if e.HasAudit {
			t.Fatalf("seed %d: a random cluster has audit policies", seed)
		}
		plain := analysis.ComputeMatrix(e, analysis.MatrixOptions{})
		for _, view := range []policy.View{policy.Enforced, policy.WithAudit} {
			cm := analysis.ComputeClassMatrix(e, analysis.MatrixOptions{View: view, Audit: true})
			if cm.Marked() {
				t.Fatalf("seed %d: marked without audit policies", seed)
			}
			if got := cm.Matrix(); !reflect.DeepEqual(got, plain) {
				t.Fatalf("seed %d, %s: asking for marks changed the matrix", seed, view)
			}
			v := analysis.DecideGroups(e, analysis.NewGrouping(e, analysis.ByWorkloads), analysis.MatrixOptions{View: view, Audit: true})
			if v.Marked {
				t.Fatalf("seed %d: group verdicts marked without audit policies", seed)
			}
		}
	}
}

// Marked matrices stream the bytes encoding/json writes, marks and summary included.
func TestAuditWriteJSONIsEncodingJSON(t *testing.T) {
	marks := 0
	for seed := range 60 {
		r := rand.New(rand.NewPCG(uint64(seed), 47))
		c := randomCluster(r)
		if !stageSome(r, c) {
			continue
		}
		e := compile(t, c)
		for _, view := range []policy.View{policy.Enforced, policy.WithAudit} {
			opts := analysis.MatrixOptions{View: view, Audit: true}
			encode := func(m *analysis.Matrix) []byte {
				var b bytes.Buffer
				enc := json.NewEncoder(&b)
				enc.SetIndent("", "  ")
				if err := enc.Encode(m); err != nil {
					t.Fatal(err)
				}
				return b.Bytes()
			}
			cm := analysis.ComputeClassMatrix(e, opts)
			var got bytes.Buffer
			if err := cm.WriteJSON(&got); err != nil {
				t.Fatal(err)
			}
			if want := encode(cm.Matrix()); !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("seed %d, %s: streamed JSON differs:\n--- got\n%.3000s\n--- want\n%.3000s", seed, view, got.String(), want)
			}
			marks += bytes.Count(got.Bytes(), []byte(`"audit": "`))
			for _, by := range []analysis.GroupBy{analysis.ByWorkloads, analysis.ByPods} {
				v := analysis.DecideGroups(e, analysis.NewGrouping(e, by), opts)
				got.Reset()
				if err := v.WriteJSON(&got); err != nil {
					t.Fatal(err)
				}
				if want := encode(v.Matrix()); !bytes.Equal(got.Bytes(), want) {
					t.Fatalf("seed %d, %s, %s: streamed group JSON differs:\n--- got\n%.3000s\n--- want\n%.3000s", seed, view, by, got.String(), want)
				}
			}
		}
	}
	if marks == 0 {
		t.Error("no marked result in any cluster; the test proves less than it says")
	}
}

// A group cell counts exactly the member pairs whose verdict enforcing the audit
// policies changes; grouped by pods, the marks are the pod matrix's.
func TestAuditGroupMarksCountMemberPairs(t *testing.T) {
	changed := 0
	for seed := range 200 {
		r := rand.New(rand.NewPCG(uint64(seed), 53))
		c := randomCluster(r)
		withOwners(r, c)
		if !stageSome(r, c) {
			continue
		}
		e := compile(t, c)
		for _, view := range []policy.View{policy.Enforced, policy.WithAudit} {
			opts := analysis.MatrixOptions{View: view, Audit: true}
			for _, by := range []analysis.GroupBy{analysis.ByPods, analysis.ByWorkloads} {
				g := analysis.NewGrouping(e, by)
				v := analysis.DecideGroups(e, g, opts)
				for from, gf := range g.Groups {
					for to, gt := range g.Groups {
						for k, pt := range v.DstPorts[to] {
							var deny, allow int32
							for _, a := range gf.Members {
								for _, b := range gt.Members {
									if a == b {
										continue
									}
									s, d := e.PodPair(a, b)
									was, will := e.DecideIn(policy.Enforced, s, d, pt).Allowed, e.DecideIn(policy.WithAudit, s, d, pt).Allowed
									switch {
									case was && !will:
										deny++
									case !was && will:
										allow++
									}
								}
							}
							cell := v.AuditCells(from, to)[k]
							if cell.WouldDeny != deny || cell.WouldAllow != allow {
								t.Fatalf("seed %d, %s, %s: %s -> %s on %s: would deny %d, allow %d; want %d, %d", seed, view, by, gf.Name, gt.Name, pt, cell.WouldDeny, cell.WouldAllow, deny, allow)
							}
							changed += int(deny + allow)
						}
					}
				}
				if by == analysis.ByPods {
					got := v.Matrix()
					got.GroupBy, got.Groups = "", nil
					if want := analysis.ComputeClassMatrix(e, opts).Matrix(); !reflect.DeepEqual(got, want) {
						t.Fatalf("seed %d, %s: the by-pods group matrix marks differently from the pod matrix", seed, view)
					}
				}
			}
		}
	}
	if changed == 0 {
		t.Error("no member pair changed in any cluster")
	}
}

const auditCases = `
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop, labels: {app: api}}
spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: batch, namespace: shop, labels: {app: batch}}
spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 8080}]}]}
`

// The marks on hand-written clusters, one rule per case.
func TestAuditMarkRules(t *testing.T) {
	apiOnlyFromWeb := func(mode string) string {
		return `
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-only-from-web, namespace: shop, annotations: {netwarden.io/mode: ` + mode + `}}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]
`
	}
	denyAll := `
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress]}
`
	allowBatch := `
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-batch, namespace: shop, annotations: {netwarden.io/mode: audit}}
spec:
  podSelector: {matchLabels: {app: batch}}
  ingress: [{}]
`
	type mark struct{ from, to, audit string }
	for _, tc := range []struct {
		name  string
		yaml  string
		view  policy.View
		marks []mark
		// allowed are the marked results' verdicts, in order.
		allowed []bool
		deny    int
		allow   int
	}{
		{"a staged isolation marks the allowed pairs it would deny, shown allowed", auditCases + apiOnlyFromWeb("audit"), policy.Enforced,
			[]mark{{"shop/batch", "shop/api", "deny"}}, []bool{true}, 1, 0},
		{"the with-audit view shows them denied, with the same mark", auditCases + apiOnlyFromWeb("audit"), policy.WithAudit,
			[]mark{{"shop/batch", "shop/api", "deny"}}, []bool{false}, 1, 0},
		{"a staged allow under an enforced deny marks the pairs it would allow", auditCases + denyAll + allowBatch, policy.Enforced,
			[]mark{{"shop/api", "shop/batch", "allow"}, {"shop/web", "shop/batch", "allow"}}, []bool{false, false}, 0, 2},
		{"an enforced policy (any other mode value) marks nothing", auditCases + apiOnlyFromWeb("enforce"), policy.Enforced,
			nil, nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := loadDir(t, writeCluster(t, tc.yaml))
			m := analysis.ComputeClassMatrix(e, analysis.MatrixOptions{View: tc.view, Audit: true}).Matrix()
			var got []mark
			var allowed []bool
			for _, r := range m.Results {
				if r.Audit != "" {
					got = append(got, mark{r.From, r.To, r.Audit})
					allowed = append(allowed, r.Allowed)
				}
			}
			if !reflect.DeepEqual(got, tc.marks) || !reflect.DeepEqual(allowed, tc.allowed) {
				t.Fatalf("marks %v (allowed %v), want %v (%v)", got, allowed, tc.marks, tc.allowed)
			}
			if !e.HasAudit {
				if m.Audit != nil {
					t.Fatalf("summary %+v without audit policies", m.Audit)
				}
				return
			}
			if m.Audit == nil || m.Audit.Deny != tc.deny || m.Audit.Allow != tc.allow || m.Audit.View != tc.view.String() || len(m.Audit.Policies) != 1 {
				t.Fatalf("summary %+v, want %d denied, %d allowed in view %s", m.Audit, tc.deny, tc.allow, tc.view)
			}
			// The workload matrix marks the same cells (each workload here is one pod).
			gm := analysis.DecideGroups(e, analysis.NewGrouping(e, analysis.ByWorkloads), analysis.MatrixOptions{View: tc.view, Audit: true}).Matrix()
			var gmarks []mark
			for _, r := range gm.Results {
				if r.Audit != "" {
					gmarks = append(gmarks, mark{r.From, r.To, r.Audit})
				}
			}
			if !reflect.DeepEqual(gmarks, tc.marks) {
				t.Fatalf("workload marks %v, want %v", gmarks, tc.marks)
			}
		})
	}
}

// The pictures' rules for audit (staged) policies, one per case (twoNamespaces: a1, a2
// in a; b1, b2 in b; everything on 80/TCP).
func TestGraphAuditRules(t *testing.T) {
	stagedDenyB := `
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: b, annotations: {netwarden.io/mode: audit}}
spec: {podSelector: {}, policyTypes: [Ingress]}
`
	stagedB1FromA1 := `
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b1-from-a1, namespace: b, annotations: {netwarden.io/mode: audit}}
spec:
  podSelector: {matchLabels: {app: b1}}
  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchLabels: {app: a1}}}]}]
`
	denyB := strings.ReplaceAll(stagedDenyB, ", annotations: {netwarden.io/mode: audit}", "")
	stagedAllowB := `
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-from-a, namespace: b, annotations: {netwarden.io/mode: audit}}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: a}}}]}]
`
	cases := []struct {
		name string
		yaml string
		view policy.View
		want []string
		note string
	}{
		{"pairs a staged default deny would cut alike collapse into one marked edge; inside the namespace they stay edges", twoNamespaces + stagedDenyB, policy.Enforced,
			[]string{"ns a -> ns b: 80/TCP; audit would deny 80/TCP", "b/b1 -> b/b2: 80/TCP; audit would deny 80/TCP", "b/b2 -> b/b1: 80/TCP; audit would deny 80/TCP", "NetworkPolicy b/deny (ingress) protects its namespace"},
			"3 orange edges: enforcing the audit (staged) policies would change them (dashed: allowed today, would be denied)"},
		{"pairs changed differently do not collapse", twoNamespaces + stagedB1FromA1, policy.Enforced,
			[]string{"a/a2 -> b/b1: 80/TCP; audit would deny 80/TCP", "b/b2 -> b/b1: 80/TCP; audit would deny 80/TCP", "NetworkPolicy b/b1-from-a1 (ingress) protects b/b1"},
			"2 orange edges: enforcing the audit (staged) policies would change them (dashed: allowed today, would be denied)"},
		{"the with-audit view draws them blocked and says what they are today", twoNamespaces + stagedB1FromA1, policy.WithAudit,
			[]string{"a/a1 -> b/b1: 80/TCP", "a/a2 -> b/b1: blocked; allowed today on 80/TCP", "b/b2 -> b/b1: blocked; allowed today on 80/TCP", "NetworkPolicy b/b1-from-a1 (ingress) protects b/b1"},
			"edges as if the audit (staged) policies were enforced; orange: a change from today (2 edges)"},
		{"a staged allow under an enforced deny marks the blocked edge it would open", twoNamespaces + denyB + stagedAllowB, policy.Enforced,
			[]string{"within ns b: all traffic between its pods is blocked", "ns a -> ns b: blocked; audit would allow 80/TCP", "NetworkPolicy b/allow-from-a (ingress) protects its namespace", "NetworkPolicy b/deny (ingress) protects its namespace"},
			"1 orange edge: enforcing the audit (staged) policies would change them (dashed: allowed today, would be denied)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := loadDir(t, writeCluster(t, tc.yaml))
			for _, blocked := range []analysis.Blocked{analysis.BlockedAuto, analysis.BlockedNone} {
				v := analysis.DecideGroups(e, analysis.NewGrouping(e, analysis.ByWorkloads), analysis.MatrixOptions{View: tc.view, Audit: true})
				g := analysis.BuildGraph(v, analysis.GraphOptions{Blocked: blocked})
				got := graphText(g)
				want := tc.want
				if blocked == analysis.BlockedNone { // marked blocked edges stay
					want = nil
					for _, w := range tc.want {
						if !strings.HasSuffix(w, ": blocked") {
							want = append(want, w)
						}
					}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("--blocked %s: graph:\n  %s\nwant:\n  %s", blocked, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
				}
				if !slices.Contains(g.Notes, tc.note) {
					t.Errorf("notes %q lack %q", g.Notes, tc.note)
				}
			}
			// A staged policy protects nothing today.
			g := analysis.BuildGraph(analysis.DecideGroups(e, analysis.NewGrouping(e, analysis.ByWorkloads), analysis.MatrixOptions{View: tc.view, Audit: true}), analysis.GraphOptions{})
			for _, n := range g.Nodes {
				staged := tc.view == policy.Enforced && !strings.Contains(tc.yaml, "name: deny, namespace: b}")
				if staged && (n.IngressProtected || n.EgressProtected) {
					t.Errorf("%s is protected by a staged policy in the enforced view", n.Name)
				}
			}
		})
	}
}
