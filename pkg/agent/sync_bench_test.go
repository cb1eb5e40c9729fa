package agent

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/netwarden/netwarden/pkg/dataplane"
	"github.com/netwarden/netwarden/pkg/policy"
)

// syntheticObjects is a cluster like the latency measurement's: pods over 50 namespaces
// and 100 nodes, and policies selecting the node's target pods with peers across them.
// With allLocal, every policy is in ns-0 and selects pods of node-0 (the worst case for
// node-0: nothing is left out of its compile).
func syntheticObjects(pods, policies int, allLocal bool) []runtime.Object {
	r := rand.New(rand.NewPCG(uint64(pods), 7))
	var objs []runtime.Object
	for i := range 50 {
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ns-%d", i),
			Labels: map[string]string{"team": fmt.Sprintf("t%d", i%10), "kubernetes.io/metadata.name": fmt.Sprintf("ns-%d", i)}}})
	}
	for i := range pods {
		node := fmt.Sprintf("node-%d", i%100)
		labels := map[string]string{"app": fmt.Sprintf("a%d", r.IntN(20)), "tier": fmt.Sprintf("t%d", r.IntN(3))}
		if i%100 == 0 {
			labels["app"] = "target"
		}
		p := e2ePodSpec(fmt.Sprintf("ns-%d", i%50), fmt.Sprintf("p-%d", i), node, labels)
		ip := fmt.Sprintf("10.%d.%d.%d", 128+i/65536, (i/256)%256, i%256)
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}
		objs = append(objs, p)
	}
	for i := range policies {
		peer := networkingv1.NetworkPolicyPeer{NamespaceSelector: sel("team", fmt.Sprintf("t%d", i%10)), PodSelector: sel("app", fmt.Sprintf("a%d", i%20))}
		if i%4 == 0 {
			peer = networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{}, PodSelector: sel("app", fmt.Sprintf("a%d", i%20))}
		}
		port := intstr.FromInt32(int32(1000 + i))
		ns := fmt.Sprintf("ns-%d", i%50)
		if allLocal {
			ns = "ns-0"
		}
		objs = append(objs, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("np-%d", i)},
			Spec: networkingv1.NetworkPolicySpec{PodSelector: *sel("app", "target"),
				Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{peer}, Ports: []networkingv1.NetworkPolicyPort{{Port: &port}}}}}})
	}
	return objs
}

// e2ePodSpec is a pod with the e2e pods' container ports.
func e2ePodSpec(ns, name, node string, labels map[string]string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}}
	p.Spec.NodeName = node
	p.Spec.Containers = []corev1.Container{{Name: "app", Ports: []corev1.ContainerPort{
		{Name: "http", ContainerPort: 80, Protocol: corev1.ProtocolTCP},
		{Name: "pg", ContainerPort: 5432, Protocol: corev1.ProtocolTCP},
	}}}
	return p
}

// BenchmarkSyncCPU measures the CPU work of one sync without the kernel write: snapshot
// from the informer caches, policy compile, nftables compile. It reports each phase, for
// 200 policies spread over 50 namespaces (node-0 compiles only its namespace's) or all
// selecting node-0's pods; world=same is a sync after a policy change (the snapshot and
// the compile reuse the pod work of the previous sync), world=changed one after a pod
// change (everything is done again), and their ratio is printed.
func BenchmarkSyncCPU(b *testing.B) {
	for _, bc := range []struct {
		pods     int
		allLocal bool
	}{{1000, false}, {10000, false}, {1000, true}, {10000, true}} {
		name := fmt.Sprintf("pods=%d/policies=spread", bc.pods)
		if bc.allLocal {
			name = fmt.Sprintf("pods=%d/policies=local", bc.pods)
		}
		cs := fake.NewClientset(syntheticObjects(bc.pods, 200, bc.allLocal)...)
		c := NewCache(cs, dynamicfake.NewSimpleDynamicClient(runtime.NewScheme()), cs.Discovery(), CacheOptions{Logger: testLogger(b)})
		ctx, cancel := context.WithCancel(context.Background())
		c.Start(ctx)
		if err := c.WaitForSync(ctx); err != nil {
			b.Fatal(err)
		}
		perSync := map[bool]float64{}
		for _, same := range []bool{false, true} {
			world := "changed"
			if same {
				world = "same"
			}
			b.Run(name+"/world="+world, func(b *testing.B) {
				var prev *policy.Engine
				var snap, pol, nft time.Duration
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if !same {
						c.gens.pods.Add(1) // as a pod event does
						prev = nil
					}
					t0 := time.Now()
					s, err := c.Snapshot()
					if err != nil {
						b.Fatal(err)
					}
					t1 := time.Now()
					e, _, err := compileTolerant(prev, nodeScope(s.Cluster, "node-0"))
					if err != nil {
						b.Fatal(err)
					}
					prev = e
					t2 := time.Now()
					if _, err := dataplane.Compile(e, LocalPods(e, "node-0"), dataplane.Options{}); err != nil {
						b.Fatal(err)
					}
					snap, pol, nft = snap+t1.Sub(t0), pol+t2.Sub(t1), nft+time.Since(t2)
				}
				n := float64(b.N)
				b.ReportMetric(float64(snap.Microseconds())/n/1000, "snapshot-ms")
				b.ReportMetric(float64(pol.Microseconds())/n/1000, "policy-ms")
				b.ReportMetric(float64(nft.Microseconds())/n/1000, "nft-ms")
				perSync[same] = float64((snap + pol + nft).Microseconds()) / n
			})
		}
		if perSync[false] > 0 && perSync[true] > 0 {
			b.Logf("%s: a sync after a policy change takes ×%.2f the CPU of one after a pod change", name, perSync[true]/perSync[false])
		}
		cancel()
	}
}
