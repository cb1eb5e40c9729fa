package analysis_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netwarden/netwarden/pkg/analysis"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// randomCluster makes a small cluster meant to hit every corner the classes must respect:
// few label values (so identities repeat), pods without addresses, IPv6-only and
// dual-stack pods, hostNetwork pods on nodes, addresses inside and outside ipBlocks and
// their excepts, named ports that resolve differently per pod, and every policy kind.
func randomCluster(r *rand.Rand) *model.Cluster {
	c := &model.Cluster{}
	pick := func(ss ...string) string { return ss[r.IntN(len(ss))] }
	nss := []string{"alpha", "beta", "gamma"}[:1+r.IntN(3)]
	for _, n := range nss {
		ns := &corev1.Namespace{}
		ns.Name = n
		ns.Labels = map[string]string{"team": pick("a", "b")}
		c.Namespaces = append(c.Namespaces, ns)
	}
	for i := range 2 {
		n := &corev1.Node{}
		n.Name = fmt.Sprintf("node-%d", i)
		n.Labels = map[string]string{"zone": pick("z1", "z2")}
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("192.0.2.%d", 10+i)}}
		c.Nodes = append(c.Nodes, n)
	}
	namedSets := [][]corev1.ContainerPort{
		nil,
		{{Name: "http", ContainerPort: 80}},
		{{Name: "http", ContainerPort: 8080}},
		{{Name: "http", ContainerPort: 8080}, {Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}},
		{{ContainerPort: 5432}},
		{{Name: "web", ContainerPort: 8080}},
	}
	// Pods are replicas of a few templates, so that classes have several members.
	type template struct {
		ns     string
		labels map[string]string
		ports  []corev1.ContainerPort
		node   string
		host   bool
	}
	var templates []template
	for range 2 + r.IntN(5) {
		tp := template{ns: pick(nss...), labels: map[string]string{"app": pick("x", "y")},
			ports: namedSets[r.IntN(len(namedSets))], node: pick("node-0", "node-1"), host: r.IntN(6) == 0}
		if r.IntN(2) == 0 {
			tp.labels["tier"] = pick("1", "2")
		}
		templates = append(templates, tp)
	}
	npods := 4 + r.IntN(24)
	for i := range npods {
		tp := templates[r.IntN(len(templates))]
		if tp.host && r.IntN(2) == 0 {
			tp.node = pick("node-0", "node-1") // a DaemonSet: one template, every node
		}
		p := &corev1.Pod{}
		p.Name = fmt.Sprintf("p%02d", i)
		p.Namespace = tp.ns
		p.Labels = tp.labels
		p.Spec.NodeName = tp.node
		p.Spec.HostNetwork = tp.host
		p.Spec.Containers = []corev1.Container{{Name: "c", Ports: tp.ports}}
		v4 := fmt.Sprintf("10.0.%d.%d", r.IntN(3), 1+i)
		v6 := fmt.Sprintf("fd00::%x", 1+i)
		switch k := r.IntN(12); {
		case tp.host:
			switch {
			case k < 4: // the node's address
				p.Status.PodIPs = []corev1.PodIP{{IP: "192.0.2.1" + p.Spec.NodeName[5:]}}
			case k < 6: // an address of the node that its status does not list
				p.Status.PodIPs = []corev1.PodIP{{IP: "192.0.2.5" + p.Spec.NodeName[5:]}}
			}
		case k == 0: // no address yet
		case k == 1:
			p.Status.PodIPs = []corev1.PodIP{{IP: v6}}
		case k == 2:
			p.Status.PodIPs = []corev1.PodIP{{IP: v4}, {IP: v6}}
		case k == 3:
			p.Status.PodIPs = []corev1.PodIP{{IP: v6}, {IP: v4}}
		default:
			p.Status.PodIPs = []corev1.PodIP{{IP: v4}}
		}
		if len(p.Status.PodIPs) > 0 {
			p.Status.PodIP = p.Status.PodIPs[0].IP
		}
		c.Pods = append(c.Pods, p)
	}
	sel := func() *metav1.LabelSelector {
		switch r.IntN(4) {
		case 0:
			return &metav1.LabelSelector{}
		case 1:
			return &metav1.LabelSelector{MatchLabels: map[string]string{"app": pick("x", "y", "z")}}
		case 2:
			return &metav1.LabelSelector{MatchLabels: map[string]string{"tier": pick("1", "2")}}
		}
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpNotIn, Values: []string{pick("x", "y")}}}}
	}
	nsSel := func() *metav1.LabelSelector {
		if r.IntN(3) == 0 {
			return &metav1.LabelSelector{}
		}
		return &metav1.LabelSelector{MatchLabels: map[string]string{"team": pick("a", "b")}}
	}
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	npPorts := func() []networkingv1.NetworkPolicyPort {
		var out []networkingv1.NetworkPolicyPort
		for range r.IntN(3) {
			switch r.IntN(4) {
			case 0:
				v := intstr.FromString(pick("http", "dns"))
				out = append(out, networkingv1.NetworkPolicyPort{Protocol: pick2(r, &tcp, &udp), Port: &v})
			case 1:
				v := intstr.FromInt32(int32(pick2(r, 80, 8080)))
				out = append(out, networkingv1.NetworkPolicyPort{Port: &v})
			case 2:
				v := intstr.FromInt32(5000)
				end := int32(9000)
				out = append(out, networkingv1.NetworkPolicyPort{Port: &v, EndPort: &end})
			default:
				out = append(out, networkingv1.NetworkPolicyPort{Protocol: &udp})
			}
		}
		return out
	}
	npPeers := func() []networkingv1.NetworkPolicyPeer {
		var out []networkingv1.NetworkPolicyPeer
		for range r.IntN(3) {
			switch r.IntN(5) {
			case 0:
				out = append(out, networkingv1.NetworkPolicyPeer{PodSelector: sel()})
			case 1:
				out = append(out, networkingv1.NetworkPolicyPeer{NamespaceSelector: nsSel()})
			case 2:
				out = append(out, networkingv1.NetworkPolicyPeer{NamespaceSelector: nsSel(), PodSelector: sel()})
			case 3:
				out = append(out, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/16", Except: []string{pick("10.0.1.0/24", "10.0.2.0/25")}}})
			default:
				out = append(out, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: pick("10.0.2.0/24", "fd00::/120", "192.0.2.0/24", "0.0.0.0/0")}})
			}
		}
		return out
	}
	for i := range r.IntN(6) {
		np := &networkingv1.NetworkPolicy{}
		np.Name = fmt.Sprintf("np%d", i)
		np.Namespace = pick(nss...)
		np.Spec.PodSelector = *sel()
		switch r.IntN(3) {
		case 0:
			np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		case 1:
			np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
		default:
			np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
		}
		for range r.IntN(3) {
			np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: npPeers(), Ports: npPorts()})
		}
		for range r.IntN(3) {
			np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: npPeers(), Ports: npPorts()})
		}
		c.NetworkPolicies = append(c.NetworkPolicies, np)
	}
	adminPorts := func() *[]v1alpha1.AdminNetworkPolicyPort {
		switch r.IntN(3) {
		case 0:
			return nil
		case 1:
			n := pick("http", "dns")
			return &[]v1alpha1.AdminNetworkPolicyPort{{NamedPort: &n}}
		}
		return &[]v1alpha1.AdminNetworkPolicyPort{{PortRange: &v1alpha1.PortRange{Protocol: tcp, Start: 1, End: 1000}}}
	}
	subject := func() v1alpha1.AdminNetworkPolicySubject {
		if r.IntN(2) == 0 {
			return v1alpha1.AdminNetworkPolicySubject{Namespaces: nsSel()}
		}
		return v1alpha1.AdminNetworkPolicySubject{Pods: &v1alpha1.NamespacedPod{NamespaceSelector: *nsSel(), PodSelector: *sel()}}
	}
	egressPeer := func() v1alpha1.AdminNetworkPolicyEgressPeer {
		switch r.IntN(4) {
		case 0:
			return v1alpha1.AdminNetworkPolicyEgressPeer{Namespaces: nsSel()}
		case 1:
			return v1alpha1.AdminNetworkPolicyEgressPeer{Pods: &v1alpha1.NamespacedPod{NamespaceSelector: *nsSel(), PodSelector: *sel()}}
		case 2:
			return v1alpha1.AdminNetworkPolicyEgressPeer{Nodes: &metav1.LabelSelector{MatchLabels: map[string]string{"zone": pick("z1", "z2")}}}
		}
		return v1alpha1.AdminNetworkPolicyEgressPeer{Networks: []v1alpha1.CIDR{v1alpha1.CIDR(pick("10.0.1.0/24", "fd00::/124", "192.0.2.10/32"))}}
	}
	actions := []v1alpha1.AdminNetworkPolicyRuleAction{"Allow", "Deny", "Pass"}
	for i := range r.IntN(3) {
		o := &v1alpha1.AdminNetworkPolicy{}
		o.Name = fmt.Sprintf("anp%d", i)
		o.Spec.Priority = int32(r.IntN(3))
		o.Spec.Subject = subject()
		for range 1 + r.IntN(2) {
			o.Spec.Ingress = append(o.Spec.Ingress, v1alpha1.AdminNetworkPolicyIngressRule{Action: actions[r.IntN(3)], Ports: adminPorts(),
				From: []v1alpha1.AdminNetworkPolicyIngressPeer{{Namespaces: nsSel()}, {Pods: &v1alpha1.NamespacedPod{NamespaceSelector: *nsSel(), PodSelector: *sel()}}}[r.IntN(2):]})
			o.Spec.Egress = append(o.Spec.Egress, v1alpha1.AdminNetworkPolicyEgressRule{Action: actions[r.IntN(3)], Ports: adminPorts(),
				To: []v1alpha1.AdminNetworkPolicyEgressPeer{egressPeer()}})
		}
		c.AdminNetworkPolicies = append(c.AdminNetworkPolicies, o)
	}
	if r.IntN(2) == 0 {
		o := &v1alpha1.BaselineAdminNetworkPolicy{}
		o.Name = "default"
		o.Spec.Subject = subject()
		o.Spec.Ingress = []v1alpha1.BaselineAdminNetworkPolicyIngressRule{{Action: "Deny", From: []v1alpha1.AdminNetworkPolicyIngressPeer{{Namespaces: nsSel()}}}}
		o.Spec.Egress = []v1alpha1.BaselineAdminNetworkPolicyEgressRule{{Action: "Deny", Ports: adminPorts(),
			To: []v1alpha1.BaselineAdminNetworkPolicyEgressPeer{{Networks: []v1alpha1.CIDR{"10.0.0.0/23"}}}}}
		c.BaselineAdminNetworkPolicies = append(c.BaselineAdminNetworkPolicies, o)
	}
	for i := range r.IntN(3) {
		o := &v1beta1.ClusterNetworkPolicy{}
		o.Name = fmt.Sprintf("cnp%d", i)
		o.Spec.Tier = v1beta1.Tier(pick("Admin", "Baseline"))
		o.Spec.Priority = int32(10 + i)
		o.Spec.Subject = v1beta1.ClusterNetworkPolicySubject{Namespaces: nsSel()}
		act := v1beta1.ClusterNetworkPolicyRuleAction(pick("Accept", "Deny", "Pass"))
		var protos []v1beta1.ClusterNetworkPolicyProtocol
		if r.IntN(2) == 0 {
			protos = []v1beta1.ClusterNetworkPolicyProtocol{{DestinationNamedPort: "http"}}
		}
		o.Spec.Egress = []v1beta1.ClusterNetworkPolicyEgressRule{{Action: act, Protocols: protos,
			To: []v1beta1.ClusterNetworkPolicyEgressPeer{{Networks: []v1beta1.CIDR{"10.0.2.0/24", "fd00::/120"}}}}}
		o.Spec.Ingress = []v1beta1.ClusterNetworkPolicyIngressRule{{Action: act,
			From: []v1beta1.ClusterNetworkPolicyIngressPeer{{Pods: &v1beta1.NamespacedPod{NamespaceSelector: *nsSel(), PodSelector: *sel()}}}}}
		c.ClusterNetworkPolicies = append(c.ClusterNetworkPolicies, o)
	}
	c.Normalize()
	return c
}

