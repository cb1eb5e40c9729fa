// nwdpscale measures what programming the kernel costs at cluster scale, without
// packets: for synthetic clusters of growing size it times compiling the node's program,
// applying it whole over netlink (in a network namespace of its own), and then small
// changes (a pod coming, going, relabelled; a local pod coming; a policy coming), each
// split into compile, diff and the kernel write, and it reports the compiler's memory.
//
// The cluster: pods in namespaces of 50 with apps of 10 pods, 100 pods a node, the last
// of each node a prometheus pod in namespace monitoring; every namespace is isolated,
// lets its own pods and prometheus in on the named port http, and every pod of the
// cluster on 9100 (so the node's program holds the whole cluster twice: the big sets of
// a real cluster). The node measured is node0. With -ranges, every other pod of the
// cluster (by address) is also let in on ports 30000-30100: pod peers on a port range
// live in interval sets, and scattered addresses make one range each, so this is the
// costly case: interval sets cost more to change, and to look up, as they grow.
//
// Every compiled rule counts in a counter object of its own (accounting); -log also
// logs denied packets. The counters column is how many the program has, and "read
// counters" how long one dump of all of them takes (Conn.Counters, what the agent's
// metrics do).
//
// It needs root. Timings vary with the machine; each change is measured several times
// and the median printed.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netwarden/netwarden/pkg/dataplane"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

type change struct {
	Name     string  `json:"name"`
	Elements int     `json:"elements"` // elements the delta writes
	Engine   float64 `json:"engineMs"`
	Compile  float64 `json:"compileMs"`
	Diff     float64 `json:"diffMs"`
	Write    float64 `json:"writeMs"`
}

type result struct {
	Pods        int      `json:"pods"`
	Elements    int      `json:"elements"`
	Sets        int      `json:"sets"`
	Chains      int      `json:"chains"`
	EngineMs    float64  `json:"engineMs"`
	CompileMs   float64  `json:"compileMs"`
	ApplyMs     float64  `json:"applyMs"`
	NftMs       float64  `json:"nftMs,omitempty"`
	Counters    int      `json:"counters"`
	CountersMs  float64  `json:"countersMs"`
	AllocMB     float64  `json:"compileAllocMB"`
	RetainedMB  float64  `json:"programRetainedMB"`
	Allocs      uint64   `json:"compileAllocs"`
	Changes     []change `json:"changes"`
	applyRounds []time.Duration
}

func main() {
	var sizes string
	var repeat int
	var withNft, asJSON, ranges bool
	flag.StringVar(&sizes, "pods", "10000,50000,100000", "cluster sizes (pods), comma-separated")
	flag.IntVar(&repeat, "repeat", 5, "measurements of each change (the median is printed)")
	flag.BoolVar(&withNft, "nft", false, "also time `nft -f` of the program's text (slow at scale)")
	flag.BoolVar(&asJSON, "json", false, "print JSON instead of tables")
	flag.BoolVar(&logDenied, "log", false, "compile with denied packets logged through NFLOG (log rules and the shared limit)")
	flag.BoolVar(&ranges, "ranges", false, "add a rule letting every pod of the cluster in on a port range (pods on port ranges live in interval sets: the costly case)")
	flag.Parse()
	if logDenied {
		compileOptions.Log = dataplane.LogOptions{Group: dataplane.DefaultLogGroup, Denied: true}
	}
	if os.Geteuid() != 0 {
		fail(fmt.Errorf("needs root: it loads nftables tables in a network namespace of its own"))
	}
	ns := fmt.Sprintf("nwdpscale-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		fail(fmt.Errorf("ip netns add: %v: %s", err, out))
	}
	defer exec.Command("ip", "netns", "del", ns).Run()

	var results []*result
	for _, f := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 200 {
			fail(fmt.Errorf("-pods: %q is not a size of at least 200", f))
		}
		r, err := measure(ns, n, repeat, withNft, ranges)
		if err != nil {
			fail(err)
		}
		results = append(results, r)
		fmt.Fprintf(os.Stderr, "nwdpscale: %d pods done\n", n)
	}
	if asJSON {
		json.NewEncoder(os.Stdout).Encode(results)
		return
	}
	print(results, withNft)
}

// compileOptions are what every program is compiled with.
var compileOptions = dataplane.Options{KeepEstablished: true}

// logDenied makes the programs log denied packets.
var logDenied bool

