// Package gen makes synthetic but realistic clusters for benchmarks, demos and tests:
// namespaces owned by teams, Deployments whose running pods carry app/tier/team labels,
// named container ports and addresses from per-node pod CIDRs, default-deny plus allow
// NetworkPolicies per namespace (pod, namespace and ipBlock peers with except, named ports,
// port ranges), and optionally admin tiers (AdminNetworkPolicy, BaselineAdminNetworkPolicy,
// ClusterNetworkPolicy). The same options and seed always give the same bytes.
package gen

import (
	"errors"
	"fmt"
	"math/rand/v2"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"
)

// Options size the cluster.
type Options struct {
	// Pods is the number of running pods, system pods included.
	Pods int
	// Policies is the number of NetworkPolicies.
	Policies int
	// Namespaces is the number of namespaces, kube-system and monitoring included (they
	// are made when there are at least three).
	Namespaces int
	// Seed picks the cluster; the same options and seed give the same output.
	Seed uint64
	// Admin adds a platform team's admin tiers: AdminNetworkPolicies (Allow, Deny and
	// Pass; pod, namespace, node and network peers), a BaselineAdminNetworkPolicy and
	// ClusterNetworkPolicies in both tiers.
	Admin bool
}

// File is a group of objects written together (one manifest file).
type File struct {
	Name    string
	Objects []any
}

// Cluster is what Generate makes, by file: cluster.yaml (namespaces and nodes), one file
// per namespace (pods and NetworkPolicies), admin.yaml (with Options.Admin).
type Cluster struct {
	Files []File
	// Counts of what was made, for a summary.
	Namespaces, Nodes, Deployments, Pods, NetworkPolicies, AdminPolicies int
}

// Limits keep the output loadable: per-node /24 pod CIDRs from 10.128.0.0/9.
const (
	MaxPods       = 1_000_000
	podsPerNode   = 100
	maxNamespaces = 10_000
)

// Generate makes a cluster.
func Generate(o Options) (*Cluster, error) {
	switch {
	case o.Pods < 0 || o.Pods > MaxPods:
		return nil, fmt.Errorf("--pods must be between 0 and %d", MaxPods)
	case o.Policies < 0:
		return nil, errors.New("--policies must not be negative")
	case o.Namespaces < 1 || o.Namespaces > maxNamespaces:
		return nil, fmt.Errorf("--namespaces must be between 1 and %d", maxNamespaces)
	}
	g := &generator{o: o, r: rand.New(rand.NewPCG(o.Seed, 0x6e6574776172))}
	g.makeNamespaces()
	g.makeNodes()
	g.makePods()
	g.makeNetworkPolicies()
	if o.Admin {
		g.makeAdmin()
	}
	return g.finish(), nil
}

type namespace struct {
	name, team, env string
	system          bool
	deployments     []*deployment
	objects         []any
	egressIsolated  bool
}

type deployment struct {
	ns              *namespace
	name, tier      string
	role            role
	hash            string
	replicas        int
	hostNetwork     bool
	selectorLabels  map[string]string
	templateLabels  map[string]string
	crossNamespaced bool // also reached from other teams' frontends
}

type node struct {
	name, ip, zone string
	podCIDR        [3]byte // 10.a.b.0/24
	next           int
}

type generator struct {
	o     Options
	r     *rand.Rand
	nss   []*namespace
	apps  []*namespace // namespaces that hold team workloads
	nodes []*node
	deps  []*deployment
	pods  int
	nps   int
	admin []any
	sys   struct{ kubeSystem, monitoring *namespace }
}

var teams = []string{"payments", "checkout", "catalog", "search", "identity", "orders", "shipping",
	"billing", "analytics", "messaging", "inventory", "reviews", "media", "ads", "notifications",
	"pricing", "fraud", "support", "loyalty", "recommendations"}

func (g *generator) makeNamespaces() {
	n := g.o.Namespaces
	if n >= 3 {
		g.sys.kubeSystem = &namespace{name: "kube-system", team: "platform", env: "system", system: true}
		g.sys.monitoring = &namespace{name: "monitoring", team: "platform", env: "system", system: true}
		g.nss = append(g.nss, g.sys.kubeSystem, g.sys.monitoring)
		n -= 2
	}
	for i := range n {
		team := teams[i%len(teams)]
		name := team
		if i >= len(teams) {
			name = fmt.Sprintf("%s-%d", team, i/len(teams)+1)
		}
		env := "prod"
		if g.r.IntN(10) < 3 {
			env = "staging"
		}
		ns := &namespace{name: name, team: team, env: env, egressIsolated: g.r.IntN(2) == 0}
		g.nss = append(g.nss, ns)
		g.apps = append(g.apps, ns)
	}
}

