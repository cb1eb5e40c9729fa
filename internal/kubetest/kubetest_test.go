package kubetest_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	npav1beta1 "sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netwarden/netwarden/internal/kubetest"
)

// One apiserver for the whole package; kubetest.Main stops it at the end.
func TestMain(m *testing.M) { kubetest.Main(m) }

var cnpGVR = schema.GroupVersionResource{Group: "policy.networking.k8s.io", Version: "v1beta1", Resource: "clusternetworkpolicies"}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestPodsAndNetworkPolicies(t *testing.T) {
	env := kubetest.Shared(t)
	ctx := ctxFor(t)
	ns := env.Namespace(t)

	// The version we built is the one serving.
	v, err := env.Client.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != kubetest.KubeVersion {
		t.Errorf("server version %q, want %q", v.GitVersion, kubetest.KubeVersion)
	}

	node, err := kubetest.CreateNode(ctx, env.Client, "node-a", map[string]string{"zone": "z1"}, "192.0.2.10")
	if err != nil {
		t.Fatal(err)
	}
	if got := node.Status.Addresses; len(got) != 2 || got[1].Address != "192.0.2.10" {
		t.Errorf("node addresses %v", got)
	}

	pod, err := kubetest.CreatePod(ctx, env.Client, ns, "web-0", node.Name, map[string]string{"app": "web"}, "10.244.1.5", "fd00:10:244:1::5")
	if err != nil {
		t.Fatal(err)
	}
	pod, err = env.Client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Status.Phase != corev1.PodRunning || pod.Status.PodIP != "10.244.1.5" ||
		len(pod.Status.PodIPs) != 2 || pod.Status.PodIPs[1].IP != "fd00:10:244:1::5" {
		t.Errorf("pod status: phase %s podIP %q podIPs %v", pod.Status.Phase, pod.Status.PodIP, pod.Status.PodIPs)
	}

	// A pod created directly, then given a status: the documented two steps.
	raw, err := env.Client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "db-0", Labels: map[string]string{"app": "db"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: kubetest.PauseImage}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if raw.Status.PodIP != "" {
		t.Fatalf("new pod already has IP %q", raw.Status.PodIP)
	}
	db, err := kubetest.SetPodStatus(ctx, env.Client, raw, "10.244.2.7")
	if err != nil {
		t.Fatal(err)
	}
	if db.Status.PodIP != "10.244.2.7" || db.Status.Phase != corev1.PodRunning {
		t.Errorf("db pod status %+v", db.Status)
	}
	// Real validation of pod status: two IPv4 addresses are refused.
	if _, err := kubetest.SetPodStatus(ctx, env.Client, raw, "10.244.2.7", "10.244.2.8"); !apierrors.IsInvalid(err) {
		t.Errorf("two IPv4 pod IPs: got %v, want Invalid", err)
	}

	tcp := corev1.ProtocolTCP
	np := func(name string, port int32) *networkingv1.NetworkPolicy {
		p := intstr.FromInt32(port)
		return &networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}},
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &p}},
				}},
			},
		}
	}
	if _, err := env.Client.NetworkingV1().NetworkPolicies(ns).Create(ctx, np("db-from-web", 5432), metav1.CreateOptions{}); err != nil {
		t.Fatalf("valid NetworkPolicy: %v", err)
	}
	_, err = env.Client.NetworkingV1().NetworkPolicies(ns).Create(ctx, np("bad-port", 70000), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.ingress[0].ports[0].port") {
		t.Fatalf("NetworkPolicy with port 70000: got %v, want Invalid on spec.ingress[0].ports[0].port", err)
	}
	t.Logf("refused as expected: %v", err)
}

func TestClusterNetworkPolicyCRD(t *testing.T) {
	env := kubetest.Shared(t)
	ctx := ctxFor(t)

	crds := kubetest.InstallCRDs(t, env.Config)
	if len(crds) != 1 || crds[0].Name != "clusternetworkpolicies.policy.networking.k8s.io" {
		names := []string{}
		for _, c := range crds {
			names = append(names, c.Name)
		}
		t.Fatalf("installed CRDs %v, want the ClusterNetworkPolicy one", names)
	}
	// Installing again (as a second test sharing the server would) is fine.
	kubetest.InstallCRDs(t, env.Config)

	// Build the object with the module's own Go types, so a mismatch
	// between them and the CRD schema shows up here.
	cnp := &npav1beta1.ClusterNetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy.networking.k8s.io/v1beta1", Kind: "ClusterNetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "deny-sensitive"},
		Spec: npav1beta1.ClusterNetworkPolicySpec{
			Tier:     npav1beta1.AdminTier,
			Priority: 10,
			Subject: npav1beta1.ClusterNetworkPolicySubject{
				Namespaces: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "sensitive"}},
			},
			Ingress: []npav1beta1.ClusterNetworkPolicyIngressRule{{
				Name:   "deny-all",
				Action: npav1beta1.ClusterNetworkPolicyRuleActionDeny,
				From:   []npav1beta1.ClusterNetworkPolicyIngressPeer{{Namespaces: &metav1.LabelSelector{}}},
				Protocols: []npav1beta1.ClusterNetworkPolicyProtocol{{
					TCP: &npav1beta1.ClusterNetworkPolicyProtocolTCP{DestinationPort: &npav1beta1.Port{Number: 8080}},
				}},
			}},
		},
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cnp)
	if err != nil {
		t.Fatal(err)
	}
	delete(obj, "status")
	u := &unstructured.Unstructured{Object: obj}
	created, err := env.Dynamic.Resource(cnpGVR).Create(ctx, u, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating ClusterNetworkPolicy: %v", err)
	}
	var back npav1beta1.ClusterNetworkPolicy
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(created.Object, &back); err != nil {
		t.Fatal(err)
	}
	if back.Spec.Priority != 10 || len(back.Spec.Ingress) != 1 || back.Spec.Ingress[0].Protocols[0].TCP.DestinationPort.Number != 8080 {
		t.Errorf("read back %+v", back.Spec)
	}

	// The CRD's schema is enforced: an unknown action is refused.
	bad := u.DeepCopy()
	bad.SetName("bad-action")
	ingress, _, _ := unstructured.NestedSlice(bad.Object, "spec", "ingress")
	ingress[0].(map[string]any)["action"] = "Maybe"
	if err := unstructured.SetNestedSlice(bad.Object, ingress, "spec", "ingress"); err != nil {
		t.Fatal(err)
	}
	_, err = env.Dynamic.Resource(cnpGVR).Create(ctx, bad, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("ClusterNetworkPolicy with action Maybe: got %v, want Invalid", err)
	}
	t.Logf("refused as expected: %v", err)
}

// Start gives a test its own server, stopped at cleanup.
func TestStartPrivate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second apiserver (~5 s)")
	}
	env := kubetest.Start(t)
	ctx := ctxFor(t)
	nss, err := env.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nss.Items) == 0 {
		t.Error("no namespaces; want at least default and kube-system")
	}

	// Stop is idempotent (Cleanup calls it again) and removes the directory.
	if err := env.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(env.Dir); !os.IsNotExist(err) {
		t.Errorf("dir %s still there after Stop (%v)", env.Dir, err)
	}
	if _, err := env.Client.Discovery().ServerVersion(); err == nil {
		t.Error("server still answers after Stop")
	}
}
