package dataplane

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/policy"
)

var randomCases = flag.Int("random", 300, "number of random clusters TestRandomClustersAgreeWithEngine compiles")

// TestRandomClustersAgreeWithEngine holds the compiler to the engine on random clusters
// mixing every policy kind, tier, action, peer and port form (audit policies too), on
// two nodes and dual-stack pods, with logging off and on. A failure prints the cluster
// as manifests.
func TestRandomClustersAgreeWithEngine(t *testing.T) {
	decisions, denied := 0, 0
	for seed := range *randomCases {
		manifests := randomCluster(rand.New(rand.NewPCG(uint64(seed), 7)))
		c, err := loader.LoadBytes(fmt.Sprintf("random-%d.yaml", seed), []byte(manifests), loader.Options{})
		if err != nil {
			t.Fatalf("seed %d: the generator wrote an invalid cluster: %v\n%s", seed, err, manifests)
		}
		e, err := policy.Compile(c)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		// Odd seeds log everything: wrappers and log rules must not change a verdict.
		opts := Options{}
		if seed%2 == 1 {
			opts.Log = LogOptions{Group: DefaultLogGroup, Denied: true, Allowed: true, Audit: true}
		}
		for _, node := range []string{"node-a", ""} {
			p, err := Compile(e, localPods(e, node), opts)
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			n, d := checkAgainstEngine(t, fmt.Sprintf("seed %d, node %q", seed, node), e, p, localPods(e, node))
			decisions, denied = decisions+n, denied+d
			if t.Failed() {
				t.Fatalf("seed %d disagrees; the cluster:\n%s\nthe program:\n%s", seed, manifests, p)
			}
		}
	}
	t.Logf("%d random clusters, %d decisions agree (%d of them deny)", *randomCases, decisions, denied)
}

