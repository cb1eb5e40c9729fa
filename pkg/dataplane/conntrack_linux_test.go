package dataplane

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"
	"go4.org/netipx"

	"github.com/netwarden/netwarden/pkg/policy"
)

// Cluster changes on top of the seed cluster (node-a holds backend 10.0.1.10 and db
// 10.0.1.20; node-b analytics 10.0.2.10 and logging 10.0.2.20; db admits backend on 5432).
const (
	backend2 = `
apiVersion: v1
kind: Pod
metadata: {name: backend-2, labels: {app: backend}}
spec: {nodeName: node-b, containers: [{name: app, image: i}]}
status: {podIP: 10.0.2.30}
`
	unselectedLocal = `
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec: {nodeName: node-a, containers: [{name: app, image: i}]}
status: {podIP: 10.0.1.30}
`
	db2 = `
apiVersion: v1
kind: Pod
metadata: {name: db-2, labels: {app: db}}
spec: {nodeName: node-a, containers: [{name: postgres, image: i, ports: [{name: postgres, containerPort: 5432}]}]}
status: {podIP: 10.0.1.40}
`
	isolateBackend = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: backend-no-egress}
spec:
  podSelector: {matchLabels: {app: backend}}
  policyTypes: [Egress]
`
	denyAnalytics = `
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: no-analytics}
spec:
  priority: 5
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: backend}}}}
  ingress:
  - name: analytics
    action: Deny
    from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: analytics}}}}]
`
	dbFromBlock = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-block}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{ipBlock: {cidr: 203.0.113.0/24, except: [203.0.113.128/25]}}]
`
	analytics2 = `
apiVersion: v1
kind: Pod
metadata: {name: analytics-2, labels: {app: analytics}}
spec: {nodeName: node-b, containers: [{name: app, image: i}]}
status: {podIP: 10.0.2.40}
`
)

func join(docs ...string) string {
	out := ""
	for i, d := range docs {
		if i > 0 {
			out += "\n---\n"
		}
		out += d
	}
	return out
}

// denialCases are changes and the addresses whose connections each may deny (nil: none).
// A loose scope is wider than what the change turns out to deny.
var denialCases = []struct {
	name     string
	old, new string
	scope    []string
	loose    bool
}{
	{"a peer added to an allow set cannot deny", "", backend2, nil, false},
	{"a local pod no policy selects cannot deny", "", unselectedLocal, nil, false},
	{"a peer removed from an allow set may deny its connections only", backend2, "", []string{"10.0.2.30/32"}, false},
	{"a local pod joining a selected group may deny its own connections only", "", db2, []string{"10.0.1.40/32"}, false},
	{"a local pod leaving a selected group cannot deny", db2, "", nil, false},
	{"a new policy isolating a pod may deny that pod's connections", "", isolateBackend, []string{"10.0.1.10/32"}, false},
	{"a policy deleted that isolated a pod cannot deny", isolateBackend, "", nil, false},
	{"a peer added to an admin Deny may deny its connections only", denyAnalytics, join(denyAnalytics, analytics2), []string{"10.0.2.40/32"}, false},
	{"a peer removed from an admin Deny cannot deny", join(denyAnalytics, analytics2), denyAnalytics, nil, false},
	{"nothing changed cannot deny", backend2, backend2, nil, false},
	// Policies make chains: a selected pod's chain changes with any of its policies, even
	// one that only allows more (whether the new chain denies is not worked out).
	{"a policy added to a selected pod may deny that pod's connections", "", dbFromBlock, []string{"10.0.1.20/32"}, true},
	{"a policy removed from a selected pod may deny that pod's connections", dbFromBlock, "", []string{"10.0.1.20/32"}, false},
}