func (g *generator) makeNodes() {
	count := max(2, (g.o.Pods+podsPerNode-1)/podsPerNode)
	zones := []string{"zone-a", "zone-b", "zone-c"}
	for j := range count {
		g.nodes = append(g.nodes, &node{
			name:    fmt.Sprintf("node-%03d", j),
			ip:      fmt.Sprintf("172.20.%d.%d", j/250, j%250+1),
			zone:    zones[j%len(zones)],
			podCIDR: [3]byte{byte(128 + j/256), byte(j % 256), 0},
		})
	}
}

// role is a kind of workload: its tier, container ports and typical replica count.
type role struct {
	name     string
	tier     string
	ports    []corev1.ContainerPort
	replicas [2]int // min, max
}

var roles = []role{
	{"web", "frontend", []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9100}}, [2]int{2, 8}},
	{"api", "backend", []corev1.ContainerPort{{Name: "grpc", ContainerPort: 9090}, {Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9100}}, [2]int{2, 10}},
	{"worker", "backend", []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9100}}, [2]int{1, 6}},
	{"postgres", "data", []corev1.ContainerPort{{Name: "postgres", ContainerPort: 5432}, {Name: "metrics", ContainerPort: 9187}}, [2]int{1, 3}},
	{"redis", "data", []corev1.ContainerPort{{Name: "redis", ContainerPort: 6379}}, [2]int{1, 3}},
	{"gateway", "frontend", []corev1.ContainerPort{{Name: "https", ContainerPort: 8443}, {Name: "metrics", ContainerPort: 9100}}, [2]int{2, 4}},
	{"events", "backend", []corev1.ContainerPort{{Name: "amqp", ContainerPort: 5672}, {Name: "metrics", ContainerPort: 9100}}, [2]int{1, 3}},
}

func (g *generator) hash() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, 10)
	for i := range b {
		b[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	return string(b)
}

func (g *generator) suffix() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, 5)
	for i := range b {
		b[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	return string(b)
}

func (g *generator) makePods() {
	left := g.o.Pods
	// System workloads first: cluster DNS, a Prometheus, and a hostNetwork node exporter
	// on every node (when there are pods enough for all of that to be a small part).
	if ks := g.sys.kubeSystem; ks != nil && left >= 10 {
		d := g.addDeployment(ks, role{"coredns", "system", []corev1.ContainerPort{{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp", ContainerPort: 53}, {Name: "metrics", ContainerPort: 9153}}, [2]int{2, 2}}, "coredns")
		d.selectorLabels = map[string]string{"k8s-app": "kube-dns"}
		d.templateLabels = map[string]string{"k8s-app": "kube-dns", "pod-template-hash": d.hash}
		left -= g.runPods(d, 2)
	}
	if mon := g.sys.monitoring; mon != nil && left >= 10 {
		d := g.addDeployment(mon, role{"prometheus", "system", []corev1.ContainerPort{{Name: "web", ContainerPort: 9090}}, [2]int{1, 1}}, "prometheus")
		left -= g.runPods(d, 1)
		if left >= 20*len(g.nodes) {
			ne := g.addDeployment(mon, role{"node-exporter", "system", []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9100}}, [2]int{1, 1}}, "node-exporter")
			ne.hostNetwork = true
			left -= g.runPods(ne, len(g.nodes))
		}
	}
	if len(g.apps) == 0 {
		g.apps = g.nss
	}
	// Team workloads round-robin over namespaces, each namespace cycling through roles.
	for i := 0; left > 0; i++ {
		ns := g.apps[i%len(g.apps)]
		k := len(ns.deployments)
		ro := roles[k%len(roles)]
		name := ro.name
		if k >= len(roles) {
			name = fmt.Sprintf("%s-%d", ro.name, k/len(roles)+1)
		}
		d := g.addDeployment(ns, ro, name)
		d.crossNamespaced = ro.tier == "backend" && g.r.IntN(3) == 0
		n := ro.replicas[0] + g.r.IntN(ro.replicas[1]-ro.replicas[0]+1)
		left -= g.runPods(d, min(n, left))
	}
}

func (g *generator) addDeployment(ns *namespace, ro role, name string) *deployment {
	d := &deployment{ns: ns, name: name, tier: ro.tier, role: ro, hash: g.hash()}
	d.selectorLabels = map[string]string{"app": name}
	d.templateLabels = map[string]string{"app": name, "tier": ro.tier, "team": ns.team, "pod-template-hash": d.hash}
	ns.deployments = append(ns.deployments, d)
	g.deps = append(g.deps, d)
	return d
}

// runPods makes n running pods of d, spread over the nodes, and returns n.
func (g *generator) runPods(d *deployment, n int) int {
	yes := true
	start := g.r.IntN(len(g.nodes))
	for i := range n {
		nd := g.nodes[(start+i)%len(g.nodes)]
		if d.hostNetwork {
			nd = g.nodes[i%len(g.nodes)]
		}
		p := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}}
		p.Namespace = d.ns.name
		p.Labels = d.templateLabels
		rs := d.name + "-" + d.hash
		p.Name = rs + "-" + g.suffix()
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs,
			UID: types.UID(fmt.Sprintf("%08x-0000-4000-8000-%012x", g.r.Uint32(), g.r.Uint64()&0xffffffffffff)), Controller: &yes}}
		image := fmt.Sprintf("registry.example/%s/%s:1.%d.%d", d.ns.team, d.role.name, g.r.IntN(20), g.r.IntN(10))
		p.Spec.Containers = []corev1.Container{{Name: d.role.name, Image: image, Ports: d.role.ports}}
		p.Spec.NodeName = nd.name
		p.Spec.HostNetwork = d.hostNetwork
		ip := nd.ip
		if !d.hostNetwork {
			nd.next++
			ip = fmt.Sprintf("10.%d.%d.%d", nd.podCIDR[0], nd.podCIDR[1], nd.next%254+1)
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.PodIP = ip
		p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
		d.ns.objects = append(d.ns.objects, p)
		d.replicas++
		g.pods++
	}
	return n
}

