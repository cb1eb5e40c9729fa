package policy_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// bytesource hands out small choices from fuzz input; past its end every choice is 0, so
// short inputs make small clusters.
type bytesource struct {
	b []byte
	i int
}

func (s *bytesource) n(k int) int {
	if s.i >= len(s.b) || k <= 1 {
		s.i++
		return 0
	}
	v := int(s.b[s.i]) % k
	s.i++
	return v
}

func (s *bytesource) chance(in int) bool { return s.n(in) == 0 }

func pick[T any](s *bytesource, xs ...T) T { return xs[s.n(len(xs))] }

// The vocabulary the generator draws from: few values, so that selectors, addresses and
// ports collide often and every tier meets every other.
var (
	fzNamespaces = []string{"a", "b", "c"}
	fzNodes      = []string{"n1", "n2"}
)

func fzSelector(s *bytesource) *metav1.LabelSelector {
	switch s.n(8) {
	case 0:
		return &metav1.LabelSelector{}
	case 1:
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app": pick(s, "web", "db")}}
	case 2:
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"web", "db"}}}}
	case 3:
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"web"}}}}
	case 4:
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpExists}}}
	case 5:
		return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpDoesNotExist}}}
	case 6:
		return &metav1.LabelSelector{MatchLabels: map[string]string{"env": pick(s, "prod", "dev")}}
	}
	return &metav1.LabelSelector{MatchLabels: map[string]string{model.NamespaceNameLabel: pick(s, fzNamespaces...)}}
}

func fzCIDR(s *bytesource) string {
	return pick(s, "10.0.0.0/8", "10.1.0.0/16", "10.2.0.0/24", "10.1.0.3/32", "0.0.0.0/0", "fd00::/64", "fd00::/120", "::/0", "192.0.2.0/24", "10.9.0.0/24")
}

func fzProto(s *bytesource) *corev1.Protocol {
	if s.chance(2) {
		return nil
	}
	p := pick(s, corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP)
	return &p
}

func fzPortName(s *bytesource) string { return pick(s, "http", "dns", "metrics") }