// TestDenialScope: the scope of each change is as narrow as the rule says, and sound:
// every connection the old program allows and the new one denies is in it.
func TestDenialScope(t *testing.T) {
	var addrs []netip.Addr
	for _, s := range []string{"10.0.1.10", "10.0.1.20", "10.0.1.30", "10.0.1.40", "10.0.2.10", "10.0.2.20", "10.0.2.30", "10.0.2.40", "192.168.0.1", "192.168.0.2", "203.0.113.9"} {
		addrs = append(addrs, netip.MustParseAddr(s))
	}
	ports := []policy.Port{{Proto: policy.ProtoTCP, Num: 5432}, {Proto: policy.ProtoTCP, Num: 8080}, {Proto: policy.ProtoUDP, Num: 514}, {Proto: policy.ProtoICMP}}
	for _, tc := range denialCases {
		t.Run(tc.name, func(t *testing.T) {
			old, new := withPods(t, "seed", "node-a", tc.old), withPods(t, "seed", "node-a", tc.new)
			d, ok := Diff(old, new)
			if !ok {
				t.Fatal("Diff cannot express the change")
			}
			s := DenialScope(old, new, d)
			var got []string
			for _, p := range s.Prefixes() {
				got = append(got, p.String())
			}
			if s.All() || !slices.Equal(got, tc.scope) {
				t.Errorf("scope = %v (all %v), want %v", got, s.All(), tc.scope)
			}
			if d.MayDeny(old, new) != (len(tc.scope) > 0) {
				t.Errorf("MayDeny = %v, want %v", !s.Empty(), len(tc.scope) > 0)
			}
			newlyDenied := 0
			for _, src := range addrs {
				for _, dst := range addrs {
					for _, port := range ports {
						if old.Allows(src, dst, port) && !new.Allows(src, dst, port) {
							newlyDenied++
							if !s.Touches(src, dst) {
								t.Errorf("%s -> %s %s is newly denied but outside the scope", src, dst, port)
							}
						}
					}
				}
			}
			if len(tc.scope) > 0 && !tc.loose && newlyDenied == 0 {
				t.Errorf("the case denies nothing new; it pins nothing")
			}
		})
	}
	if !DenialScope(nil, withPods(t, "seed", "node-a", ""), Delta{}).All() {
		t.Error("with no old program, the scope is not everything")
	}
}

// ctNetns opens conntrack in a fresh namespace whose table turns conntrack on.
func ctNetns(t testing.TB, c *Conn, path string, p *Program) *conntrack.Conn {
	t.Helper()
	if err := c.Apply(p); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	ct, err := conntrack.Dial(&netlink.Config{NetNS: int(f.Fd())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ct.Close() })
	return ct
}

func tcpFlow(src, dst netip.Addr, sport, dport uint16) conntrack.Flow {
	return conntrack.NewFlow(6, conntrack.StatusConfirmed|conntrack.StatusAssured, src, dst, sport, dport, 300, 0)
}

// TestForgetDeniedAfter: a change that cannot deny reads nothing from the kernel; one
// that removes a peer deletes exactly the connections it denies and keeps the others.
func TestForgetDeniedAfter(t *testing.T) {
	needRoot(t)
	_, path := newNetns(t)
	c := openConn(t, path)
	withB2 := withPods(t, "seed", "node-a", backend2)
	withB2.opts.KeepEstablished = true
	ct := ctNetns(t, c, path, withB2)

	a := netip.MustParseAddr
	backend, b2, analytics, db := a("10.0.1.10"), a("10.0.2.30"), a("10.0.2.10"), a("10.0.1.20")
	flows := map[string]struct {
		f    conntrack.Flow
		keep bool
	}{
		"backend-2 to db on 5432, denied once backend-2 goes": {tcpFlow(b2, db, 40000, 5432), false},
		"backend to db on 5432, still allowed":                {tcpFlow(backend, db, 40001, 5432), true},
		"backend-2 to analytics, not ours to deny":            {tcpFlow(b2, analytics, 40002, 8080), true},
		"analytics to backend, allowed":                       {tcpFlow(analytics, backend, 40003, 8080), true},
	}
	for name, fl := range flows {
		if err := ct.Create(fl.f); err != nil {
			t.Fatalf("create conntrack entry %q: %v", name, err)
		}
	}
	tracked := func() map[string]bool {
		got, err := ct.Dump(nil)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for name, want := range flows {
			for _, g := range got {
				if g.TupleOrig.IP == want.f.TupleOrig.IP && g.TupleOrig.Proto.SourcePort == want.f.TupleOrig.Proto.SourcePort {
					out[name] = true
				}
			}
		}
		return out
	}

	// An addition: nothing listed, nothing deleted.
	seed := withPods(t, "seed", "node-a", "")
	seed.opts.KeepEstablished = true // ApplyDelta would clean up itself
	d, _ := Diff(seed, withB2)
	st, err := c.ForgetDeniedIn(withB2, DenialScope(seed, withB2, d))
	if err != nil || st != (ForgetStats{}) {
		t.Errorf("after an addition: %+v, %v; want nothing listed", st, err)
	}
	if got := tracked(); len(got) != len(flows) {
		t.Fatalf("after an addition, connections were deleted; left %v", got)
	}

	// The removal.
	d, _ = Diff(withB2, seed)
	if err := c.ApplyDelta(seed, d); err != nil {
		t.Fatal(err)
	}
	st, err = c.ForgetDeniedIn(seed, DenialScope(withB2, seed, d))
	if err != nil {
		t.Fatal(err)
	}
	if st.Deleted != 1 || st.Judged != 2 || st.Listed != 2 {
		t.Errorf("after the removal: %+v, want 2 listed by the kernel (CTA_FILTER, Linux 5.8) and judged (the ones with backend-2), 1 deleted", st)
	}
	got := tracked()
	for name, fl := range flows {
		if got[name] != fl.keep {
			t.Errorf("%s: tracked = %v, want %v", name, got[name], fl.keep)
		}
	}
	if n, err := c.ForgetDeniedAfter(withB2, seed, d); n != 0 || err != nil {
		t.Errorf("ForgetDeniedAfter again: %d deleted, %v; want 0", n, err)
	}
}