func (g *generator) finish() *Cluster {
	c := &Cluster{Namespaces: len(g.nss), Nodes: len(g.nodes), Deployments: len(g.deps), Pods: g.pods, NetworkPolicies: g.nps, AdminPolicies: len(g.admin)}
	var base []any
	for _, ns := range g.nss {
		o := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}}
		o.Name = ns.name
		o.Labels = map[string]string{"kubernetes.io/metadata.name": ns.name, "team": ns.team, "env": ns.env}
		base = append(base, o)
	}
	for _, n := range g.nodes {
		o := &corev1.Node{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Node"}}
		o.Name = n.name
		o.Labels = map[string]string{"kubernetes.io/hostname": n.name, "topology.kubernetes.io/zone": n.zone}
		o.Spec.PodCIDR = fmt.Sprintf("10.%d.%d.0/24", n.podCIDR[0], n.podCIDR[1])
		o.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: n.ip}, {Type: corev1.NodeHostName, Address: n.name}}
		base = append(base, o)
	}
	c.Files = append(c.Files, File{Name: "cluster.yaml", Objects: base})
	for _, ns := range g.nss {
		if len(ns.objects) > 0 {
			c.Files = append(c.Files, File{Name: "ns-" + ns.name + ".yaml", Objects: ns.objects})
		}
	}
	if len(g.admin) > 0 {
		c.Files = append(c.Files, File{Name: "admin.yaml", Objects: g.admin})
	}
	return c
}

// --- NetworkPolicies ---

func np(ns, name string) *networkingv1.NetworkPolicy {
	o := &networkingv1.NetworkPolicy{TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"}}
	o.Namespace, o.Name = ns, name
	return o
}

func named(name string) *intstr.IntOrString { v := intstr.FromString(name); return &v }
func number(n int32) *intstr.IntOrString    { v := intstr.FromInt32(n); return &v }
func protocol(p corev1.Protocol) *corev1.Protocol {
	return &p
}

func labelsSel(kv ...string) *metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &metav1.LabelSelector{MatchLabels: m}
}

