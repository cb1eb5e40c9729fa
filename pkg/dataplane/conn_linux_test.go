package dataplane

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"

	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/policy"
)

// These tests load programs into real kernels: each in a network namespace of its own,
// deleted when the test ends, whatever happens.

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: loading nftables needs root (CAP_NET_ADMIN); run the tests as root")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("skipped: the nft command is missing (apt-get install nftables); the tests compare its listings")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipped: the ip command is missing (apt-get install iproute2)")
	}
}

var netnsSeq atomic.Int32

// newNetns creates a network namespace for the test and returns its name and path.
func newNetns(t testing.TB) (string, string) {
	t.Helper()
	name := fmt.Sprintf("nwdp-test-%d-%d", os.Getpid(), netnsSeq.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	for _, dir := range []string{"/run/netns", "/var/run/netns"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return name, p
		}
	}
	t.Fatalf("network namespace %s has no file under /run/netns", name)
	return "", ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// nft runs nft in a namespace, with stdin.
func nft(t *testing.T, ns, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, "nft"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("nft %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func mustNft(t *testing.T, ns, stdin string, args ...string) string {
	t.Helper()
	out, err := nft(t, ns, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func openConn(t *testing.T, path string) *Conn {
	t.Helper()
	c, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestKernelLoadsBothForms applies every golden program through netlink in one namespace
// and as nft text in another: both must load, and the kernel must list the same table
// for both (so the expressions are nft's own). The listing must load again, a second
// Apply must replace the table atomically, and Uninstall must remove it and nothing else.
func TestKernelLoadsBothForms(t *testing.T) {
	needRoot(t)
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			_, p := compileCase(t, tc.name, tc.node)
			nsA, pathA := newNetns(t)
			nsB, _ := newNetns(t)
			nsC, _ := newNetns(t)

			// Someone else's table, which nothing we do may touch.
			other := "table inet other {\n\tchain c {\n\t\ttype filter hook forward priority 10; policy accept;\n\t\tcounter\n\t}\n}\n"
			mustNft(t, nsA, other, "-f", "-")

			c := openConn(t, pathA)
			if err := c.Apply(p); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			viaNetlink := mustNft(t, nsA, "", "list", "table", "inet", "netwarden")

			// Twice: the text replaces the table as one transaction too.
			mustNft(t, nsB, p.String(), "-f", "-")
			mustNft(t, nsB, p.String(), "-f", "-")
			viaText := mustNft(t, nsB, "", "list", "table", "inet", "netwarden")
			if viaNetlink != viaText {
				t.Fatalf("the kernel lists different tables for the netlink and the text forms\n--- netlink:\n%s\n--- nft -f:\n%s", viaNetlink, viaText)
			}

			mustNft(t, nsC, viaNetlink, "-f", "-")
			if again := mustNft(t, nsC, "", "list", "table", "inet", "netwarden"); again != viaNetlink {
				t.Fatalf("the listing does not load back to itself:\n%s", again)
			}

			if err := c.Apply(p); err != nil {
				t.Fatalf("second Apply: %v", err)
			}
			if again := mustNft(t, nsA, "", "list", "table", "inet", "netwarden"); again != viaNetlink {
				t.Fatalf("after a second Apply the table is\n%s", again)
			}

			if err := c.Uninstall(); err != nil {
				t.Fatalf("Uninstall: %v", err)
			}
			if out, err := nft(t, nsA, "", "list", "table", "inet", "netwarden"); err == nil {
				t.Fatalf("the table is still there after Uninstall:\n%s", out)
			}
			if out := mustNft(t, nsA, "", "list", "ruleset"); !strings.Contains(out, "table inet other") {
				t.Fatalf("Uninstall touched another table; the ruleset is\n%s", out)
			}
			if err := c.Uninstall(); err != nil {
				t.Fatalf("Uninstall of a table that is not there: %v", err)
			}
		})
	}
}

// TestApplyRenamedTable: applying a program with another table name replaces the table
// applied before, in the same transaction.
func TestApplyRenamedTable(t *testing.T) {
	needRoot(t)
	e := loadEngine(t, filepath.Join("testdata", "seed.yaml"))
	ns, path := newNetns(t)
	c := openConn(t, path)
	for _, name := range []string{"first", "second"} {
		p, err := Compile(e, localPods(e, "node-a"), Options{TableName: name})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Apply(p); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustNft(t, ns, "", "list", "tables"); got != "table inet second\n" {
		t.Fatalf("tables after a rename: %q", got)
	}
	if err := c.Uninstall(); err != nil {
		t.Fatal(err)
	}
	if got := mustNft(t, ns, "", "list", "tables"); got != "" {
		t.Fatalf("tables after Uninstall: %q", got)
	}
}

// withPods loads a test case plus extra manifests (pods coming) and compiles it.
func withPods(t *testing.T, name, node, extra string) *Program {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "cluster.yaml")
	if err := os.WriteFile(f, []byte(string(src)+"\n---\n"+extra), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := loader.Load([]string{f}, loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := policy.Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(e, localPods(e, node), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Pods that come and go in the seed cluster: another backend on node-b (a peer of db),
// another db on node-a (local: its dispatch element jumps to the existing chain).
const morePods = `
apiVersion: v1
kind: Pod
metadata: {name: backend-2, labels: {app: backend}}
spec: {nodeName: node-b, containers: [{name: app, image: i}]}
status: {podIP: 10.0.2.30}
---
apiVersion: v1
kind: Pod
metadata: {name: db-2, labels: {app: db}}
spec:
  nodeName: node-a
  containers: [{name: postgres, image: postgres:17, ports: [{name: postgres, containerPort: 5432}]}]
status: {podIP: 10.0.1.21}
`

// A policy that gives backend (local, on node-a) egress rules: a chain and sets that the
// seed program does not have.
const backendEgress = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: backend-egress}
spec:
  podSelector: {matchLabels: {app: backend}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
    ports: [{port: 5432}]
  - to: [{ipBlock: {cidr: 10.96.0.0/16}}]
    ports: [{port: 53, protocol: UDP}, {port: 8000, endPort: 8100}]
`

// listing lists our table in a namespace with its top-level blocks (sets, maps, chains)
// sorted: a table built step by step lists them in the order they were made.
func listing(t *testing.T, ns string) string {
	t.Helper()
	out := mustNft(t, ns, "", "list", "table", "inet", "netwarden")
	body := strings.TrimSuffix(strings.TrimPrefix(out, "table inet netwarden {\n"), "}\n")
	blocks := strings.Split(body, "\n\n")
	for i := range blocks {
		blocks[i] = strings.TrimRight(blocks[i], "\n")
	}
	slices.Sort(blocks)
	return strings.Join(blocks, "\n\n")
}

// TestUpdateWritesOnlyTheDifference: pods coming and going change set elements in place;
// a policy coming or going adds or removes its chains and sets; after each Update the
// kernel holds exactly what a fresh Apply of the new program would, and the base chains
// were never replaced.
func TestUpdateWritesOnlyTheDifference(t *testing.T) {
	needRoot(t)
	before := withPods(t, "seed", "node-a", "")
	after := withPods(t, "seed", "node-a", morePods)
	policed := withPods(t, "seed", "node-a", morePods+"\n---\n"+backendEgress)
	d, ok := Diff(before, after)
	if !ok || d.Empty() || len(d.AddChains)+len(d.AddSets)+len(d.DeleteChains)+len(d.DeleteSets) > 0 {
		t.Fatalf("pods coming should change elements only; delta %+v (ok %v)", d, ok)
	}
	d, ok = Diff(after, policed)
	if !ok || len(d.AddChains) == 0 || len(d.AddSets) == 0 {
		t.Fatalf("a new policy should add chains and sets; delta %+v (ok %v)", d, ok)
	}

	ns, path := newNetns(t)
	c := openConn(t, path)
	if err := c.Apply(before); err != nil {
		t.Fatal(err)
	}
	// A rule handle survives updates but not a table replacement.
	handles := mustNft(t, ns, "", "-a", "list", "chain", "inet", "netwarden", "forward")
	for _, step := range []struct {
		name     string
		old, new *Program
	}{
		{"pods come", before, after},
		{"a policy comes", after, policed},
		{"the policy goes", policed, after},
		{"the policy comes back as the pods go", after, withPods(t, "seed", "node-a", backendEgress)},
	} {
		replaced := c.replaced
		if err := c.Update(step.old, step.new); err != nil {
			t.Fatalf("%s: Update: %v", step.name, err)
		}
		if c.replaced != replaced {
			t.Fatalf("%s: Update replaced the whole table", step.name)
		}
		got := listing(t, ns)
		fresh, _ := newNetns(t)
		mustNft(t, fresh, step.new.String(), "-f", "-")
		if want := listing(t, fresh); got != want {
			t.Fatalf("%s: after Update the kernel holds\n%s\nwant\n%s", step.name, got, want)
		}
		if h := mustNft(t, ns, "", "-a", "list", "chain", "inet", "netwarden", "forward"); h != handles {
			t.Fatalf("%s: Update replaced the base chains (handles changed):\n%s\nwas\n%s", step.name, h, handles)
		}
	}

	// An update from a state the kernel does not hold recovers by replacing the table.
	replaced := c.replaced
	if err := c.Update(policed, before); err != nil {
		t.Fatalf("Update from a stale old program: %v", err)
	}
	if c.replaced != replaced+1 {
		t.Fatal("a stale Update did not replace the table")
	}
	got := listing(t, ns)
	fresh, _ := newNetns(t)
	mustNft(t, fresh, before.String(), "-f", "-")
	if want := listing(t, fresh); got != want {
		t.Fatalf("after a stale Update the kernel holds\n%s\nwant\n%s", got, want)
	}
}

// TestDiffFallsBackToApply: what element and chain changes cannot express makes Diff
// refuse, so Update replaces the table.
func TestDiffFallsBackToApply(t *testing.T) {
	e := loadEngine(t, filepath.Join("testdata", "seed.yaml"))
	a, err := Compile(e, localPods(e, "node-a"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	renamed, err := Compile(e, localPods(e, "node-a"), Options{TableName: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := Diff(a, renamed); ok {
		t.Error("a renamed table was taken for an incremental change")
	}
	if _, ok := Diff(nil, a); ok {
		t.Error("no old program was taken for an incremental change")
	}
	if d, ok := Diff(a, a); !ok || !d.Empty() {
		t.Errorf("a program against itself: delta %+v, ok %v", d, ok)
	}
}

// TestApplyForgetsDeniedConnections: after a policy change, tracked connections the new
// program denies are deleted from conntrack (unless KeepEstablished), the others stay.
func TestApplyForgetsDeniedConnections(t *testing.T) {
	needRoot(t)
	_, path := newNetns(t)
	c := openConn(t, path)
	// The table's ct expressions turn conntrack on in the namespace.
	if err := c.Apply(withPods(t, "seed", "node-a", "")); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ct, err := conntrack.Dial(&netlink.Config{NetNS: int(f.Fd())})
	if err != nil {
		t.Fatal(err)
	}
	defer ct.Close()
	backend, analytics, db := netip.MustParseAddr("10.0.1.10"), netip.MustParseAddr("10.0.2.10"), netip.MustParseAddr("10.0.1.20")
	flows := map[string]conntrack.Flow{
		"backend to db on 5432, allowed":  conntrack.NewFlow(6, conntrack.StatusConfirmed|conntrack.StatusAssured, backend, db, 40000, 5432, 120, 0),
		"analytics to db on 5432, denied": conntrack.NewFlow(6, conntrack.StatusConfirmed|conntrack.StatusAssured, analytics, db, 40001, 5432, 120, 0),
		"analytics to backend, allowed":   conntrack.NewFlow(17, 0, analytics, backend, 40002, 8080, 120, 0),
	}
	for name, fl := range flows {
		if err := ct.Create(fl); err != nil {
			t.Fatalf("create conntrack entry %q: %v", name, err)
		}
	}
	present := func() map[string]bool {
		got, err := ct.Dump(nil)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for name, want := range flows {
			for _, g := range got {
				if g.TupleOrig.IP == want.TupleOrig.IP && g.TupleOrig.Proto.DestinationPort == want.TupleOrig.Proto.DestinationPort {
					out[name] = true
				}
			}
		}
		return out
	}

	// With KeepEstablished nothing is deleted; the seed program denies analytics -> db.
	keep := withPods(t, "seed", "node-a", "")
	keep.opts.KeepEstablished = true
	if err := c.Apply(keep); err != nil {
		t.Fatal(err)
	}
	if got := present(); len(got) != len(flows) {
		t.Fatalf("with KeepEstablished, connections were deleted; left: %v", got)
	}
	if err := c.Apply(withPods(t, "seed", "node-a", "")); err != nil {
		t.Fatal(err)
	}
	got := present()
	for name := range flows {
		want := !strings.HasSuffix(name, "denied")
		if got[name] != want {
			t.Errorf("%s: tracked after Apply = %v, want %v", name, got[name], want)
		}
	}
}