// TestForgetDeniedScale measures, with tens of thousands of tracked connections, the
// full cleanup against the scoped one after a peer is removed and after a peer is
// added. It reports times; it asserts only what each path deletes.
func TestForgetDeniedScale(t *testing.T) {
	needRoot(t)
	if testing.Short() {
		t.Skip("skipped in -short: creates tens of thousands of conntrack entries")
	}
	for _, n := range []int{10000, 50000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			_, path := newNetns(t)
			c := openConn(t, path)
			withB2 := withPods(t, "seed", "node-a", backend2)
			withB2.opts.KeepEstablished = true
			seed := withPods(t, "seed", "node-a", "")
			ct := ctNetns(t, c, path, withB2)
			a := netip.MustParseAddr
			backend, b2, db := a("10.0.1.10"), a("10.0.2.30"), a("10.0.1.20")
			// All but ten connections are backend's to db; ten are backend-2's.
			start := time.Now()
			for i := 0; i < n; i++ {
				src := backend
				if i%(n/10) == 0 {
					src = b2
				}
				if err := ct.Create(tcpFlow(src, db, uint16(1024+i%60000), 5432+uint16(i/60000))); err != nil {
					t.Fatalf("create conntrack entry %d: %v", i, err)
				}
			}
			t.Logf("created %d entries in %v", n, time.Since(start).Round(time.Millisecond))

			d, _ := Diff(seed, withB2)
			start = time.Now()
			st, err := c.ForgetDeniedIn(withB2, DenialScope(seed, withB2, d))
			add := time.Since(start)
			if err != nil || st.Deleted != 0 {
				t.Fatalf("after an addition: %+v, %v", st, err)
			}

			// The full cleanup, with the program before the removal: it deletes nothing,
			// so the entries stay for the scoped run.
			start = time.Now()
			full, err := c.ForgetDeniedIn(withB2, DenyAll())
			fullT := time.Since(start)
			if err != nil || full.Deleted != 0 {
				t.Fatalf("full cleanup: %+v, %v", full, err)
			}

			// Scopes that delete nothing under the program before the removal: one too
			// wide for the kernel's filter, and the widest it gets.
			for _, sc := range []struct {
				name  string
				scope []string
			}{
				{"a /24 (listed whole, judged in part)", []string{"10.0.2.0/24"}},
				{"4 addresses (4x2 filtered listings)", []string{"10.0.2.30/31", "10.0.2.40/31"}},
				{"5 addresses (listed whole, judged in part)", []string{"10.0.2.30/31", "10.0.2.40/31", "10.0.2.50/32"}},
			} {
				var b netipx.IPSetBuilder
				for _, p := range sc.scope {
					b.AddPrefix(netip.MustParsePrefix(p))
				}
				set, _ := b.IPSet()
				start = time.Now()
				st, err := c.ForgetDeniedIn(withB2, DenyScope{addrs: set})
				if err != nil || st.Deleted != 0 {
					t.Fatalf("%s: %+v, %v", sc.name, st, err)
				}
				t.Logf("%d entries: scope %s: %v (%d listed, %d judged)", n, sc.name, time.Since(start).Round(time.Microsecond), st.Listed, st.Judged)
			}

			d, _ = Diff(withB2, seed)
			start = time.Now()
			sc, err := c.ForgetDeniedIn(seed, DenialScope(withB2, seed, d))
			scT := time.Since(start)
			if err != nil || sc.Deleted != 10 {
				t.Fatalf("scoped cleanup after the removal: %+v, %v; want 10 deleted", sc, err)
			}
			t.Logf("%d entries: full %v (%d judged); removal scoped %v (%d listed, %d judged, %d deleted), %.1fx; addition %v (%d listed)",
				n, fullT.Round(time.Microsecond), full.Judged, scT.Round(time.Microsecond), sc.Listed, sc.Judged, sc.Deleted,
				float64(fullT)/float64(scT), add.Round(time.Microsecond), st.Listed)
		})
	}
}
