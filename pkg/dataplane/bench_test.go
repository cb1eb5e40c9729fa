package dataplane

import (
	"fmt"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// scaleCluster is a synthetic cluster: pods spread over namespaces of 50 and over nodes
// of 100, each namespace isolated by default with its apps allowed from one another on
// a named port and from the monitoring namespace, and every pod of the cluster allowed
// on 9100/TCP (so each local namespace has a peer set of every pod).
func scaleCluster(pods int, extra ...*corev1.Pod) *model.Cluster {
	c := &model.Cluster{}
	for i := range pods {
		p := &corev1.Pod{}
		p.Name = fmt.Sprintf("p%d", i)
		p.Namespace = fmt.Sprintf("ns%d", i/50)
		p.Labels = map[string]string{"app": fmt.Sprintf("app%d", i%5)}
		p.Spec.NodeName = fmt.Sprintf("node%d", i/100)
		p.Spec.Containers = []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(8000 + i%3)}}}}
		p.Status.PodIP = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String()
		c.Pods = append(c.Pods, p)
	}
	c.Pods = append(c.Pods, extra...)
	tcp := corev1.ProtocolTCP
	http := intstr.FromString("http")
	metrics := intstr.FromInt32(9100)
	for ns := range (pods + 49) / 50 {
		name := fmt.Sprintf("ns%d", ns)
		deny := &networkingv1.NetworkPolicy{}
		deny.Name, deny.Namespace = "default-deny", name
		deny.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		allow := &networkingv1.NetworkPolicy{}
		allow.Name, allow.Namespace = "apps", name
		allow.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
			From: []networkingv1.NetworkPolicyPeer{
				{PodSelector: &metav1.LabelSelector{}},
				{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{model.NamespaceNameLabel: "monitoring"}}},
			},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &http}},
		}, {
			// Every pod of the cluster, so the peer sets are big.
			From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &metrics}},
		}}
		c.NetworkPolicies = append(c.NetworkPolicies, deny, allow)
	}
	c.Normalize()
	return c
}

// BenchmarkCompile compiles node0's program of scaleCluster; -benchmem (or the
// ReportAllocs here) gives the compiler's memory per compile.
func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			e, err := policy.Compile(scaleCluster(n))
			if err != nil {
				b.Fatal(err)
			}
			local := localPods(e, "node0")
			b.ReportAllocs()
			var elements int
			for b.Loop() {
				p, err := Compile(e, local, Options{})
				if err != nil {
					b.Fatal(err)
				}
				elements = 0
				for _, s := range p.Sets {
					elements += len(s.Elements)
				}
			}
			b.ReportMetric(float64(elements), "elements")
		})
	}
}

// BenchmarkDiff diffs node0's program against the one with a pod more on another node.
func BenchmarkDiff(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			compile := func(c *model.Cluster) *Program {
				e, err := policy.Compile(c)
				if err != nil {
					b.Fatal(err)
				}
				p, err := Compile(e, localPods(e, "node0"), Options{})
				if err != nil {
					b.Fatal(err)
				}
				return p
			}
			extra := &corev1.Pod{}
			extra.Name, extra.Namespace = "new", "ns0"
			extra.Spec.NodeName = "node9"
			extra.Status.PodIP = "10.255.0.1"
			old, new := compile(scaleCluster(n)), compile(scaleCluster(n, extra))
			b.ReportAllocs()
			for b.Loop() {
				if d, ok := Diff(old, new); !ok || d.Empty() {
					b.Fatal("no incremental change")
				}
			}
		})
	}
}

// policyCluster is a server selected by n NetworkPolicies in every form (pods of one app
// on one port, a /24 with a hole, namespaces on any port, port ranges, named ports, one
// address on any port) over model pods in 20 namespaces and apps of 10.
func policyCluster(n, pods int) *model.Cluster {
	c := &model.Cluster{}
	server := &corev1.Pod{}
	server.Name, server.Namespace, server.Labels = "server", "bench", map[string]string{"app": "server"}
	server.Spec.NodeName = "node0"
	server.Spec.Containers = []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9100}}}}
	server.Status.PodIP = "10.244.0.2"
	c.Pods = append(c.Pods, server)
	for i := range 20 {
		ns := &corev1.Namespace{}
		ns.Name, ns.Labels = fmt.Sprintf("m%d", i), map[string]string{"team": fmt.Sprintf("t%d", i%5)}
		c.Namespaces = append(c.Namespaces, ns)
	}
	for i := range pods {
		p := &corev1.Pod{}
		p.Namespace, p.Name = fmt.Sprintf("m%d", i%20), fmt.Sprintf("p%d", i)
		p.Labels = map[string]string{"app": fmt.Sprintf("app%d", i%1000)}
		p.Spec.NodeName = "model"
		p.Status.PodIP = netip.AddrFrom4([4]byte{10, 100 + byte(i>>16), byte(i >> 8), byte(i)}).String()
		c.Pods = append(c.Pods, p)
	}
	tcp := corev1.ProtocolTCP
	port := func(p int32) *intstr.IntOrString { v := intstr.FromInt32(p); return &v }
	peer := func(i int) networkingv1.NetworkPolicyPeer {
		return networkingv1.NetworkPolicyPeer{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{model.NamespaceNameLabel: fmt.Sprintf("m%d", i%20)}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprintf("app%d", i%1000)}},
		}
	}
	for i := range n {
		np := &networkingv1.NetworkPolicy{}
		np.Namespace, np.Name = "bench", fmt.Sprintf("allow-%05d", i)
		np.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"app": "server"}}
		var r networkingv1.NetworkPolicyIngressRule
		switch i % 10 {
		case 0, 1, 2, 3, 4:
			r.From = []networkingv1.NetworkPolicyPeer{peer(i)}
			r.Ports = []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: port(int32(1000 + i%1000))}}
		case 5:
			b := netip.AddrFrom4([4]byte{10, byte(200 + i/250%50), byte(i % 250), 0})
			r.From = []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: netip.PrefixFrom(b, 24).String(), Except: []string{netip.PrefixFrom(b, 28).String()}}}}
			r.Ports = []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: port(443)}}
		case 6:
			r.From = []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": fmt.Sprintf("t%d", i%5)}}}}
		case 7:
			end := int32(8000 + i%100)
			r.From = []networkingv1.NetworkPolicyPeer{peer(i)}
			r.Ports = []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: port(8000), EndPort: &end}}
		case 8:
			metrics := intstr.FromString("metrics")
			r.From = []networkingv1.NetworkPolicyPeer{peer(i)}
			r.Ports = []networkingv1.NetworkPolicyPort{{Port: &metrics}}
		default:
			r.From = []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 250, byte(i / 250 % 250), byte(i%250 + 1)}), 32).String()}}}
		}
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{r}
		c.NetworkPolicies = append(c.NetworkPolicies, np)
	}
	c.Normalize()
	return c
}

// BenchmarkCompilePolicies compiles the server's node with 100 to 10,000 policies over
// 10,000 model pods.
func BenchmarkCompilePolicies(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("policies=%d", n), func(b *testing.B) {
			e, err := policy.Compile(policyCluster(n, 10000))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			var elements int
			for b.Loop() {
				p, err := Compile(e, []int32{0}, Options{})
				if err != nil {
					b.Fatal(err)
				}
				elements = 0
				for _, s := range p.Sets {
					elements += len(s.Elements)
				}
			}
			b.ReportMetric(float64(elements), "elements")
		})
	}
}