// fzCluster builds a small cluster from fuzz bytes: namespaces, nodes, pods (some on the
// host network, some without addresses, some dual-stack) and policies of every kind.
func fzCluster(s *bytesource) *model.Cluster {
	c := &model.Cluster{}
	for i, name := range fzNamespaces[:1+s.n(3)] {
		ns := &corev1.Namespace{}
		ns.Name = name
		ns.Labels = map[string]string{"env": pick(s, "prod", "dev"), "idx": strconv.Itoa(i)}
		c.Namespaces = append(c.Namespaces, ns)
	}
	for i, name := range fzNodes {
		n := &corev1.Node{}
		n.Name = name
		n.Labels = map[string]string{"role": pick(s, "infra", "worker")}
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("10.9.0.%d", i+1)}, {Type: corev1.NodeExternalIP, Address: fmt.Sprintf("fd09::%d", i+1)}}
		c.Nodes = append(c.Nodes, n)
	}
	for i := range 1 + s.n(7) {
		p := &corev1.Pod{}
		p.Name = "p" + strconv.Itoa(i)
		// A namespace outside the declared ones is made by Normalize.
		p.Namespace = pick(s, "a", "a", "b", "c", "d")
		p.Labels = map[string]string{}
		if app := pick(s, "web", "db", ""); app != "" {
			p.Labels["app"] = app
		}
		if s.chance(2) {
			p.Labels["tier"] = "fe"
		}
		p.Spec.NodeName = pick(s, fzNodes...)
		p.Spec.HostNetwork = s.chance(6)
		for range s.n(3) {
			cp := corev1.ContainerPort{Name: fzPortName(s), ContainerPort: pick[int32](s, 80, 53, 8080), Protocol: pick(s, corev1.ProtocolTCP, corev1.ProtocolUDP, "")}
			ct := corev1.Container{Name: "c", Ports: []corev1.ContainerPort{cp}}
			if s.chance(4) {
				p.Spec.InitContainers = append(p.Spec.InitContainers, ct)
			} else {
				p.Spec.Containers = append(p.Spec.Containers, ct)
			}
		}
		if !p.Spec.HostNetwork && !s.chance(8) {
			v4 := fmt.Sprintf("10.%d.0.%d", 1+s.n(2), 1+i)
			p.Status.PodIP = v4
			p.Status.PodIPs = []corev1.PodIP{{IP: v4}}
			if s.chance(3) {
				p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: fmt.Sprintf("fd00::%d", 1+i)})
			}
		}
		c.Pods = append(c.Pods, p)
	}
	for i := range s.n(5) {
		c.NetworkPolicies = append(c.NetworkPolicies, fzNetworkPolicy(s, i))
	}
	for i := range s.n(4) {
		c.AdminNetworkPolicies = append(c.AdminNetworkPolicies, fzANP(s, i))
	}
	if s.chance(3) {
		b := &v1alpha1.BaselineAdminNetworkPolicy{}
		b.Name = "default"
		subj, in, eg := fzANPBody(s, false)
		b.Spec.Subject = subj
		for _, r := range in {
			b.Spec.Ingress = append(b.Spec.Ingress, v1alpha1.BaselineAdminNetworkPolicyIngressRule{Action: v1alpha1.BaselineAdminNetworkPolicyRuleAction(r.Action), From: r.From, Ports: r.Ports})
		}
		for _, r := range eg {
			br := v1alpha1.BaselineAdminNetworkPolicyEgressRule{Action: v1alpha1.BaselineAdminNetworkPolicyRuleAction(r.Action), Ports: r.Ports}
			for _, t := range r.To {
				br.To = append(br.To, v1alpha1.BaselineAdminNetworkPolicyEgressPeer{Namespaces: t.Namespaces, Pods: t.Pods, Nodes: t.Nodes, Networks: t.Networks})
			}
			b.Spec.Egress = append(b.Spec.Egress, br)
		}
		c.BaselineAdminNetworkPolicies = append(c.BaselineAdminNetworkPolicies, b)
	}
	for i := range s.n(3) {
		c.ClusterNetworkPolicies = append(c.ClusterNetworkPolicies, fzCNP(s, i))
	}
	return c
}

func fzNetworkPolicy(s *bytesource, i int) *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{}
	np.Name = "np" + strconv.Itoa(i)
	np.Namespace = pick(s, fzNamespaces...)
	np.Spec.PodSelector = *fzSelector(s)
	np.Spec.PolicyTypes = pick(s, nil, []networkingv1.PolicyType{"Ingress"}, []networkingv1.PolicyType{"Egress"}, []networkingv1.PolicyType{"Ingress", "Egress"})
	peers := func() []networkingv1.NetworkPolicyPeer {
		var out []networkingv1.NetworkPolicyPeer
		for range s.n(3) {
			var p networkingv1.NetworkPolicyPeer
			switch s.n(5) {
			case 0:
				p.PodSelector = fzSelector(s)
			case 1:
				p.NamespaceSelector = fzSelector(s)
			case 2:
				p.PodSelector, p.NamespaceSelector = fzSelector(s), fzSelector(s)
			case 3:
				p.IPBlock = &networkingv1.IPBlock{CIDR: fzCIDR(s)}
				if s.chance(2) {
					p.IPBlock.Except = []string{pick(s, "10.1.0.3/32", "10.2.0.0/25", "fd00::1/128")}
				}
				// Otherwise an empty peer: refused by validation, read as matching nothing.
			}
			out = append(out, p)
		}
		return out
	}
	ports := func() []networkingv1.NetworkPolicyPort {
		var out []networkingv1.NetworkPolicyPort
		for range s.n(3) {
			p := networkingv1.NetworkPolicyPort{Protocol: fzProto(s)}
			switch s.n(4) {
			case 0:
				v := intstr.FromInt32(pick[int32](s, 80, 53, 8080))
				p.Port = &v
			case 1:
				v := intstr.FromString(fzPortName(s))
				p.Port = &v
			case 2:
				v, end := intstr.FromInt32(pick[int32](s, 50, 80)), pick[int32](s, 80, 100, 9000)
				p.Port, p.EndPort = &v, &end
			}
			out = append(out, p)
		}
		return out
	}
	for range s.n(3) {
		np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: peers(), Ports: ports()})
	}
	for range s.n(3) {
		np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: peers(), Ports: ports()})
	}
	return np
}

