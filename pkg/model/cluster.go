// Package model holds cluster state as the official Kubernetes and network-policy-api
// types, plus where each object came from. It has no logic beyond bookkeeping; the
// semantics live in pkg/policy.
package model

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"
)

// Kind names used in object references and messages.
const (
	KindNamespace                  = "Namespace"
	KindPod                        = "Pod"
	KindNode                       = "Node"
	KindNetworkPolicy              = "NetworkPolicy"
	KindAdminNetworkPolicy         = "AdminNetworkPolicy"
	KindBaselineAdminNetworkPolicy = "BaselineAdminNetworkPolicy"
	KindClusterNetworkPolicy       = "ClusterNetworkPolicy"
)

// NamespaceNameLabel is the label the API server puts on every namespace.
const NamespaceNameLabel = "kubernetes.io/metadata.name"

// DefaultNamespace is where namespaced objects without a namespace land, as with kubectl.
const DefaultNamespace = "default"

// Ref identifies one object. Namespace is empty for cluster-scoped kinds.
type Ref struct {
	Kind      string
	Namespace string
	Name      string
}

func (r Ref) String() string {
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// Source says where an object was read from, so errors and explanations can point at it.
// Doc is the 0-based document index in a multi-document file; Item is the index inside a
// List (-1 when the object was not in a list).
type Source struct {
	File string
	Doc  int
	Item int
}

func (s Source) String() string {
	if s.File == "" {
		return "cluster"
	}
	if s.Item >= 0 {
		return fmt.Sprintf("%s (document %d, item %d)", s.File, s.Doc, s.Item)
	}
	return fmt.Sprintf("%s (document %d)", s.File, s.Doc)
}

// Cluster is a snapshot of everything that decides connectivity. Pods include the pods
// that workload controllers (Deployments, ...) stand for; see Workload.
type Cluster struct {
	Namespaces                   []*corev1.Namespace
	Pods                         []*corev1.Pod
	Nodes                        []*corev1.Node
	NetworkPolicies              []*networkingv1.NetworkPolicy
	AdminNetworkPolicies         []*v1alpha1.AdminNetworkPolicy
	BaselineAdminNetworkPolicies []*v1alpha1.BaselineAdminNetworkPolicy
	// ClusterNetworkPolicies holds v1beta1 and v1alpha2 objects alike (the two versions
	// have the same schema); Versions remembers which one a file used.
	ClusterNetworkPolicies []*v1beta1.ClusterNetworkPolicy

	// Sources maps each object to where it came from; objects read from a live cluster
	// have no entry.
	Sources map[Ref]Source
}

// SourceOf returns where ref was read from, or the zero Source ("cluster").
func (c *Cluster) SourceOf(ref Ref) Source {
	if s, ok := c.Sources[ref]; ok {
		return s
	}
	return Source{Item: -1}
}

// Normalize makes the implicit explicit: namespaces that objects refer to but that were not
// declared are added, every namespace gets the automatic kubernetes.io/metadata.name label,
// and objects are sorted by namespace and name so results never depend on input order.
func (c *Cluster) Normalize() {
	have := map[string]*corev1.Namespace{}
	for _, ns := range c.Namespaces {
		have[ns.Name] = ns
	}
	need := func(name string) {
		if name == "" {
			return
		}
		if _, ok := have[name]; !ok {
			ns := &corev1.Namespace{}
			ns.Name = name
			have[name] = ns
			c.Namespaces = append(c.Namespaces, ns)
		}
	}
	for _, p := range c.Pods {
		if p.Namespace == "" {
			p.Namespace = DefaultNamespace
		}
		need(p.Namespace)
	}
	for _, np := range c.NetworkPolicies {
		if np.Namespace == "" {
			np.Namespace = DefaultNamespace
		}
		need(np.Namespace)
	}
	for _, ns := range c.Namespaces {
		if ns.Labels[NamespaceNameLabel] != ns.Name {
			l := make(map[string]string, len(ns.Labels)+1)
			for k, v := range ns.Labels {
				l[k] = v
			}
			l[NamespaceNameLabel] = ns.Name
			ns.Labels = l
		}
	}
	sort.Slice(c.Namespaces, func(i, j int) bool { return c.Namespaces[i].Name < c.Namespaces[j].Name })
	sort.Slice(c.Pods, func(i, j int) bool {
		return nsNameLess(c.Pods[i].Namespace, c.Pods[i].Name, c.Pods[j].Namespace, c.Pods[j].Name)
	})
	sort.Slice(c.Nodes, func(i, j int) bool { return c.Nodes[i].Name < c.Nodes[j].Name })
	sort.Slice(c.NetworkPolicies, func(i, j int) bool {
		a, b := c.NetworkPolicies[i], c.NetworkPolicies[j]
		return nsNameLess(a.Namespace, a.Name, b.Namespace, b.Name)
	})
	sort.Slice(c.AdminNetworkPolicies, func(i, j int) bool { return c.AdminNetworkPolicies[i].Name < c.AdminNetworkPolicies[j].Name })
	sort.Slice(c.BaselineAdminNetworkPolicies, func(i, j int) bool {
		return c.BaselineAdminNetworkPolicies[i].Name < c.BaselineAdminNetworkPolicies[j].Name
	})
	sort.Slice(c.ClusterNetworkPolicies, func(i, j int) bool { return c.ClusterNetworkPolicies[i].Name < c.ClusterNetworkPolicies[j].Name })
}

func nsNameLess(ns1, n1, ns2, n2 string) bool {
	if ns1 != ns2 {
		return ns1 < ns2
	}
	return n1 < n2
}

// PolicyCount is the number of policy objects of every kind.
func (c *Cluster) PolicyCount() int {
	return len(c.NetworkPolicies) + len(c.AdminNetworkPolicies) + len(c.BaselineAdminNetworkPolicies) + len(c.ClusterNetworkPolicies)
}