// randomCluster writes a small cluster: three namespaces, pods on two nodes (some
// dual-stack, one hostNetwork), and a few policies of every kind.
func randomCluster(r *rand.Rand) string {
	var b strings.Builder
	doc := func(s string, args ...any) { fmt.Fprintf(&b, "---\n"+s+"\n", args...) }
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	chance := func(p float64) bool { return r.Float64() < p }

	nss := []string{"ns0", "ns1", "ns2"}
	for _, ns := range nss {
		doc("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s, labels: {team: %s}}", ns, pick("red", "blue"))
	}
	doc("apiVersion: v1\nkind: Node\nmetadata: {name: node-a, labels: {zone: %s}}\nstatus: {addresses: [{type: InternalIP, address: 192.168.0.1}, {type: InternalIP, address: 'fd00:ff::1'}]}", pick("z1", "z2"))
	doc("apiVersion: v1\nkind: Node\nmetadata: {name: node-b, labels: {zone: %s}}\nstatus: {addresses: [{type: InternalIP, address: 192.168.0.2}]}", pick("z1", "z2"))

	namedPorts := []string{
		"{name: http, containerPort: 80}", "{name: http, containerPort: 8080}",
		"{name: dns, containerPort: 53, protocol: UDP}", "{name: metrics, containerPort: 9100}",
		"{name: metrics, containerPort: 9100, protocol: SCTP}", "{containerPort: 443}",
	}
	n := 4 + r.IntN(5)
	for i := range n {
		ns := pick(nss...)
		var ports []string
		for _, np := range namedPorts {
			if chance(0.3) && !containsName(ports, np) {
				ports = append(ports, np)
			}
		}
		ips := fmt.Sprintf("podIP: 10.%d.0.%d", i%3, i+10)
		if chance(0.4) {
			ips += fmt.Sprintf(", podIPs: [{ip: 10.%d.0.%d}, {ip: 'fd00:%d::%d'}]", i%3, i+10, i%3, i+10)
		}
		host := ""
		if i == 0 && chance(0.3) {
			host = ", hostNetwork: true"
			ips = "podIP: 192.168.0.1"
		}
		doc("apiVersion: v1\nkind: Pod\nmetadata: {name: p%d, namespace: %s, labels: {app: %s, tier: %s}}\nspec: {nodeName: %s%s, containers: [{name: c, image: i, ports: [%s]}]}\nstatus: {%s}",
			i, ns, pick("a", "b", "c"), pick("front", "back"), pick("node-a", "node-b"), host, strings.Join(ports, ", "), ips)
	}

	cidr := func() string {
		return pick("10.0.0.0/16", "10.1.0.0/24", "10.0.0.10/32", "0.0.0.0/0", "192.168.0.0/24", "fd00::/16", "fd00:1::/64", "::/0")
	}
	ipBlock := func() string {
		c := cidr()
		if chance(0.5) {
			switch c {
			case "10.0.0.0/16":
				return "{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.0.10/31]}}"
			case "0.0.0.0/0":
				return "{ipBlock: {cidr: 0.0.0.0/0, except: [10.1.0.0/16, 192.168.0.2/32]}}"
			case "::/0":
				return "{ipBlock: {cidr: '::/0', except: ['fd00:2::/32']}}"
			}
		}
		return fmt.Sprintf("{ipBlock: {cidr: '%s'}}", c)
	}
	labelSel := func() string {
		return pick("{}", "{matchLabels: {app: a}}", "{matchLabels: {app: b}}", "{matchLabels: {tier: front}}")
	}
	nsSel := func() string {
		return pick("{}", "{matchLabels: {team: red}}", "{matchLabels: {kubernetes.io/metadata.name: ns1}}")
	}

	npPeer := func() string {
		switch r.IntN(4) {
		case 0:
			return fmt.Sprintf("{podSelector: %s}", labelSel())
		case 1:
			return fmt.Sprintf("{namespaceSelector: %s}", nsSel())
		case 2:
			return fmt.Sprintf("{namespaceSelector: %s, podSelector: %s}", nsSel(), labelSel())
		}
		return ipBlock()
	}
	npPort := func() string {
		return pick("{port: 80}", "{port: 53, protocol: UDP}", "{port: http}", "{port: metrics, protocol: SCTP}",
			"{port: dns, protocol: UDP}", "{port: 8000, endPort: 9200}", "{protocol: UDP}", "{port: 443, protocol: SCTP}", "{port: metrics}")
	}
	npRule := func(dir string) string {
		var parts []string
		if chance(0.7) {
			var peers []string
			for range 1 + r.IntN(2) {
				peers = append(peers, npPeer())
			}
			parts = append(parts, fmt.Sprintf("%s: [%s]", dir, strings.Join(peers, ", ")))
		}
		if chance(0.6) {
			var ports []string
			for range 1 + r.IntN(2) {
				ports = append(ports, npPort())
			}
			parts = append(parts, fmt.Sprintf("ports: [%s]", strings.Join(ports, ", ")))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	// Some policies are staged (audit): the program must enforce as if they were not there.
	audit := func() string {
		if chance(0.15) {
			return ", annotations: {netwarden.io/mode: audit}"
		}
		return ""
	}
	for i := range r.IntN(4) {
		types := pick("[Ingress]", "[Egress]", "[Ingress, Egress]")
		var in, eg []string
		for range r.IntN(3) {
			in = append(in, npRule("from"))
		}
		for range r.IntN(3) {
			eg = append(eg, npRule("to"))
		}
		doc("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np%d, namespace: %s%s}\nspec:\n  podSelector: %s\n  policyTypes: %s\n  ingress: [%s]\n  egress: [%s]",
			i, pick(nss...), audit(), labelSel(), types, strings.Join(in, ", "), strings.Join(eg, ", "))
	}

	adminPeer := func(egress bool) string {
		k := r.IntN(2)
		if egress {
			k = r.IntN(4)
		}
		switch k {
		case 0:
			return fmt.Sprintf("{namespaces: %s}", nsSel())
		case 1:
			return fmt.Sprintf("{pods: {namespaceSelector: %s, podSelector: %s}}", nsSel(), labelSel())
		case 2:
			return fmt.Sprintf("{nodes: %s}", pick("{}", "{matchLabels: {zone: z1}}"))
		}
		return fmt.Sprintf("{networks: ['%s', '%s']}", cidr(), cidr())
	}
	// Named ports are for pod peers only (validation refuses them with nodes or networks).
	podPeer := func(peer string) bool {
		return !strings.HasPrefix(peer, "{nodes") && !strings.HasPrefix(peer, "{networks")
	}
	anpPorts := func(peer string) string {
		if chance(0.4) {
			return ""
		}
		opts := []string{"{portNumber: {protocol: TCP, port: 80}}", "{portRange: {protocol: UDP, start: 50, end: 60}}", "{portNumber: {protocol: SCTP, port: 9100}}"}
		if podPeer(peer) {
			opts = append(opts, "{namedPort: http}", "{namedPort: metrics}")
		}
		return ", ports: [" + pick(opts...) + "]"
	}
	adminRules := func(dir, peerField string, actions []string, egress bool) string {
		var rules []string
		for j := range r.IntN(4) {
			peer := adminPeer(egress)
			rules = append(rules, fmt.Sprintf("{name: r%d, action: %s, %s: [%s]%s}", j, pick(actions...), peerField, peer, anpPorts(peer)))
		}
		return fmt.Sprintf("  %s: [%s]", dir, strings.Join(rules, ", "))
	}
	subject := func() string {
		if chance(0.5) {
			return fmt.Sprintf("{namespaces: %s}", nsSel())
		}
		return fmt.Sprintf("{pods: {namespaceSelector: %s, podSelector: %s}}", nsSel(), labelSel())
	}
	for i := range r.IntN(3) {
		doc("apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: anp%d%s}\nspec:\n  priority: %d\n  subject: %s\n%s\n%s",
			i, audit(), 10*i+r.IntN(3), subject(), adminRules("ingress", "from", []string{"Allow", "Deny", "Pass"}, false), adminRules("egress", "to", []string{"Allow", "Deny", "Pass"}, true))
	}
	if chance(0.5) {
		doc("apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec:\n  subject: %s\n%s\n%s",
			subject(), adminRules("ingress", "from", []string{"Allow", "Deny"}, false), adminRules("egress", "to", []string{"Allow", "Deny"}, true))
	}
	cnpProtocols := func(peer string) string {
		if chance(0.4) {
			return ""
		}
		opts := []string{"{tcp: {destinationPort: {number: 80}}}", "{udp: {destinationPort: {range: {start: 50, end: 60}}}}", "{sctp: {destinationPort: {number: 9100}}}", "{tcp: {destinationPort: {range: {start: 1, end: 1024}}}}"}
		if podPeer(peer) {
			opts = append(opts, "{destinationNamedPort: http}")
		}
		return ", protocols: [" + pick(opts...) + "]"
	}
	for i := range r.IntN(3) {
		var in, eg []string
		for j := range r.IntN(3) {
			peer := adminPeer(false)
			in = append(in, fmt.Sprintf("{name: r%d, action: %s, from: [%s]%s}", j, pick("Accept", "Deny", "Pass"), peer, cnpProtocols(peer)))
		}
		for j := range r.IntN(3) {
			peer := adminPeer(true)
			eg = append(eg, fmt.Sprintf("{name: r%d, action: %s, to: [%s]%s}", j, pick("Accept", "Deny", "Pass"), peer, cnpProtocols(peer)))
		}
		doc("apiVersion: policy.networking.k8s.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {name: cnp%d}\nspec:\n  tier: %s\n  priority: %d\n  subject: %s\n  ingress: [%s]\n  egress: [%s]",
			i, pick("Admin", "Baseline"), r.IntN(30), subject(), strings.Join(in, ", "), strings.Join(eg, ", "))
	}
	return b.String()
}

// containsName reports whether a port with the same name and protocol is in ports.
func containsName(ports []string, p string) bool {
	key := func(s string) string {
		name, _, _ := strings.Cut(s, ",")
		proto := "TCP"
		if i := strings.Index(s, "protocol: "); i >= 0 {
			proto = strings.TrimSuffix(s[i+len("protocol: "):], "}")
		}
		return name + proto
	}
	for _, q := range ports {
		if key(q) == key(p) || strings.Contains(q, "containerPort: 443") && strings.Contains(p, "containerPort: 443") {
			return true
		}
	}
	return false
}