func fzNamespacedPod(s *bytesource) *v1alpha1.NamespacedPod {
	return &v1alpha1.NamespacedPod{NamespaceSelector: *fzSelector(s), PodSelector: *fzSelector(s)}
}

func fzANPPorts(s *bytesource) *[]v1alpha1.AdminNetworkPolicyPort {
	if s.chance(2) {
		return nil
	}
	var out []v1alpha1.AdminNetworkPolicyPort
	for range 1 + s.n(2) {
		var p v1alpha1.AdminNetworkPolicyPort
		switch s.n(3) {
		case 0:
			p.PortNumber = &v1alpha1.Port{Protocol: pick(s, corev1.ProtocolTCP, corev1.ProtocolUDP, ""), Port: pick[int32](s, 80, 53)}
		case 1:
			name := fzPortName(s)
			p.NamedPort = &name
		default:
			p.PortRange = &v1alpha1.PortRange{Protocol: pick(s, corev1.ProtocolTCP, corev1.ProtocolSCTP), Start: 50, End: pick[int32](s, 80, 9000)}
		}
		out = append(out, p)
	}
	return &out
}

// fzANPBody makes an ANP or BANP subject and rules; baseline ones have no Pass.
func fzANPBody(s *bytesource, admin bool) (v1alpha1.AdminNetworkPolicySubject, []v1alpha1.AdminNetworkPolicyIngressRule, []v1alpha1.AdminNetworkPolicyEgressRule) {
	var subj v1alpha1.AdminNetworkPolicySubject
	switch s.n(8) {
	case 0:
		// No subject field: a newer API; selects nothing.
	case 1, 2, 3:
		subj.Namespaces = fzSelector(s)
	default:
		subj.Pods = fzNamespacedPod(s)
	}
	actions := []v1alpha1.AdminNetworkPolicyRuleAction{"Allow", "Deny"}
	if admin {
		actions = append(actions, "Pass")
	}
	var in []v1alpha1.AdminNetworkPolicyIngressRule
	for range s.n(3) {
		r := v1alpha1.AdminNetworkPolicyIngressRule{Action: pick(s, actions...), Ports: fzANPPorts(s)}
		for range 1 + s.n(2) {
			var p v1alpha1.AdminNetworkPolicyIngressPeer
			switch s.n(7) {
			case 0:
				// Unknown peer: fail closed.
			case 1, 2, 3:
				p.Namespaces = fzSelector(s)
			default:
				p.Pods = fzNamespacedPod(s)
			}
			r.From = append(r.From, p)
		}
		in = append(in, r)
	}
	var eg []v1alpha1.AdminNetworkPolicyEgressRule
	for range s.n(3) {
		r := v1alpha1.AdminNetworkPolicyEgressRule{Action: pick(s, actions...), Ports: fzANPPorts(s)}
		for range 1 + s.n(2) {
			var p v1alpha1.AdminNetworkPolicyEgressPeer
			switch s.n(7) {
			case 0:
				p.Namespaces = fzSelector(s)
			case 1:
				p.Pods = fzNamespacedPod(s)
			case 2:
				p.Nodes = fzSelector(s)
			case 3, 4:
				p.Networks = []v1alpha1.CIDR{v1alpha1.CIDR(fzCIDR(s))}
			case 5:
				if admin && r.Action == "Allow" {
					p.DomainNames = []v1alpha1.DomainName{"example.com"}
				} else {
					p.Networks = []v1alpha1.CIDR{v1alpha1.CIDR(fzCIDR(s))}
				}
			}
			r.To = append(r.To, p)
		}
		eg = append(eg, r)
	}
	return subj, in, eg
}

func fzANP(s *bytesource, i int) *v1alpha1.AdminNetworkPolicy {
	a := &v1alpha1.AdminNetworkPolicy{}
	a.Name = "anp" + strconv.Itoa(i)
	a.Spec.Priority = pick[int32](s, 1, 2, 2, 3)
	a.Spec.Subject, a.Spec.Ingress, a.Spec.Egress = fzANPBody(s, true)
	return a
}