func pick2[T any](r *rand.Rand, a, b T) T {
	if r.IntN(2) == 0 {
		return a
	}
	return b
}

func compile(t testing.TB, c *model.Cluster) *policy.Engine {
	t.Helper()
	e, err := policy.Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestClassMatrixEqualsPodByPod(t *testing.T) {
	portSets := map[string][]policy.Port{
		"declared ports":                        nil,
		"given ports with ICMP and a duplicate": {{Proto: policy.ProtoTCP, Num: 8080}, {Proto: policy.ProtoICMP}, {Proto: policy.ProtoUDP, Num: 53}, {Proto: policy.ProtoTCP, Num: 8080}},
	}
	const seeds = 500
	classesSeen, podsSeen := 0, 0
	for seed := range seeds {
		c := randomCluster(rand.New(rand.NewPCG(uint64(seed), 7)))
		e := compile(t, c)
		for name, ports := range portSets {
			opts := analysis.MatrixOptions{Ports: ports}
			want := analysis.ComputeMatrixPodByPod(e, opts)
			cm := analysis.ComputeClassMatrix(e, opts)
			got := cm.Matrix()
			if !reflect.DeepEqual(got, want) {
				for i := range want.Results {
					if i >= len(got.Results) || got.Results[i] != want.Results[i] {
						t.Fatalf("seed %d, %s: result %d: classes give %+v, pod by pod %+v", seed, name, i, got.Results[min(i, len(got.Results)-1)], want.Results[i])
					}
				}
				t.Fatalf("seed %d, %s: matrices differ: %d vs %d results, ports %v vs %v", seed, name, len(got.Results), len(want.Results), got.Ports, want.Ports)
			}
			// The decisions behind each verdict are the evaluator's, tier, policy and rule.
			for a := range e.Pods {
				for b := range e.Pods {
					src, dst := e.PodPair(int32(a), int32(b))
					for k, pt := range cm.ProbedPorts(int32(b)) {
						v := e.Decide(src, dst, pt)
						eg, in := cm.Decisions(int32(a), int32(b), k)
						if eg != v.Egress || in != v.Ingress {
							t.Fatalf("seed %d, %s: %s -> %s %s: decisions %+v %+v, want %+v %+v", seed, name, e.Pods[a].Key, e.Pods[b].Key, pt, eg, in, v.Egress, v.Ingress)
						}
						if peg, pin, ok := cm.PairDecisions(int32(a), int32(b), pt); !ok || peg != eg || pin != in {
							t.Fatalf("seed %d, %s: PairDecisions for %s -> %s %s: %+v %+v %v", seed, name, e.Pods[a].Key, e.Pods[b].Key, pt, peg, pin, ok)
						}
					}
				}
			}
			if n := cm.ResultCount(); n != len(want.Results) {
				t.Fatalf("seed %d, %s: ResultCount %d, want %d", seed, name, n, len(want.Results))
			}
			classesSeen += cm.Classes.Len()
			podsSeen += len(e.Pods)

			// Showing one namespace (-n) shows that part of the full matrix.
			var shown []int32
			in := map[string]bool{}
			for i, p := range e.Pods {
				if p.Pod.Namespace == "alpha" {
					shown = append(shown, int32(i))
					in[p.Key] = true
				}
			}
			opts.Pods = append([]int32{}, shown...)
			part := analysis.ComputeClassMatrix(e, opts).Matrix()
			wantPart := &analysis.Matrix{Ports: want.Ports, Pods: []string{}, Results: []analysis.Result{}}
			for _, p := range want.Pods {
				if in[p] {
					wantPart.Pods = append(wantPart.Pods, p)
				}
			}
			for _, r := range want.Results {
				if in[r.From] && in[r.To] {
					wantPart.Results = append(wantPart.Results, r)
				}
			}
			if !reflect.DeepEqual(part, wantPart) {
				t.Fatalf("seed %d, %s: the matrix of namespace alpha is not that part of the whole", seed, name)
			}
			if pb := analysis.ComputeMatrixPodByPod(e, opts); !reflect.DeepEqual(pb, wantPart) {
				t.Fatalf("seed %d, %s: pod by pod, the matrix of namespace alpha is not that part of the whole", seed, name)
			}
		}
	}
	t.Logf("%d random clusters: %d pods in %d classes", seeds, podsSeen/2, classesSeen/2)
}

// The streamed JSON is what render.JSON (encoding/json, two-space indent) writes for the
// expanded matrix, so -o json keeps its shape whichever path produced it.
func TestWriteJSONIsEncodingJSON(t *testing.T) {
	for seed := range 50 {
		e := compile(t, randomCluster(rand.New(rand.NewPCG(uint64(seed), 11))))
		cm := analysis.ComputeClassMatrix(e, analysis.MatrixOptions{})
		var want, got bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		if err := enc.Encode(cm.Matrix()); err != nil {
			t.Fatal(err)
		}
		if err := cm.WriteJSON(&got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("seed %d: streamed JSON differs from encoding/json:\n--- got\n%.2000s\n--- want\n%.2000s", seed, got.String(), want.String())
		}
	}
	// An empty cluster still has the three keys, with empty arrays.
	e := compile(t, &model.Cluster{})
	var got bytes.Buffer
	if err := analysis.ComputeClassMatrix(e, analysis.MatrixOptions{}).WriteJSON(&got); err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"ports\": [],\n  \"pods\": [],\n  \"results\": []\n}\n"; got.String() != want {
		t.Fatalf("empty cluster: got %q, want %q", got.String(), want)
	}
}

func TestClassesGroupReplicas(t *testing.T) {
	c := &model.Cluster{}
	mk := func(name, app, ip string, named ...corev1.ContainerPort) {
		p := &corev1.Pod{}
		p.Namespace, p.Name = "prod", name
		p.Labels = map[string]string{"app": app}
		p.Spec.Containers = []corev1.Container{{Name: "c", Ports: named}}
		if ip != "" {
			p.Status.PodIP = ip
			p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
		}
		c.Pods = append(c.Pods, p)
	}
	http80 := corev1.ContainerPort{Name: "http", ContainerPort: 80}
	http81 := corev1.ContainerPort{Name: "http", ContainerPort: 81}
	mk("web-1", "web", "10.1.0.1", http80)
	mk("web-2", "web", "10.1.0.2", http80)
	mk("web-3", "web", "10.1.0.3", http81) // same labels, named port elsewhere
	mk("web-4", "web", "10.2.0.4", http80) // same labels, inside the ipBlock
	mk("web-5", "web", "", http80)         // no address yet: matches no ipBlock, like web-1
	mk("db-1", "db", "10.1.0.9")
	np := &networkingv1.NetworkPolicy{}
	np.Namespace, np.Name = "prod", "from-10-2"
	np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.2.0.0/16"}}}}}
	c.NetworkPolicies = append(c.NetworkPolicies, np)
	c.Normalize()
	e := compile(t, c)
	cls := analysis.PodClasses(e, analysis.ClassOptions{})
	classOf := func(name string) int32 {
		i, ok := e.PodByKey("prod/" + name)
		if !ok {
			t.Fatalf("no pod %s", name)
		}
		return cls.Of[i]
	}
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"replicas with the same labels, ports and ipBlock membership are one class", "web-1", "web-2", true},
		{"a pod without an address is like one outside every ipBlock", "web-1", "web-5", true},
		{"a named port resolving to another number separates", "web-1", "web-3", false},
		{"an address inside an ipBlock separates", "web-1", "web-4", false},
		{"other labels separate", "web-1", "db-1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := classOf(tc.a) == classOf(tc.b); got != tc.same {
				t.Errorf("%s and %s same class = %v, want %v", tc.a, tc.b, got, tc.same)
			}
		})
	}
	if cls.Len() != 4 {
		t.Errorf("%d classes, want 4", cls.Len())
	}
}

