package dataplane

import (
	"flag"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

var scalePods = flag.Int("scale", 0, "TestScale: pods in the synthetic cluster (0 skips; try 20000)")

func scaleProgram(t *testing.T, c *model.Cluster, node string) (*policy.Engine, *Program) {
	t.Helper()
	e, err := policy.Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(e, localPods(e, node), Options{KeepEstablished: true})
	if err != nil {
		t.Fatal(err)
	}
	return e, p
}

// TestScale measures, in one run, applying a big program through netlink against nft -f
// of its text, and updating one pod's elements against applying everything. It prints
// ratios and asserts nothing about time.
func TestScale(t *testing.T) {
	if *scalePods == 0 {
		t.Skip("skipped: pass -scale N (e.g. 20000) to measure a cluster of N pods")
	}
	needRoot(t)
	n := *scalePods
	cluster := scaleCluster(n)
	start := time.Now()
	e, err := policy.Compile(cluster)
	if err != nil {
		t.Fatal(err)
	}
	engineTime := time.Since(start)
	start = time.Now()
	p, err := Compile(e, localPods(e, "node0"), Options{KeepEstablished: true})
	if err != nil {
		t.Fatal(err)
	}
	compileTime := time.Since(start)
	elements := 0
	for _, s := range p.Sets {
		elements += len(s.Elements)
	}
	rules := 0
	for _, c := range p.Chains {
		rules += len(c.Rules)
	}

	nsA, pathA := newNetns(t)
	nsB, _ := newNetns(t)
	c := openConn(t, pathA)
	start = time.Now()
	if err := c.Apply(p); err != nil {
		t.Fatal(err)
	}
	applyTime := time.Since(start)
	text := p.String()
	start = time.Now()
	mustNft(t, nsB, text, "-f", "-")
	nftTime := time.Since(start)

	// A pod comes on another node (a peer of every namespace's monitoring rule if it
	// were in monitoring; here a peer of its own namespace's set), then a local one.
	newPod := func(name, node string, ip netip.Addr) *corev1.Pod {
		p := &corev1.Pod{}
		p.Name, p.Namespace = name, "ns0"
		p.Labels = map[string]string{"app": "app0"}
		p.Spec.NodeName = node
		p.Spec.Containers = []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8000}}}}
		p.Status.PodIP = ip.String()
		return p
	}
	_, remote := scaleProgram(t, scaleCluster(n, newPod("new-remote", "node9", netip.MustParseAddr("10.255.0.1"))), "node0")
	_, local := scaleProgram(t, scaleCluster(n, newPod("new-remote", "node9", netip.MustParseAddr("10.255.0.1")), newPod("new-local", "node0", netip.MustParseAddr("10.255.0.2"))), "node0")
	var updates []time.Duration
	for _, step := range [][2]*Program{{p, remote}, {remote, local}} {
		if _, ok := Diff(step[0], step[1]); !ok {
			t.Fatal("a pod coming changed the program's structure")
		}
		start = time.Now()
		if err := c.Update(step[0], step[1]); err != nil {
			t.Fatal(err)
		}
		updates = append(updates, time.Since(start))
	}
	if got := mustNft(t, nsA, "", "list", "map", "inet", "netwarden", "ingress4"); !containsAll(got, "10.255.0.2") {
		t.Fatalf("the local pod's dispatch element is missing:\n%s", got)
	}

	t.Logf("%d pods (%d local), %d engine pods: %d sets with %d elements, %d chains with %d rules, %d KiB of nft text",
		n, len(localPods(e, "node0")), len(e.Pods), len(p.Sets), elements, len(p.Chains), rules, len(text)/1024)
	t.Logf("engine %v; compile %v; apply via netlink %v; nft -f %v (%.1fx the netlink time)", engineTime.Round(time.Millisecond), compileTime.Round(time.Millisecond), applyTime.Round(time.Millisecond), nftTime.Round(time.Millisecond), float64(nftTime)/float64(applyTime))
	t.Logf("update for a remote pod %v (%.0fx faster than apply), for a local pod %v (%.0fx faster)",
		updates[0].Round(time.Microsecond), float64(applyTime)/float64(updates[0]), updates[1].Round(time.Microsecond), float64(applyTime)/float64(updates[1]))
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
