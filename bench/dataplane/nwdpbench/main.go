// nwdpbench measures what enforcement costs real connections: in one emulated cluster
// (pkg/testbed: two nodes, a client pod and a server pod on different nodes, filler pods
// to populate the sets) it opens TCP connections one at a time from the client to the
// server for a few seconds under each scenario, interleaved over several rounds, and
// prints each scenario's median rate and its ratio to the plain network measured in the
// same run:
//
//   - plain: no nftables table.
//   - dataplane, no policies: netwarden's table with nothing to enforce (conntrack and
//     dispatch only).
//   - dataplane, N policies: N NetworkPolicies select the server, each allowing one other
//     address; one more allows the client, so every new connection walks the server's
//     whole ingress chain.
//
// It needs root. Numbers vary with the machine; the ratios are what to compare.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
	"github.com/netwarden/netwarden/pkg/testbed"
)

type scenario struct {
	Name      string
	Policies  int
	Enforce   bool
	ApplyMs   float64   `json:"applyMs,omitempty"`
	Rates     []float64 `json:"connPerSec"`
	Median    float64   `json:"median"`
	Ratio     float64   `json:"ratioToPlain"`
	cluster   *model.Cluster
	engine    *policy.Engine
	applyTime []time.Duration
}

func main() {
	var policies, fillers, rounds int
	var dur time.Duration
	var mode string
	var asJSON bool
	flag.IntVar(&policies, "policies", 1000, "NetworkPolicies selecting the server in the largest scenario")
	flag.IntVar(&fillers, "fillers", 50, "filler pods (they populate the peer sets)")
	flag.IntVar(&rounds, "rounds", 5, "rounds; every scenario is measured once per round")
	flag.DurationVar(&dur, "duration", 2*time.Second, "how long each measurement opens connections")
	flag.StringVar(&mode, "mode", "routed", "routed or bridge")
	flag.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	flag.Parse()
	m, err := testbed.ParseMode(mode)
	if err != nil {
		fail(err)
	}
	if err := testbed.RequireRoot(); err != nil {
		fail(err)
	}

	base := cluster(fillers)
	spec, err := testbed.Plan(base, testbed.PlanOptions{Mode: m, Nodes: 2})
	if err != nil {
		fail(err)
	}
	// Client and server on different nodes: Plan spreads pods round robin in name order.
	client, server := podIndex(base, "bench/client"), podIndex(base, "bench/server")
	if spec.Pods[client].Node == spec.Pods[server].Node {
		fail(fmt.Errorf("client and server landed on one node"))
	}
	spec.Pods[server].Ports = []policy.Port{{Proto: policy.ProtoTCP, Num: 80}}
	tb, err := testbed.New(context.Background(), spec)
	if err != nil {
		fail(err)
	}
	defer tb.Close()
	dst := netip.AddrPortFrom(spec.Pods[server].IPs[0], 80).String()

	scenarios := []*scenario{{Name: "plain"}, {Name: "dataplane, no policies", Enforce: true}}
	if policies > 0 {
		scenarios = append(scenarios, &scenario{Name: fmt.Sprintf("dataplane, %d policies", policies), Policies: policies, Enforce: true})
	}
	for _, s := range scenarios {
		s.cluster = withPolicies(base, s.Policies)
		if s.engine, err = policy.Compile(s.cluster); err != nil {
			fail(err)
		}
	}
	for range rounds {
		for _, s := range scenarios {
			if s.Enforce {
				t := time.Now()
				if err := tb.Enforce(s.engine); err != nil {
					fail(err)
				}
				s.applyTime = append(s.applyTime, time.Since(t))
			} else if err := tb.Unenforce(); err != nil {
				fail(err)
			}
			if err := tb.ResetConntrack(); err != nil {
				fail(err)
			}
			rate, err := connectRate(tb, client, dst, dur)
			if err != nil {
				fail(fmt.Errorf("%s: %w", s.Name, err))
			}
			s.Rates = append(s.Rates, rate)
		}
	}
	plain := median(scenarios[0].Rates)
	for _, s := range scenarios {
		s.Median = median(s.Rates)
		s.Ratio = s.Median / plain
		if len(s.applyTime) > 0 {
			var ms []float64
			for _, d := range s.applyTime {
				ms = append(ms, float64(d.Microseconds())/1000)
			}
			s.ApplyMs = median(ms)
		}
	}
	if asJSON {
		json.NewEncoder(os.Stdout).Encode(map[string]any{"mode": m, "pods": len(spec.Pods), "setupMs": tb.SetupTime.Milliseconds(), "scenarios": scenarios})
		return
	}
	fmt.Printf("testbed: %d pods on 2 nodes (%s), setup %v; TCP connect+close, concurrency 1, %v x %d rounds, medians\n\n",
		len(spec.Pods), m, tb.SetupTime.Round(time.Millisecond), dur, rounds)
	fmt.Printf("| scenario | conn/s | ratio to plain | apply (ms) |\n|---|---|---|---|\n")
	for _, s := range scenarios {
		apply := "-"
		if s.ApplyMs > 0 {
			apply = fmt.Sprintf("%.1f", s.ApplyMs)
		}
		fmt.Printf("| %s | %.0f | %.2f | %s |\n", s.Name, s.Median, s.Ratio, apply)
	}
}

// connectRate opens and closes connections one at a time for d from the client pod.
func connectRate(tb *testbed.Testbed, client int, dst string, d time.Duration) (float64, error) {
	var n int
	var took time.Duration
	err := tb.InPod(client, func() error {
		start := time.Now()
		for time.Since(start) < d {
			c, err := net.DialTimeout("tcp", dst, time.Second)
			if err != nil {
				return err
			}
			c.Close()
			n++
		}
		took = time.Since(start)
		return nil
	})
	return float64(n) / took.Seconds(), err
}

func cluster(fillers int) *model.Cluster {
	c := &model.Cluster{}
	add := func(name string, labels map[string]string) {
		p := &corev1.Pod{}
		p.Namespace, p.Name, p.Labels = "bench", name, labels
		p.Spec.Containers = []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{ContainerPort: 80}}}}
		c.Pods = append(c.Pods, p)
	}
	add("client", map[string]string{"app": "client"})
	add("server", map[string]string{"app": "server"})
	for i := range fillers {
		add(fmt.Sprintf("filler-%03d", i), map[string]string{"app": "filler", "n": fmt.Sprint(i)})
	}
	c.Normalize()
	return c
}

// withPolicies returns base with n NetworkPolicies on the server: n-1 allow an address
// nobody has, the last allows the client.
func withPolicies(base *model.Cluster, n int) *model.Cluster {
	c := &model.Cluster{Namespaces: base.Namespaces, Pods: base.Pods, Nodes: base.Nodes}
	for i := range n {
		np := &networkingv1.NetworkPolicy{}
		np.Namespace, np.Name = "bench", fmt.Sprintf("allow-%04d", i)
		np.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"app": "server"}}
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		peer := networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: fmt.Sprintf("10.250.%d.%d/32", i/250, i%250+1)}}
		if i == n-1 {
			peer = networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "client"}}}
		}
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{peer}}}
		c.NetworkPolicies = append(c.NetworkPolicies, np)
	}
	c.Normalize()
	return c
}

func podIndex(c *model.Cluster, key string) int {
	for i, p := range c.Pods {
		if p.Namespace+"/"+p.Name == key {
			return i
		}
	}
	fail(fmt.Errorf("no pod %s", key))
	return -1
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "nwdpbench:", err)
	os.Exit(1)
}