// Hand-made clusters for corners of the direction tables that random clusters rarely hit;
// each must give the pod-by-pod matrix.
func TestClassMatrixCorners(t *testing.T) {
	pod := func(ns, name, app, ip string) *corev1.Pod {
		p := &corev1.Pod{}
		p.Namespace, p.Name = ns, name
		p.Labels = map[string]string{"app": app}
		p.Spec.Containers = []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}}}}
		p.Status.PodIP = ip
		p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
		return p
	}
	fromApp := func(ns, to, from string) *networkingv1.NetworkPolicy {
		np := &networkingv1.NetworkPolicy{}
		np.Namespace, np.Name = ns, "to-"+to
		np.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"app": to}}
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{
			{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": from}}}}}}
		return np
	}
	tests := []struct {
		name    string
		cluster func() *model.Cluster
	}{
		{"a peer without namespace selector means its own policy's namespace", func() *model.Cluster {
			return &model.Cluster{
				Pods: []*corev1.Pod{pod("alpha", "web", "web", "10.0.0.1"), pod("alpha", "db", "db", "10.0.0.2"),
					pod("beta", "web", "web", "10.0.1.1"), pod("beta", "db", "db", "10.0.1.2"), pod("beta", "other", "other", "10.0.1.3")},
				NetworkPolicies: []*networkingv1.NetworkPolicy{fromApp("alpha", "db", "web"), fromApp("beta", "db", "web")},
			}
		}},
		{"pods alike as peers but selected by different policies", func() *model.Cluster {
			return &model.Cluster{
				Pods:            []*corev1.Pod{pod("alpha", "a", "a", "10.0.0.1"), pod("alpha", "b", "b", "10.0.0.2"), pod("alpha", "c", "c", "10.0.0.3")},
				NetworkPolicies: []*networkingv1.NetworkPolicy{fromApp("alpha", "a", "c")},
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cluster()
			c.Normalize()
			e := compile(t, c)
			want := analysis.ComputeMatrixPodByPod(e, analysis.MatrixOptions{})
			if got := analysis.ComputeMatrix(e, analysis.MatrixOptions{}); !reflect.DeepEqual(got, want) {
				t.Fatalf("class matrix differs from pod by pod:\n got %+v\nwant %+v", got.Results, want.Results)
			}
		})
	}
}

// CountPairs adds up, per outcome, exactly the pairs between two pod sets.
func TestCountPairsEqualsEveryPair(t *testing.T) {
	type outcome struct{ eg, in policy.Decision }
	for seed := range 300 {
		e := compile(t, randomCluster(rand.New(rand.NewPCG(uint64(seed), 13))))
		cm := analysis.ComputeClassMatrix(e, analysis.MatrixOptions{})
		// Sets: namespaces (the same set on both sides, or disjoint ones), single pods,
		// and overlapping halves.
		byNS := map[string][]int32{}
		var all []int32
		for i, p := range e.Pods {
			byNS[p.Pod.Namespace] = append(byNS[p.Pod.Namespace], int32(i))
			all = append(all, int32(i))
			if i < 3 {
				byNS[p.Key] = []int32{int32(i)}
			}
		}
		byNS["first two thirds"] = all[:2*len(all)/3]
		byNS["last two thirds"] = all[len(all)/3:]
		for fromNS, from := range byNS {
			for toNS, to := range byNS {
				for _, pt := range []policy.Port{{Proto: policy.ProtoTCP, Num: 8080}, {Proto: policy.ProtoUDP, Num: 53}, {Proto: policy.ProtoTCP, Num: 5432}} {
					want := map[outcome]int32{}
					probed := true
					for _, a := range from {
						for _, b := range to {
							if a == b {
								continue
							}
							src, dst := e.PodPair(a, b)
							v := e.Decide(src, dst, pt)
							want[outcome{v.Egress, v.Ingress}]++
						}
					}
					for _, b := range to {
						if !slices.Contains(cm.ProbedPorts(b), pt) {
							probed = false
						}
					}
					got := map[outcome]int32{}
					ok := cm.CountPairs(cm.Members(from), cm.Members(to), pt, func(eg, in policy.Decision, n, a, b int32) {
						got[outcome{eg, in}] += n
						src, dst := e.PodPair(a, b)
						if v := e.Decide(src, dst, pt); v.Egress != eg || v.Ingress != in || a == b {
							t.Fatalf("seed %d: example %s -> %s does not have the outcome it stands for", seed, e.Pods[a].Key, e.Pods[b].Key)
						}
					})
					if ok != probed {
						t.Fatalf("seed %d: CountPairs ok=%v for a port probed on every destination: %v", seed, ok, probed)
					}
					if ok && !reflect.DeepEqual(got, want) {
						t.Fatalf("seed %d, %s -> %s on %s: counts %v (ok %v), want %v", seed, fromNS, toNS, pt, got, ok, want)
					}
				}
			}
		}
	}
}

// Grouped matrices stream the bytes encoding/json writes for GroupVerdicts.Matrix().
func TestGroupWriteJSONIsEncodingJSON(t *testing.T) {
	mixed := 0
	for seed := range 60 {
		e := compile(t, randomCluster(rand.New(rand.NewPCG(uint64(seed), 17))))
		for _, by := range []analysis.GroupBy{analysis.ByWorkloads, analysis.ByPods} {
			v := analysis.DecideGroups(e, analysis.NewGrouping(e, by), analysis.MatrixOptions{})
			var want, got bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			if err := enc.Encode(v.Matrix()); err != nil {
				t.Fatal(err)
			}
			if err := v.WriteJSON(&got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Fatalf("seed %d, %s: streamed JSON differs from encoding/json:\n--- got\n%.3000s\n--- want\n%.3000s", seed, by, got.String(), want.String())
			}
			mixed += bytes.Count(got.Bytes(), []byte(`"mixed": true`))
		}
	}
	if mixed == 0 {
		t.Error("no mixed cell in any cluster; the test proves less than it says")
	}
}
