// Package kubeapply puts a model.Cluster into a real API server, statuses included (pod
// phases and addresses, node addresses), and writes a kubeconfig for it. Tests use it to
// compare what netwarden reads from a live cluster with what it reads from the same
// objects as files; it is not meant for real clusters.
package kubeapply

import (
	"context"
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/netwarden/netwarden/pkg/model"
)

//go:embed crds/*.yaml
var crds embed.FS

// WriteAdminCRDs writes minimal CRDs for AdminNetworkPolicy and BaselineAdminNetworkPolicy
// (v1alpha1; the network-policy-api module ships none) into dir and returns their paths,
// for kubetest.InstallCRDs.
func WriteAdminCRDs(dir string) ([]string, error) {
	entries, err := crds.ReadDir("crds")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		b, err := crds.ReadFile("crds/" + e.Name())
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, e.Name())
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// WriteKubeconfig writes a kubeconfig reaching cfg's server with its CA and bearer token,
// as context name.
func WriteKubeconfig(path string, cfg *rest.Config, name string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken, ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	kc.CurrentContext = name
	return clientcmd.WriteToFile(*kc, path)
}

// Apply creates every object of c, then sets the statuses a kubelet or node controller
// would (pod phase and addresses, node addresses). Namespaces that exist already get c's
// labels. Admin kinds need their CRDs installed first.
func Apply(ctx context.Context, cfg *rest.Config, c *model.Cluster) error {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 200, 400
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, ns := range c.Namespaces {
		o := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.Name, Labels: ns.Labels}}
		_, err := cs.CoreV1().Namespaces().Create(ctx, o, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			cur, gerr := cs.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{})
			if gerr != nil {
				return gerr
			}
			cur.Labels = ns.Labels
			_, err = cs.CoreV1().Namespaces().Update(ctx, cur, metav1.UpdateOptions{})
		}
		if err != nil {
			return fmt.Errorf("namespace %s: %w", ns.Name, err)
		}
	}
	for _, n := range c.Nodes {
		o := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: n.Labels}, Spec: n.Spec}
		made, err := cs.CoreV1().Nodes().Create(ctx, o, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
		made.Status.Addresses = n.Status.Addresses
		if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, made, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("node %s status: %w", n.Name, err)
		}
	}
	if err := parallel(len(c.Pods), func(i int) error {
		p := c.Pods[i]
		o := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, Labels: p.Labels,
			Annotations: p.Annotations, OwnerReferences: p.OwnerReferences}, Spec: p.Spec}
		made, err := cs.CoreV1().Pods(p.Namespace).Create(ctx, o, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("pod %s/%s: %w", p.Namespace, p.Name, err)
		}
		made.Status.Phase = p.Status.Phase
		made.Status.PodIP = p.Status.PodIP
		made.Status.PodIPs = p.Status.PodIPs
		if _, err := cs.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, made, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("pod %s/%s status: %w", p.Namespace, p.Name, err)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, np := range c.NetworkPolicies {
		o := np.DeepCopy()
		o.ResourceVersion, o.UID = "", ""
		if _, err := cs.NetworkingV1().NetworkPolicies(np.Namespace).Create(ctx, o, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("NetworkPolicy %s/%s: %w", np.Namespace, np.Name, err)
		}
	}
	create := func(resource, version, kind string, obj any) error {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return err
		}
		us := &unstructured.Unstructured{Object: u}
		us.SetAPIVersion("policy.networking.k8s.io/" + version)
		us.SetKind(kind)
		delete(us.Object, "status")
		gvr := schema.GroupVersionResource{Group: "policy.networking.k8s.io", Version: version, Resource: resource}
		if _, err := dyn.Resource(gvr).Create(ctx, us, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("%s %s: %w", kind, us.GetName(), err)
		}
		return nil
	}
	for _, o := range c.AdminNetworkPolicies {
		if err := create("adminnetworkpolicies", "v1alpha1", model.KindAdminNetworkPolicy, o); err != nil {
			return err
		}
	}
	for _, o := range c.BaselineAdminNetworkPolicies {
		if err := create("baselineadminnetworkpolicies", "v1alpha1", model.KindBaselineAdminNetworkPolicy, o); err != nil {
			return err
		}
	}
	for _, o := range c.ClusterNetworkPolicies {
		if err := create("clusternetworkpolicies", "v1beta1", model.KindClusterNetworkPolicy, o); err != nil {
			return err
		}
	}
	return nil
}

// parallel runs f for 0..n-1 on a few goroutines and returns the first error.
func parallel(n int, f func(int) error) error {
	const workers = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}
