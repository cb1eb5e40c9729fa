package dataplane

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/policy"
)

var update = flag.Bool("update", false, "rewrite the golden .nft files under testdata")

// goldenCases are the compiler's golden tests: testdata/NAME.yaml compiled for a node
// ("" makes every pod local) must print testdata/NAME.nft.
var goldenCases = []struct {
	name, node string
}{
	{"seed", "node-a"},
	{"default-deny", ""},
	{"ipblock-except", ""},
	{"named-ports", ""},
	{"endport", ""},
	{"anp-pass", ""},
	{"banp", ""},
	{"cnp", "node-1"},
	{"ipv6", ""},
	{"logging", ""},
}

// goldenOptions are the options of golden cases that are not compiled with the defaults.
var goldenOptions = map[string]Options{
	"logging": {Log: LogOptions{Group: DefaultLogGroup, Denied: true, Allowed: true, Audit: true, Rate: 10, Burst: 20}},
}

func loadEngine(t testing.TB, file string) *policy.Engine {
	t.Helper()
	c, err := loader.Load([]string{file}, loader.Options{})
	if err != nil {
		t.Fatalf("load %s: %v", file, err)
	}
	e, err := policy.Compile(c)
	if err != nil {
		t.Fatalf("compile %s: %v", file, err)
	}
	return e
}

// localPods are the pods on node ("" for every pod).
func localPods(e *policy.Engine, node string) []int32 {
	var out []int32
	for i, p := range e.Pods {
		if node == "" || p.Pod.Spec.NodeName == node {
			out = append(out, int32(i))
		}
	}
	return out
}

func compileCase(t testing.TB, name, node string) (*policy.Engine, *Program) {
	t.Helper()
	e := loadEngine(t, filepath.Join("testdata", name+".yaml"))
	p, err := Compile(e, localPods(e, node), goldenOptions[name])
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return e, p
}

func TestCompileGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			_, p := compileCase(t, tc.name, tc.node)
			got := p.String()
			path := filepath.Join("testdata", tc.name+".nft")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("program differs from %s (run with -update and review the diff):\n%s", path, got)
			}
		})
	}
}

func TestCompileIsDeterministic(t *testing.T) {
	for _, tc := range goldenCases {
		_, a := compileCase(t, tc.name, tc.node)
		_, b := compileCase(t, tc.name, tc.node)
		if a.String() != b.String() {
			t.Errorf("%s: two compiles of the same input differ", tc.name)
		}
	}
}

// TestProgramAgreesWithEngine is the specification: for every local pod, direction, peer
// address (every pod, every node, and addresses around every CIDR the policies name) and
// port, the compiled program decides as policy.Engine.DecideDirection does. Whole
// connections between local pods must also agree with Engine.Decide.
func TestProgramAgreesWithEngine(t *testing.T) {
	for _, tc := range goldenCases {
		nodes := []string{""}
		if tc.node != "" {
			nodes = append(nodes, tc.node)
		}
		for _, node := range nodes {
			e, p := compileCase(t, tc.name, node)
			n, denied := checkAgainstEngine(t, tc.name+"@"+node, e, p, localPods(e, node))
			t.Logf("%s on node %q: %d decisions agree (%d of them deny)", tc.name, node, n, denied)
			if n == 0 {
				t.Errorf("%s: nothing was checked", tc.name)
			}
		}
	}
}

// checkAgainstEngine compares every direction decision for the local pods and returns
// how many it compared and how many of those the engine denies.
func checkAgainstEngine(t *testing.T, name string, e *policy.Engine, p *Program, local []int32) (checked, denied int) {
	t.Helper()
	failed := 0
	isLocal := map[int32]bool{}
	for _, s := range local {
		isLocal[s] = true
	}
	forEachProbe(e, local, func(info *policy.PodInfo, subject, peer policy.Endpoint, port policy.Port) {
		sip, pip := subject.IP, peer.IP
		if port.Proto == policy.ProtoICMP && !sip.Is4() || port.Proto == policy.ProtoICMPv6 && sip.Is4() {
			return
		}
		for _, d := range []policy.Direction{policy.Egress, policy.Ingress} {
			want := e.DecideDirection(d, subject, peer, port).Allowed
			got := p.allowsDirection(d, sip, pip, port)
			checked++
			if !want {
				denied++
			}
			if got != want && failed < 20 {
				failed++
				t.Errorf("%s: %s of %s (%s) with %s on %s: program says %v, engine says %v",
					name, d, info.Key, sip, pip, port, got, want)
			}
		}
		// The whole connection, when both ends are local pods.
		if peer.Pod >= 0 && isLocal[peer.Pod] {
			want := e.Decide(subject, peer, port).Allowed
			if got := p.Allows(sip, pip, port); got != want && failed < 20 {
				failed++
				t.Errorf("%s: connection %s -> %s on %s: program says %v, engine says %v", name, sip, pip, port, got, want)
			}
		}
	})
	return checked, denied
}