// networkPolicies adds policies in rounds, so that any count spreads evenly: first a
// default deny per namespace, then DNS and egress isolation, monitoring, egress to the
// internet, then one allow policy per workload, then cross-team and partner allows, repeated with numbered
// variants until the count is reached.
func (g *generator) makeNetworkPolicies() {
	want := g.o.Policies
	if want == 0 {
		return
	}
	targets := g.apps
	if len(targets) == 0 {
		return
	}
	add := func(ns *namespace, o *networkingv1.NetworkPolicy) bool {
		if g.nps >= want {
			return false
		}
		ns.objects = append(ns.objects, o)
		g.nps++
		return true
	}
	for round := 0; g.nps < want; round++ {
		progress := false
		// Interleave namespaces, so that a count too small for every workload still
		// covers every namespace alike.
		per := make([][]*networkingv1.NetworkPolicy, len(targets))
		most := 0
		for i, ns := range targets {
			per[i] = g.roundPolicies(ns, round)
			most = max(most, len(per[i]))
		}
		for k := range most {
			for i, ns := range targets {
				if k < len(per[i]) {
					if !add(ns, per[i][k]) {
						return
					}
					progress = true
				}
			}
		}
		if !progress && round > 8 {
			// Nothing left to say: more variants of the per-workload allows.
			added := false
			for _, ns := range targets {
				for _, d := range ns.deployments {
					if !add(ns, g.partnerAllow(d, round)) {
						return
					}
					added = true
				}
			}
			if !added {
				return // no workloads to write policies for
			}
		}
	}
}

func (g *generator) roundPolicies(ns *namespace, round int) []*networkingv1.NetworkPolicy {
	switch round {
	case 0:
		o := np(ns.name, "default-deny-ingress")
		o.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		return []*networkingv1.NetworkPolicy{o}
	case 1:
		// Egress: DNS to the cluster's resolvers; namespaces that isolate egress do so here.
		o := np(ns.name, "allow-dns")
		o.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
		o.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
			To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: labelsSel("kubernetes.io/metadata.name", "kube-system"), PodSelector: labelsSel("k8s-app", "kube-dns")}},
			Ports: []networkingv1.NetworkPolicyPort{
				{Protocol: protocol(corev1.ProtocolUDP), Port: number(53)},
				{Protocol: protocol(corev1.ProtocolTCP), Port: number(53)},
			},
		}}
		if !ns.egressIsolated {
			// Without isolating egress, a DNS-only egress policy would cut everything else.
			o.Spec.Egress = append(o.Spec.Egress, networkingv1.NetworkPolicyEgressRule{})
		}
		return []*networkingv1.NetworkPolicy{o}
	case 4:
		var out []*networkingv1.NetworkPolicy
		for _, d := range ns.deployments {
			out = append(out, g.workloadAllow(d))
		}
		return out
	case 2:
		o := np(ns.name, "allow-monitoring")
		o.Spec.PodSelector = metav1.LabelSelector{}
		end := int32(9199)
		o.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
			From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: labelsSel("kubernetes.io/metadata.name", "monitoring"), PodSelector: labelsSel("app", "prometheus")}},
			Ports: []networkingv1.NetworkPolicyPort{
				{Port: named("metrics")},
				{Protocol: protocol(corev1.ProtocolTCP), Port: number(9100), EndPort: &end},
			},
		}}
		o.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		return []*networkingv1.NetworkPolicy{o}
	case 3:
		if !ns.egressIsolated {
			return nil
		}
		// Egress inside the namespace and to the internet, but not to other private ranges.
		o := np(ns.name, "allow-egress")
		o.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
		o.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{
			{To: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}},
			{
				To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: protocol(corev1.ProtocolTCP), Port: number(443)}},
			},
		}
		return []*networkingv1.NetworkPolicy{o}
	case 5:
		var out []*networkingv1.NetworkPolicy
		for _, d := range ns.deployments {
			if d.crossNamespaced {
				out = append(out, g.crossTeamAllow(d))
			}
		}
		return out
	}
	if round > 8 {
		return nil
	}
	// Rounds 6-8: partner networks for frontends.
	var out []*networkingv1.NetworkPolicy
	for _, d := range ns.deployments {
		if d.tier == "frontend" && g.r.IntN(2) == 0 {
			out = append(out, g.partnerAllow(d, round))
		}
	}
	return out
}