func fzProtocols(s *bytesource) []v1beta1.ClusterNetworkPolicyProtocol {
	var out []v1beta1.ClusterNetworkPolicyProtocol
	for range s.n(3) {
		var p v1beta1.ClusterNetworkPolicyProtocol
		dp := &v1beta1.Port{Number: pick[int32](s, 80, 53)}
		if s.chance(2) {
			dp = &v1beta1.Port{Range: &v1beta1.PortRange{Start: 50, End: pick[int32](s, 80, 9000)}}
		}
		switch s.n(4) {
		case 0:
			p.TCP = &v1beta1.ClusterNetworkPolicyProtocolTCP{DestinationPort: dp}
		case 1:
			p.UDP = &v1beta1.ClusterNetworkPolicyProtocolUDP{DestinationPort: dp}
		case 2:
			p.SCTP = &v1beta1.ClusterNetworkPolicyProtocolSCTP{DestinationPort: dp}
		default:
			p.DestinationNamedPort = fzPortName(s)
		}
		out = append(out, p)
	}
	return out
}

func fzCNP(s *bytesource, i int) *v1beta1.ClusterNetworkPolicy {
	c := &v1beta1.ClusterNetworkPolicy{}
	c.Name = "cnp" + strconv.Itoa(i)
	c.Spec.Tier = pick(s, v1beta1.AdminTier, v1beta1.BaselineTier)
	c.Spec.Priority = pick[int32](s, 1, 2)
	subj, in, eg := fzANPBody(s, true)
	c.Spec.Subject.Namespaces = subj.Namespaces
	if subj.Pods != nil {
		c.Spec.Subject.Pods = &v1beta1.NamespacedPod{NamespaceSelector: subj.Pods.NamespaceSelector, PodSelector: subj.Pods.PodSelector}
	}
	action := func(a v1alpha1.AdminNetworkPolicyRuleAction) v1beta1.ClusterNetworkPolicyRuleAction {
		if a == "Allow" {
			return "Accept"
		}
		return v1beta1.ClusterNetworkPolicyRuleAction(a)
	}
	conv := func(p *v1alpha1.NamespacedPod) *v1beta1.NamespacedPod {
		if p == nil {
			return nil
		}
		return &v1beta1.NamespacedPod{NamespaceSelector: p.NamespaceSelector, PodSelector: p.PodSelector}
	}
	for _, r := range in {
		cr := v1beta1.ClusterNetworkPolicyIngressRule{Action: action(r.Action), Protocols: fzProtocols(s)}
		for _, f := range r.From {
			cr.From = append(cr.From, v1beta1.ClusterNetworkPolicyIngressPeer{Namespaces: f.Namespaces, Pods: conv(f.Pods)})
		}
		c.Spec.Ingress = append(c.Spec.Ingress, cr)
	}
	for _, r := range eg {
		cr := v1beta1.ClusterNetworkPolicyEgressRule{Action: action(r.Action), Protocols: fzProtocols(s)}
		for _, t := range r.To {
			p := v1beta1.ClusterNetworkPolicyEgressPeer{Namespaces: t.Namespaces, Pods: conv(t.Pods), Nodes: t.Nodes}
			for _, n := range t.Networks {
				p.Networks = append(p.Networks, v1beta1.CIDR(n))
			}
			for _, d := range t.DomainNames {
				p.DomainNames = append(p.DomainNames, v1beta1.DomainName(d))
			}
			cr.To = append(cr.To, p)
		}
		c.Spec.Egress = append(c.Spec.Egress, cr)
	}
	return c
}

var fzPorts = []policy.Port{
	{Proto: policy.ProtoTCP, Num: 80}, {Proto: policy.ProtoUDP, Num: 53}, {Proto: policy.ProtoTCP, Num: 8080},
	{Proto: policy.ProtoSCTP, Num: 80}, {Proto: policy.ProtoTCP, Num: 9000}, {Proto: policy.ProtoICMP},
}