func measure(ns string, n, repeat int, withNft, ranges bool) (*result, error) {
	r := &result{Pods: n}
	base := spec{pods: n, ranges: ranges}
	e, took, err := engine(base)
	if err != nil {
		return nil, err
	}
	r.EngineMs = ms(took)

	// Memory: what one compile allocates, and what the program keeps alive.
	runtime.GC()
	var m0, m1, m2 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start := time.Now()
	p, err := dataplane.Compile(e, local(e), compileOptions)
	if err != nil {
		return nil, err
	}
	r.CompileMs = ms(time.Since(start))
	runtime.ReadMemStats(&m1)
	runtime.GC()
	runtime.ReadMemStats(&m2)
	runtime.KeepAlive(e) // the engine was there before; only the program is new
	r.AllocMB = float64(m1.TotalAlloc-m0.TotalAlloc) / (1 << 20)
	r.Allocs = m1.Mallocs - m0.Mallocs
	r.RetainedMB = (float64(m2.HeapAlloc) - float64(m0.HeapAlloc)) / (1 << 20)
	for _, s := range p.Sets {
		r.Elements += len(s.Elements)
	}
	r.Sets, r.Chains = len(p.Sets), len(p.Chains)

	c, err := dataplane.Open("/run/netns/" + ns)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	defer c.Uninstall()
	var applies []float64
	for range 3 {
		start = time.Now()
		if err := c.Apply(p); err != nil {
			return nil, fmt.Errorf("apply %d pods: %w", n, err)
		}
		applies = append(applies, ms(time.Since(start)))
	}
	r.ApplyMs = median(applies)
	r.Counters = len(p.Accounts)
	var reads []float64
	for range 5 {
		start = time.Now()
		counts, err := c.Counters(p.Table)
		if err != nil {
			return nil, err
		}
		reads = append(reads, ms(time.Since(start)))
		if len(counts) != len(p.Accounts) {
			return nil, fmt.Errorf("%d counters read for %d accounts", len(counts), len(p.Accounts))
		}
	}
	r.CountersMs = median(reads)
	if withNft {
		text := p.String()
		start = time.Now()
		cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("nft -f: %v: %s", err, out)
		}
		r.NftMs = ms(time.Since(start))
		if err := c.Apply(p); err != nil {
			return nil, err
		}
	}

	// Each change goes there and back, so every measurement starts from the base program.
	changes := []struct {
		name string
		s    spec
	}{
		{"a pod comes on another node", spec{pods: n, ranges: ranges, extraRemote: true}},
		{"a pod goes on another node", spec{pods: n, ranges: ranges, dropRemote: true}},
		{"a prometheus pod on another node is relabelled", spec{pods: n, ranges: ranges, relabelRemote: true}},
		{"a pod comes on this node", spec{pods: n, ranges: ranges, extraLocal: true}},
		{"a policy comes (new chains and sets)", spec{pods: n, ranges: ranges, extraPolicy: true}},
	}
	for _, ch := range changes {
		res := change{Name: ch.name}
		var eng, comp, diff, write []float64
		for range repeat {
			e2, took, err := engine(ch.s)
			if err != nil {
				return nil, err
			}
			eng = append(eng, ms(took))
			start := time.Now()
			p2, err := dataplane.Compile(e2, local(e2), compileOptions)
			if err != nil {
				return nil, err
			}
			comp = append(comp, ms(time.Since(start)))
			start = time.Now()
			d, ok := dataplane.Diff(p, p2)
			diff = append(diff, ms(time.Since(start)))
			if !ok {
				return nil, fmt.Errorf("%s: not an incremental change", ch.name)
			}
			res.Elements = d.Elements(p2)
			start = time.Now()
			if err := c.ApplyDelta(p2, d); err != nil {
				return nil, fmt.Errorf("%s: %w", ch.name, err)
			}
			write = append(write, ms(time.Since(start)))
			// And back, untimed.
			back, _ := dataplane.Diff(p2, p)
			if err := c.ApplyDelta(p, back); err != nil {
				return nil, fmt.Errorf("%s, back: %w", ch.name, err)
			}
		}
		res.Engine, res.Compile, res.Diff, res.Write = median(eng), median(comp), median(diff), median(write)
		r.Changes = append(r.Changes, res)
	}
	return r, nil
}

func print(rs []*result, withNft bool) {
	fmt.Printf("node0 of a synthetic cluster (pods in namespaces of 50, 100 a node); medians\n\n")
	fmt.Printf("| pods | set elements | sets | chains | engine (ms) | compile (ms) | apply (ms) |")
	if withNft {
		fmt.Printf(" nft -f (ms) |")
	}
	fmt.Printf(" counters | read counters (ms) | compile allocates (MiB / allocs) | program keeps (MiB) |\n|---|---|---|---|---|---|---|---|---|")
	if withNft {
		fmt.Printf("---|")
	}
	fmt.Printf("---|---|\n")
	for _, r := range rs {
		fmt.Printf("| %d | %d | %d | %d | %.0f | %.0f | %.0f |", r.Pods, r.Elements, r.Sets, r.Chains, r.EngineMs, r.CompileMs, r.ApplyMs)
		if withNft {
			fmt.Printf(" %.0f |", r.NftMs)
		}
		fmt.Printf(" %d | %.2f | %.0f / %d | %.1f |\n", r.Counters, r.CountersMs, r.AllocMB, r.Allocs, r.RetainedMB)
	}
	fmt.Printf("\nOne change, from the program above: policy engine, dataplane compile, Diff, and the kernel write (ApplyDelta)\n\n")
	fmt.Printf("| pods | change | elements written | engine (ms) | compile (ms) | diff (ms) | write (ms) |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		for _, c := range r.Changes {
			fmt.Printf("| %d | %s | %d | %.1f | %.1f | %.3f | %.3f |\n", r.Pods, c.Name, c.Elements, c.Engine, c.Compile, c.Diff, c.Write)
		}
	}
}