// workloadAllow lets each tier be reached the way such workloads are: frontends from
// outside the cluster, backends from the namespace's frontends by named port, data stores
// from the backends by named port.
func (g *generator) workloadAllow(d *deployment) *networkingv1.NetworkPolicy {
	o := np(d.ns.name, "allow-"+d.name)
	o.Spec.PodSelector = *labelsSel("app", d.name)
	o.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	ports := make([]networkingv1.NetworkPolicyPort, 0, len(d.role.ports))
	for _, p := range d.role.ports {
		if p.Name != "metrics" && p.Name != "" {
			ports = append(ports, networkingv1.NetworkPolicyPort{Protocol: protocol(corev1.ProtocolTCP), Port: named(p.Name)})
		}
	}
	var from []networkingv1.NetworkPolicyPeer
	switch d.tier {
	case "frontend":
		from = []networkingv1.NetworkPolicyPeer{
			{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8"}}},
			{PodSelector: labelsSel("tier", "frontend")},
		}
	case "backend":
		from = []networkingv1.NetworkPolicyPeer{{PodSelector: labelsSel("tier", "frontend")}, {PodSelector: labelsSel("tier", "backend")}}
	case "data":
		from = []networkingv1.NetworkPolicyPeer{{PodSelector: labelsSel("tier", "backend")}}
	default:
		from = []networkingv1.NetworkPolicyPeer{{NamespaceSelector: labelsSel("team", d.ns.team)}}
	}
	o.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: from, Ports: ports}}
	return o
}

// crossTeamAllow opens a backend to the frontends of other teams' production namespaces.
func (g *generator) crossTeamAllow(d *deployment) *networkingv1.NetworkPolicy {
	o := np(d.ns.name, "allow-"+d.name+"-from-other-teams")
	o.Spec.PodSelector = *labelsSel("app", d.name)
	o.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	o.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
		From: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: metav1.LabelSelectorOpNotIn, Values: []string{d.ns.team}}}},
			PodSelector: labelsSel("tier", "frontend"),
		}},
		Ports: []networkingv1.NetworkPolicyPort{{Port: named(d.role.ports[0].Name)}},
	}}
	return o
}

// partnerAllow lets a partner's network reach a workload on a port range, except a
// quarantined half.
func (g *generator) partnerAllow(d *deployment, round int) *networkingv1.NetworkPolicy {
	o := np(d.ns.name, fmt.Sprintf("allow-%s-partner-%d", d.name, round))
	o.Spec.PodSelector = *labelsSel("app", d.name)
	o.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	third := byte(g.r.IntN(256))
	end := int32(8099 + 100*g.r.IntN(4))
	o.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
		From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{
			CIDR:   fmt.Sprintf("198.51.%d.0/24", third),
			Except: []string{fmt.Sprintf("198.51.%d.128/25", third)},
		}}},
		Ports: []networkingv1.NetworkPolicyPort{{Protocol: protocol(corev1.ProtocolTCP), Port: number(8000), EndPort: &end}},
	}}
	return o
}

// --- admin tiers ---