var fzExternal = []netip.Addr{
	netip.MustParseAddr("10.1.0.3"), netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("fd00::9"),
	netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("fd09::2"),
}

// verdictKey is a verdict with policies named rather than numbered, comparable across
// engines compiled from differently ordered input.
type verdictKey struct {
	allowed         bool
	egress, ingress string
}

func keyOf(e *policy.Engine, v policy.Verdict) verdictKey {
	d := func(x policy.Decision) string {
		name := ""
		if x.Policy >= 0 {
			name = e.Policies[x.Policy].Ref.String()
		}
		return fmt.Sprintf("%v/%s/%s/%s/%d", x.Allowed, x.Reason, x.Tier, name, x.Rule)
	}
	return verdictKey{v.Allowed, d(v.Egress), d(v.Ingress)}
}

// fzEndpoints lists every pod over each family it has (and without an address when it has
// none), plus external addresses; names are stable across engines.
func fzEndpoints(e *policy.Engine) (names []string, eps []policy.Endpoint) {
	for i, p := range e.Pods {
		added := false
		for _, fam := range []int{4, 6} {
			ep := e.PodEndpoint(int32(i), fam)
			if ep.IP.IsValid() {
				names, eps = append(names, p.Key+"@"+strconv.Itoa(fam)), append(eps, ep)
				added = true
			}
		}
		if !added {
			names, eps = append(names, p.Key), append(eps, policy.Endpoint{Pod: int32(i)})
		}
	}
	for _, ip := range fzExternal {
		names, eps = append(names, ip.String()), append(eps, policy.External(ip))
	}
	return names, eps
}

func fzDecisions(e *policy.Engine) map[string]verdictKey {
	out := map[string]verdictKey{}
	names, eps := fzEndpoints(e)
	for i := range eps {
		for j := range eps {
			for _, port := range fzPorts {
				out[names[i]+" -> "+names[j]+" "+port.String()] = keyOf(e, e.Decide(eps[i], eps[j], port))
			}
		}
	}
	return out
}