// spec is a synthetic cluster and one change to it.
type spec struct {
	pods                                int
	extraRemote, dropRemote, extraLocal bool
	relabelRemote, extraPolicy          bool
	ranges                              bool
}

const podsPerNS, podsPerApp, podsPerNode = 50, 10, 100

func cluster(s spec) *model.Cluster {
	c := &model.Cluster{}
	addPod := func(name, ns, app, node string, ip netip.Addr) {
		p := &corev1.Pod{}
		p.Name, p.Namespace = name, ns
		// half alternates with the address: a selector on it picks every other address.
		p.Labels = map[string]string{"app": app, "half": strconv.Itoa(int(ip.As4()[3] % 2))}
		p.Spec.NodeName = node
		p.Spec.Containers = []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}
		p.Status.PodIP = ip.String()
		c.Pods = append(c.Pods, p)
	}
	for i := range s.pods {
		if s.dropRemote && i == s.pods-1 {
			continue
		}
		ns, app := fmt.Sprintf("ns%d", i/podsPerNS), fmt.Sprintf("app%d", i%podsPerNS/podsPerApp)
		if i%podsPerNode == podsPerNode-1 {
			// One monitoring pod a node, allowed into every namespace.
			ns, app = "monitoring", "prometheus"
			if s.relabelRemote && i == s.pods-1 {
				app = "relabelled"
			}
		}
		addPod(fmt.Sprintf("p%d", i), ns, app, fmt.Sprintf("node%d", i/podsPerNode), podIP(i))
	}
	if s.extraRemote {
		addPod("new-remote", "ns0", "app0", "node9999", netip.MustParseAddr("10.255.0.1"))
	}
	if s.extraLocal {
		addPod("new-local", "ns0", "app0", "node0", netip.MustParseAddr("10.255.0.2"))
	}
	tcp := corev1.ProtocolTCP
	http := intstr.FromString("http")
	metrics := intstr.FromInt32(9100)
	ranged := intstr.FromInt32(30000)
	for ns := range (s.pods + podsPerNS - 1) / podsPerNS {
		name := fmt.Sprintf("ns%d", ns)
		deny := &networkingv1.NetworkPolicy{}
		deny.Name, deny.Namespace = "default-deny", name
		deny.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		allow := &networkingv1.NetworkPolicy{}
		allow.Name, allow.Namespace = "apps", name
		allow.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
			From: []networkingv1.NetworkPolicyPeer{
				{PodSelector: &metav1.LabelSelector{}},
				{
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{model.NamespaceNameLabel: "monitoring"}},
					PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "prometheus"}},
				},
			},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &http}},
		}, {
			From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &metrics}},
		}}
		if s.ranges {
			end := int32(30100)
			allow.Spec.Ingress = append(allow.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{
				From: []networkingv1.NetworkPolicyPeer{{
					NamespaceSelector: &metav1.LabelSelector{},
					PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"half": "1"}},
				}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &ranged, EndPort: &end}},
			})
		}
		c.NetworkPolicies = append(c.NetworkPolicies, deny, allow)
	}
	if s.extraPolicy {
		eg := &networkingv1.NetworkPolicy{}
		eg.Name, eg.Namespace = "app0-egress", "ns0"
		eg.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"app": "app0"}}
		eg.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
		eg.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
			To:    []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "app1"}}}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &http}},
		}}
		c.NetworkPolicies = append(c.NetworkPolicies, eg)
	}
	c.Normalize()
	return c
}

func podIP(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

func engine(s spec) (*policy.Engine, time.Duration, error) {
	c := cluster(s)
	start := time.Now()
	e, err := policy.Compile(c)
	return e, time.Since(start), err
}

func local(e *policy.Engine) []int32 {
	var out []int32
	for i, p := range e.Pods {
		if p.Pod.Spec.NodeName == "node0" {
			out = append(out, int32(i))
		}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "nwdpscale:", err)
	os.Exit(1)
}