func (g *generator) makeAdmin() {
	anp := func(name string, prio int32) *v1alpha1.AdminNetworkPolicy {
		o := &v1alpha1.AdminNetworkPolicy{TypeMeta: metav1.TypeMeta{APIVersion: "policy.networking.k8s.io/v1alpha1", Kind: "AdminNetworkPolicy"}}
		o.Name = name
		o.Spec.Priority = prio
		return o
	}
	all := &metav1.LabelSelector{}
	metrics := "metrics"

	mon := anp("platform-allow-monitoring", 10)
	mon.Spec.Subject.Namespaces = all
	mon.Spec.Ingress = []v1alpha1.AdminNetworkPolicyIngressRule{{Name: "prometheus-scrapes", Action: v1alpha1.AdminNetworkPolicyRuleActionAllow,
		From:  []v1alpha1.AdminNetworkPolicyIngressPeer{{Pods: &v1alpha1.NamespacedPod{NamespaceSelector: *labelsSel("kubernetes.io/metadata.name", "monitoring"), PodSelector: *labelsSel("app", "prometheus")}}},
		Ports: &[]v1alpha1.AdminNetworkPolicyPort{{NamedPort: &metrics}}}}

	meta := anp("platform-deny-cloud-metadata", 5)
	meta.Spec.Subject.Namespaces = all
	meta.Spec.Egress = []v1alpha1.AdminNetworkPolicyEgressRule{{Name: "no-instance-metadata", Action: v1alpha1.AdminNetworkPolicyRuleActionDeny,
		To: []v1alpha1.AdminNetworkPolicyEgressPeer{{Networks: []v1alpha1.CIDR{"169.254.169.254/32"}}}}}

	staging := anp("platform-isolate-staging", 20)
	staging.Spec.Subject.Namespaces = labelsSel("env", "prod")
	staging.Spec.Ingress = []v1alpha1.AdminNetworkPolicyIngressRule{
		{Name: "same-team-decides", Action: v1alpha1.AdminNetworkPolicyRuleActionPass,
			From: []v1alpha1.AdminNetworkPolicyIngressPeer{{Namespaces: labelsSel("env", "prod")}}},
		{Name: "no-staging", Action: v1alpha1.AdminNetworkPolicyRuleActionDeny,
			From: []v1alpha1.AdminNetworkPolicyIngressPeer{{Namespaces: labelsSel("env", "staging")}}},
	}

	kubelet := anp("platform-allow-nodes", 30)
	kubelet.Spec.Subject.Pods = &v1alpha1.NamespacedPod{NamespaceSelector: *labelsSel("kubernetes.io/metadata.name", "monitoring"), PodSelector: *labelsSel("app", "prometheus")}
	kubelet.Spec.Egress = []v1alpha1.AdminNetworkPolicyEgressRule{{Name: "scrape-nodes", Action: v1alpha1.AdminNetworkPolicyRuleActionAllow,
		To:    []v1alpha1.AdminNetworkPolicyEgressPeer{{Nodes: all}},
		Ports: &[]v1alpha1.AdminNetworkPolicyPort{{PortRange: &v1alpha1.PortRange{Protocol: corev1.ProtocolTCP, Start: 9100, End: 10250}}}}}

	banp := &v1alpha1.BaselineAdminNetworkPolicy{TypeMeta: metav1.TypeMeta{APIVersion: "policy.networking.k8s.io/v1alpha1", Kind: "BaselineAdminNetworkPolicy"}}
	banp.Name = "default"
	banp.Spec.Subject.Namespaces = labelsSel("env", "prod")
	banp.Spec.Ingress = []v1alpha1.BaselineAdminNetworkPolicyIngressRule{{Name: "deny-other-namespaces", Action: v1alpha1.BaselineAdminNetworkPolicyRuleActionDeny,
		From: []v1alpha1.AdminNetworkPolicyIngressPeer{{Namespaces: all}}}}

	cnp := func(name string, tier v1beta1.Tier, prio int32) *v1beta1.ClusterNetworkPolicy {
		o := &v1beta1.ClusterNetworkPolicy{TypeMeta: metav1.TypeMeta{APIVersion: "policy.networking.k8s.io/v1beta1", Kind: "ClusterNetworkPolicy"}}
		o.Name = name
		o.Spec.Tier = tier
		o.Spec.Priority = prio
		return o
	}
	dns := cnp("platform-allow-dns", v1beta1.AdminTier, 1)
	dns.Spec.Subject.Namespaces = all
	dns.Spec.Egress = []v1beta1.ClusterNetworkPolicyEgressRule{{Name: "cluster-dns", Action: v1beta1.ClusterNetworkPolicyRuleActionAccept,
		To: []v1beta1.ClusterNetworkPolicyEgressPeer{{Pods: &v1beta1.NamespacedPod{NamespaceSelector: *labelsSel("kubernetes.io/metadata.name", "kube-system"), PodSelector: *labelsSel("k8s-app", "kube-dns")}}},
		Protocols: []v1beta1.ClusterNetworkPolicyProtocol{
			{UDP: &v1beta1.ClusterNetworkPolicyProtocolUDP{DestinationPort: &v1beta1.Port{Number: 53}}},
			{TCP: &v1beta1.ClusterNetworkPolicyProtocolTCP{DestinationPort: &v1beta1.Port{Number: 53}}},
		}}}
	private := cnp("platform-baseline-private-egress", v1beta1.BaselineTier, 100)
	private.Spec.Subject.Namespaces = labelsSel("env", "staging")
	private.Spec.Egress = []v1beta1.ClusterNetworkPolicyEgressRule{{Name: "no-private-ranges", Action: v1beta1.ClusterNetworkPolicyRuleActionDeny,
		To: []v1beta1.ClusterNetworkPolicyEgressPeer{{Networks: []v1beta1.CIDR{"172.16.0.0/12", "192.168.0.0/16"}}}}}

	g.admin = []any{meta, mon, staging, kubelet, banp, dns, private}
}