// forEachProbe calls f for every address of every local pod (hostNetwork pods aside)
// with every probe address of its family (probeAddrs: a pod's as that pod, others as
// external) on every probe port.
func forEachProbe(e *policy.Engine, local []int32, f func(info *policy.PodInfo, subject, peer policy.Endpoint, port policy.Port)) {
	peers, ports := probeAddrs(e), probePorts(e)
	for _, s := range local {
		info := &e.Pods[s]
		if info.HostNetwork {
			continue
		}
		for _, sip := range info.IPs {
			subject := policy.Endpoint{Pod: s, IP: sip}
			for _, pip := range peers {
				if pip.Is4() != sip.Is4() {
					continue
				}
				peer := policy.External(pip)
				if q, ok := e.PodByIP(pip); ok {
					peer = policy.Endpoint{Pod: q, IP: pip}
				}
				for _, port := range ports {
					f(info, subject, peer, port)
				}
			}
		}
	}
}

// probeAddrs lists addresses worth deciding: every pod and node address, and for every
// CIDR in the policies its first and last address and their neighbours outside it.
func probeAddrs(e *policy.Engine) []netip.Addr {
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	add := func(a netip.Addr) {
		if a.IsValid() && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, p := range e.Pods {
		for _, ip := range p.IPs {
			add(ip)
			add(ip.Next())
		}
	}
	for _, n := range e.Cluster.Nodes {
		for _, ip := range e.NodeIPs(n.Name) {
			add(ip)
		}
	}
	edges := func(pfx netip.Prefix) {
		first := pfx.Masked().Addr()
		last := lastAddr(pfx)
		add(first)
		add(first.Prev())
		add(last)
		add(last.Next())
	}
	for _, pol := range e.Policies {
		for _, rules := range [][]policy.Rule{pol.Ingress, pol.Egress} {
			for _, r := range rules {
				for _, peer := range r.Peers {
					if peer.CIDR.IsValid() {
						edges(peer.CIDR)
					}
					for _, x := range peer.Except {
						edges(x)
					}
					for _, n := range peer.Networks {
						edges(n)
					}
				}
			}
		}
	}
	for _, s := range []string{"8.8.8.8", "203.0.113.7", "169.254.169.254", "2001:db8::1", "fd00:99::1:1"} {
		add(netip.MustParseAddr(s))
	}
	return out
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// probePorts lists ports worth deciding: every declared container port, every port
// range edge in the policies and its neighbours, ICMP, and an unremarkable port.
func probePorts(e *policy.Engine) []policy.Port {
	seen := map[policy.Port]bool{}
	var out []policy.Port
	add := func(p policy.Port) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range e.Pods {
		for _, pt := range policy.DeclaredPorts(p.Pod) {
			add(pt)
			for _, other := range []policy.Proto{policy.ProtoTCP, policy.ProtoUDP, policy.ProtoSCTP} {
				add(policy.Port{Proto: other, Num: pt.Num})
			}
		}
	}
	for _, pol := range e.Policies {
		for _, rules := range [][]policy.Rule{pol.Ingress, pol.Egress} {
			for _, r := range rules {
				for _, m := range r.Ports {
					if m.Named != "" || m.Proto == 0 {
						continue
					}
					for _, n := range []int{int(m.Lo) - 1, int(m.Lo), int(m.Hi), int(m.Hi) + 1} {
						if n >= 1 && n <= 65535 {
							add(policy.Port{Proto: m.Proto, Num: uint16(n)})
						}
					}
				}
			}
		}
	}
	add(policy.Port{Proto: policy.ProtoICMP})
	add(policy.Port{Proto: policy.ProtoICMPv6})
	add(policy.Port{Proto: policy.ProtoTCP, Num: 31337})
	return out
}

func TestCompileRejectsBadInput(t *testing.T) {
	e := loadEngine(t, filepath.Join("testdata", "seed.yaml"))
	for _, tc := range []struct {
		name  string
		local []int32
		opts  Options
		want  string
	}{
		{"a local index past the pods is an error", []int32{99}, Options{}, "out of range"},
		{"a table name nft cannot parse is an error", nil, Options{TableName: "my table"}, "table name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(e, tc.local, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestPodsWithoutAddressesAreReported(t *testing.T) {
	e := loadEngine(t, filepath.Join("..", "..", "examples", "seed"))
	p, err := Compile(e, localPods(e, ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings) != len(e.Pods) {
		t.Fatalf("got warnings %q, want one per pod without an address", p.Warnings)
	}
}
