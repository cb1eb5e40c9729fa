package testbed

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// requireRoot skips tests that create network namespaces when they cannot.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: the testbed needs root to create network namespaces (run the tests as root)")
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		t.Skip("skipping: no network namespaces on this system")
	}
}

func testPod(ns, name string, labels map[string]string, ports ...string) *corev1.Pod {
	p := &corev1.Pod{}
	p.Namespace, p.Name, p.Labels = ns, name, labels
	c := corev1.Container{Name: "app"}
	for _, s := range ports {
		pt, err := policy.ParsePort(s)
		if err != nil {
			panic(err)
		}
		c.Ports = append(c.Ports, corev1.ContainerPort{ContainerPort: int32(pt.Num), Protocol: corev1.Protocol(pt.Proto.String())})
	}
	p.Spec.Containers = []corev1.Container{c}
	return p
}

// newTestbed builds a testbed from pods serving their declared ports and removes it when
// the test ends.
func newTestbed(t testing.TB, opts PlanOptions, pods ...*corev1.Pod) (*Testbed, *model.Cluster) {
	t.Helper()
	c := &model.Cluster{Pods: pods}
	c.Normalize()
	spec, err := Plan(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range c.Pods {
		spec.Pods[i].Ports = policy.DeclaredPorts(p)
	}
	tb, err := New(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tb.Close(); err != nil {
			t.Errorf("closing the testbed: %v", err)
		}
		if left, _ := List(tb.Prefix); len(left) > 0 {
			t.Errorf("namespaces left after Close: %v", left)
		}
	})
	return tb, c
}

// allPairs probes every ordered pair on the destination's ports, in every family.
func allPairs(tb *Testbed) []Probe {
	var out []Probe
	for _, f := range tb.Spec.Families {
		for a := range tb.Spec.Pods {
			for b, pb := range tb.Spec.Pods {
				for _, pt := range pb.Ports {
					out = append(out, Probe{From: a, To: b, Port: pt, Family: f})
				}
			}
		}
	}
	return out
}

func withIPs(p *corev1.Pod, ips ...string) *corev1.Pod {
	p.Status.PodIP = ips[0]
	for _, ip := range ips {
		p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: ip})
	}
	return p
}

func hostNetwork(p *corev1.Pod) *corev1.Pod {
	p.Spec.HostNetwork = true
	return p
}