// FuzzDecide builds small clusters from fuzz input and checks, for every pair of endpoints
// on every probe port: Decide does not panic; a pod reaches itself; the engine agrees with
// the naive oracle; Explain agrees with Decide; and verdicts (with the deciding policy and
// rule) do not change when the input objects come in another order.
func FuzzDecide(f *testing.F) {
	for _, seed := range [][]byte{
		{}, {2, 6, 1, 0, 1, 2, 3, 4, 5, 6, 7}, []byte("netwarden fuzz seed: every tier"),
		{2, 1, 0, 0, 6, 0, 1, 2, 0, 1, 0, 2, 1, 0, 3, 2, 1, 2, 2, 2, 2, 2, 2, 1, 0, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6, 7, 3, 2, 1, 4, 2, 1, 0},
	} {
		f.Add(seed)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 24 {
		b := make([]byte, 40+r.IntN(200))
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		f.Add(b)
	}
	f.Fuzz(checkGenerated)
}

// TestDecideRandomClusters runs the fuzzer's checks on a few hundred random inputs on every
// go test, beyond the seed corpus.
func TestDecideRandomClusters(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 300
	if testing.Short() {
		n = 30
	}
	for i := range n {
		b := make([]byte, 20+r.IntN(300))
		for j := range b {
			b[j] = byte(r.UintN(256))
		}
		t.Run(strconv.Itoa(i), func(t *testing.T) { checkGenerated(t, b) })
	}
}

func checkGenerated(t *testing.T, data []byte) {
	c := fzCluster(&bytesource{b: data})
	c.Normalize()
	e, err := policy.Compile(c)
	if err != nil {
		t.Fatalf("generated input does not compile: %v", err)
	}
	o := newOracle(c)
	names, eps := fzEndpoints(e)
	oe := make([]oEnd, len(eps))
	for i, ep := range eps {
		oe[i].ip = ep.IP
		if ep.Pod >= 0 {
			oe[i].pod = e.Pods[ep.Pod].Pod
		}
	}
	for i := range eps {
		for j := range eps {
			for k, port := range fzPorts {
				v := e.Decide(eps[i], eps[j], port)
				name := names[i] + " -> " + names[j] + " " + port.String()
				if eps[i].Pod >= 0 && eps[i].Pod == eps[j].Pod && !v.Allowed {
					t.Fatalf("%s: a pod may not reach itself", name)
				}
				eg, in := o.decide(oe[i], oe[j], port)
				if v.Egress.Allowed != eg || v.Ingress.Allowed != in {
					t.Fatalf("%s: engine egress=%v ingress=%v (%+v, %+v), oracle egress=%v ingress=%v", name, v.Egress.Allowed, v.Ingress.Allowed, v.Egress, v.Ingress, eg, in)
				}
				if (i+j+k)%4 != 0 {
					continue // Explain is slow; a quarter of the probes, spread over ports, is enough
				}
				if x := e.Explain(eps[i], eps[j], port); x.Allowed != v.Allowed || x.Egress.Allowed != v.Egress.Allowed {
					t.Fatalf("%s: Explain says %v, Decide %v", name, x.Allowed, v.Allowed)
				}
			}
		}
	}
	want := fzDecisions(e)

	shuffled := shuffle(c, rand.New(rand.NewPCG(uint64(len(data)), 7)))
	shuffled.Normalize()
	e2, err := policy.Compile(shuffled)
	if err != nil {
		t.Fatal(err)
	}
	got := fzDecisions(e2)
	if len(got) != len(want) {
		t.Fatalf("%d decisions after reordering, %d before", len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Fatalf("%s: %+v, after reordering the input %+v", k, w, got[k])
		}
	}
	if fmt.Sprint(warningCodes(e)) != fmt.Sprint(warningCodes(e2)) {
		t.Fatalf("warnings %v, after reordering %v", warningCodes(e), warningCodes(e2))
	}
}

// shuffle copies the cluster's object lists (the objects themselves are shared) in random
// order.
func shuffle(c *model.Cluster, r *rand.Rand) *model.Cluster {
	out := &model.Cluster{
		Namespaces:                   append([]*corev1.Namespace(nil), c.Namespaces...),
		Pods:                         append([]*corev1.Pod(nil), c.Pods...),
		Nodes:                        append([]*corev1.Node(nil), c.Nodes...),
		NetworkPolicies:              append([]*networkingv1.NetworkPolicy(nil), c.NetworkPolicies...),
		AdminNetworkPolicies:         append([]*v1alpha1.AdminNetworkPolicy(nil), c.AdminNetworkPolicies...),
		BaselineAdminNetworkPolicies: append([]*v1alpha1.BaselineAdminNetworkPolicy(nil), c.BaselineAdminNetworkPolicies...),
		ClusterNetworkPolicies:       append([]*v1beta1.ClusterNetworkPolicy(nil), c.ClusterNetworkPolicies...),
	}
	r.Shuffle(len(out.Namespaces), func(i, j int) { out.Namespaces[i], out.Namespaces[j] = out.Namespaces[j], out.Namespaces[i] })
	r.Shuffle(len(out.Pods), func(i, j int) { out.Pods[i], out.Pods[j] = out.Pods[j], out.Pods[i] })
	r.Shuffle(len(out.Nodes), func(i, j int) { out.Nodes[i], out.Nodes[j] = out.Nodes[j], out.Nodes[i] })
	r.Shuffle(len(out.NetworkPolicies), func(i, j int) {
		out.NetworkPolicies[i], out.NetworkPolicies[j] = out.NetworkPolicies[j], out.NetworkPolicies[i]
	})
	r.Shuffle(len(out.AdminNetworkPolicies), func(i, j int) {
		out.AdminNetworkPolicies[i], out.AdminNetworkPolicies[j] = out.AdminNetworkPolicies[j], out.AdminNetworkPolicies[i]
	})
	r.Shuffle(len(out.ClusterNetworkPolicies), func(i, j int) {
		out.ClusterNetworkPolicies[i], out.ClusterNetworkPolicies[j] = out.ClusterNetworkPolicies[j], out.ClusterNetworkPolicies[i]
	})
	return out
}