func TestWithoutPoliciesEveryPairIsReachable(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		name string
		opts PlanOptions
		pods []*corev1.Pod
	}{
		{"routed IPv4 on one node", PlanOptions{Mode: Routed, Nodes: 1}, nil},
		{"routed IPv4 across two nodes", PlanOptions{Mode: Routed, Nodes: 2}, nil},
		{"bridged IPv4 across two nodes", PlanOptions{Mode: Bridged, Nodes: 2}, nil},
		{"routed IPv6 across two nodes", PlanOptions{Mode: Routed, Nodes: 2, Families: []int{6}}, nil},
		{"bridged dual-stack across three nodes", PlanOptions{Mode: Bridged, Nodes: 3, Families: []int{4, 6}}, nil},
		{"kept addresses outside the node ranges, bridged", PlanOptions{Mode: Bridged, Nodes: 2, KeepAddresses: true}, []*corev1.Pod{
			withIPs(testPod("x", "a", nil, "80/TCP", "81/UDP", "82/SCTP"), "10.0.1.10", "fd00::1:a"),
			withIPs(testPod("x", "b", nil, "80/TCP"), "10.0.1.11", "fd00::1:b"),
			withIPs(testPod("y", "a", nil, "81/UDP"), "10.0.2.10", "fd00::2:a"),
			testPod("y", "b", nil, "80/TCP"), // no address: one is assigned
		}},
		{"kept addresses, routed", PlanOptions{Mode: Routed, Nodes: 2, KeepAddresses: true}, []*corev1.Pod{
			withIPs(testPod("x", "a", nil, "80/TCP", "81/UDP", "82/SCTP"), "10.0.1.10"),
			withIPs(testPod("x", "b", nil, "80/TCP"), "10.0.1.11"),
			withIPs(testPod("y", "a", nil, "81/UDP"), "10.0.2.10"),
		}},
		{"hostNetwork pods, bridged dual-stack", PlanOptions{Mode: Bridged, Nodes: 2, Families: []int{4, 6}}, []*corev1.Pod{
			testPod("x", "a", nil, "80/TCP", "81/UDP", "82/SCTP"),
			testPod("x", "b", nil, "80/TCP"),
			hostNetwork(testPod("kube-system", "agent-0", nil, "9100/TCP", "9101/UDP")),
			hostNetwork(testPod("kube-system", "agent-1", nil, "9100/TCP", "9102/SCTP")),
		}},
		{"hostNetwork pods, routed", PlanOptions{Mode: Routed, Nodes: 1}, []*corev1.Pod{
			testPod("x", "a", nil, "80/TCP", "81/UDP"),
			hostNetwork(testPod("kube-system", "agent-0", nil, "9100/TCP", "9101/UDP")),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pods := tc.pods
			if pods == nil {
				pods = []*corev1.Pod{
					testPod("x", "a", nil, "80/TCP", "81/UDP", "82/SCTP"),
					testPod("x", "b", nil, "80/TCP", "81/UDP"),
					testPod("y", "a", nil, "80/TCP", "82/SCTP"),
					testPod("y", "b", nil, "81/UDP"),
				}
			}
			tb, _ := newTestbed(t, tc.opts, pods...)
			probes := allPairs(tb)
			start := time.Now()
			obs := tb.Probe(context.Background(), probes, ProbeOptions{})
			took := time.Since(start)
			for _, o := range obs {
				if o.Outcome == Skipped && o.Port.Proto == policy.ProtoSCTP {
					t.Logf("SCTP skipped: %v", o.Err)
					continue
				}
				if !o.Outcome.Reached() {
					t.Errorf("%s: %s (%v)", tb.describe(o.Probe), o.Outcome, o.Err)
				}
			}
			t.Logf("setup %v; %d probes in %v (%.0f/s); SCTP: %s", tb.SetupTime.Round(time.Millisecond), len(obs), took.Round(time.Millisecond), float64(len(obs))/took.Seconds(), tb.SCTP())
		})
	}
}

func TestPortsNobodyServesAreRefused(t *testing.T) {
	requireRoot(t)
	tb, _ := newTestbed(t, PlanOptions{Nodes: 2},
		testPod("x", "a", nil, "80/TCP"),
		testPod("x", "b", nil, "80/TCP"),
	)
	for _, pt := range []string{"9/TCP", "9/UDP", "9/SCTP"} {
		port, _ := policy.ParsePort(pt)
		o := tb.ProbeOne(context.Background(), Probe{From: 0, To: 1, Port: port}, ProbeOptions{})
		if o.Outcome == Skipped {
			t.Logf("%s skipped: %v", pt, o.Err)
			continue
		}
		if o.Outcome != Refused {
			t.Errorf("%s: got %s (%v), want refused", pt, o.Outcome, o.Err)
		}
	}
}

func TestCloseRemovesEveryNamespace(t *testing.T) {
	requireRoot(t)
	c := &model.Cluster{Pods: []*corev1.Pod{testPod("x", "a", nil, "80/TCP"), testPod("x", "b", nil, "80/UDP")}}
	c.Normalize()
	spec, err := Plan(c, PlanOptions{Nodes: 2, Mode: Bridged})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := New(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := List(tb.Prefix)
	if want := 1 + 2 + 2; len(names) != want { // fabric, nodes, pods
		t.Errorf("namespaces while running: %v, want %d", names, want)
	}
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := List(tb.Prefix); len(left) > 0 {
		t.Errorf("left after Close: %v", left)
	}
	if err := tb.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCleanupRemovesLeftoversOfACrashedRun(t *testing.T) {
	requireRoot(t)
	// A run of a process that no longer exists: pid 0 is never a process.
	prefix := NamePrefix + "0-dead00-"
	for _, role := range []string{"n0", "p0"} {
		h, err := createNetns(prefix + role)
		if err != nil {
			t.Fatal(err)
		}
		h.Close()
	}
	t.Cleanup(func() { Cleanup(prefix) })
	removed, err := CleanupStale()
	if err != nil {
		t.Fatal(err)
	}
	// Leftovers of other dead runs may go too; ours must.
	for _, want := range []string{prefix + "n0", prefix + "p0"} {
		if !slices.Contains(removed, want) {
			t.Errorf("removed %v, not %s", removed, want)
		}
	}
	if left, _ := List(prefix); len(left) > 0 {
		t.Errorf("left: %v", left)
	}
}

func TestPlanGivesEveryPodAnAddressOnItsNode(t *testing.T) {
	pinned := testPod("x", "pinned", nil)
	pinned.Spec.NodeName = "worker"
	c := &model.Cluster{Pods: []*corev1.Pod{testPod("x", "a", nil), testPod("x", "b", nil), pinned, testPod("y", "c", nil)}}
	c.Normalize()
	spec, err := Plan(c, PlanOptions{Nodes: 2, Families: []int{6, 4}})
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for i, p := range spec.Pods {
		got += fmt.Sprintf("%s@%s:%v=%s,%s ", p.Key, spec.Nodes[p.Node].Name, p.IPs, c.Pods[i].Spec.NodeName, c.Pods[i].Status.PodIP)
	}
	want := "x/a@worker:[10.244.0.2 fd00:10:244::2]=worker,10.244.0.2 " +
		"x/b@node-1:[10.244.1.2 fd00:10:244:1::2]=node-1,10.244.1.2 " +
		"x/pinned@worker:[10.244.0.3 fd00:10:244::3]=worker,10.244.0.3 " +
		"y/c@worker:[10.244.0.4 fd00:10:244::4]=worker,10.244.0.4 "
	if got != want {
		t.Errorf("plan:\n got %s\nwant %s", got, want)
	}
	if len(c.Nodes) != 2 || c.Nodes[1].Status.Addresses[0].Address != "172.18.0.2" {
		t.Errorf("node objects: %+v", c.Nodes)
	}
}

// TestInterruptRemovesEverything sends SIGINT to a child process holding a testbed and
// checks its namespaces are gone.
func TestInterruptRemovesEverything(t *testing.T) {
	if os.Getenv("NETWARDEN_TESTBED_CHILD") == "1" {
		c := &model.Cluster{Pods: []*corev1.Pod{testPod("x", "a", nil, "80/TCP"), testPod("x", "b", nil, "80/UDP")}}
		c.Normalize()
		spec, err := Plan(c, PlanOptions{Nodes: 2})
		if err != nil {
			panic(err)
		}
		tb, err := New(context.Background(), spec)
		if err != nil {
			panic(err)
		}
		fmt.Println(tb.Prefix)
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	requireRoot(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestInterruptRemovesEverything$")
	cmd.Env = append(os.Environ(), "NETWARDEN_TESTBED_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("child: %v", err)
	}
	prefix := strings.TrimSpace(line)
	t.Cleanup(func() { Cleanup(prefix) })
	if names, _ := List(prefix); len(names) != 5 {
		t.Errorf("child's namespaces before the signal: %v", names)
	}
	cmd.Process.Signal(os.Interrupt)
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !(ws.Signaled() && ws.Signal() == syscall.SIGINT || ws.ExitStatus() == 130) {
		t.Errorf("child ended with %v, want death by SIGINT (or exit 130)", err)
	}
	if left, _ := List(prefix); len(left) > 0 {
		t.Errorf("left after SIGINT: %v", left)
	}
}
