package e2emodel

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"
	"sigs.k8s.io/yaml"

	"github.com/netwarden/netwarden/pkg/model"
)

// ProtocolICMP stands for ping in a Probe; it has no port.
const ProtocolICMP corev1.Protocol = "ICMP"

// Probe is one connection attempt from every pod to every pod, and what it must give.
type Probe struct {
	Protocol corev1.Protocol // TCP, UDP, SCTP, or ProtocolICMP
	Port     int32           // 0 for ICMP
	Want     Table
}

// String is the probe's port as netwarden's outputs and policy.ParsePort write it:
// "80/TCP", "ICMP".
func (p Probe) String() string {
	if p.Protocol == ProtocolICMP {
		return "ICMP"
	}
	return strconv.Itoa(int(p.Port)) + "/" + string(p.Protocol)
}

// Case is one scenario: policies added to the model, and the probes that pin their meaning.
type Case struct {
	// Name states the rule the case pins.
	Name string
	// Family is the address family the probes connect over: 4, or 6 for cases that run on
	// DualStackCluster and connect to the pods' IPv6 addresses.
	Family int
	// Manifests is the case's policies as YAML, as a user would write them.
	Manifests string

	NetworkPolicies              []*networkingv1.NetworkPolicy
	AdminNetworkPolicies         []*v1alpha1.AdminNetworkPolicy
	BaselineAdminNetworkPolicies []*v1alpha1.BaselineAdminNetworkPolicy
	ClusterNetworkPolicies       []*v1beta1.ClusterNetworkPolicy

	Probes []Probe
}

// Cluster returns the model (dual-stack for Family 6) with the case's policies, normalized.
// Every call returns fresh objects.
func (c Case) Cluster() *model.Cluster {
	cl := Cluster()
	if c.Family == 6 {
		cl = DualStackCluster()
	}
	for _, o := range c.NetworkPolicies {
		cl.NetworkPolicies = append(cl.NetworkPolicies, o.DeepCopy())
	}
	for _, o := range c.AdminNetworkPolicies {
		cl.AdminNetworkPolicies = append(cl.AdminNetworkPolicies, o.DeepCopy())
	}
	for _, o := range c.BaselineAdminNetworkPolicies {
		cl.BaselineAdminNetworkPolicies = append(cl.BaselineAdminNetworkPolicies, o.DeepCopy())
	}
	for _, o := range c.ClusterNetworkPolicies {
		cl.ClusterNetworkPolicies = append(cl.ClusterNetworkPolicies, o.DeepCopy())
	}
	cl.Normalize()
	return cl
}

// Cases returns every case, decoded afresh. It panics if a case's manifests do not decode:
// the catalogue is code, and a broken entry is a bug in it.
func Cases() []Case {
	var out []Case
	for _, group := range [][]Case{networkPolicyCases(), adminCases(), clusterNetworkPolicyCases()} {
		for _, c := range group {
			if c.Family == 0 {
				c.Family = 4
			}
			if err := c.decode(); err != nil {
				panic(fmt.Sprintf("e2emodel: case %q: %v", c.Name, err))
			}
			out = append(out, c)
		}
	}
	return out
}

// decode fills the typed policy fields from Manifests, strictly: an unknown field in a
// case would silently change its meaning.
func (c *Case) decode() error {
	for i, doc := range strings.Split(c.Manifests, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		js, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			return fmt.Errorf("document %d: %w", i, err)
		}
		var h struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(js, &h); err != nil {
			return fmt.Errorf("document %d: %w", i, err)
		}
		gvk := schema.FromAPIVersionAndKind(h.APIVersion, h.Kind)
		var into any
		switch gvk {
		case networkingv1.SchemeGroupVersion.WithKind(model.KindNetworkPolicy):
			o := &networkingv1.NetworkPolicy{}
			c.NetworkPolicies, into = append(c.NetworkPolicies, o), o
		case v1alpha1.SchemeGroupVersion.WithKind(model.KindAdminNetworkPolicy):
			o := &v1alpha1.AdminNetworkPolicy{}
			c.AdminNetworkPolicies, into = append(c.AdminNetworkPolicies, o), o
		case v1alpha1.SchemeGroupVersion.WithKind(model.KindBaselineAdminNetworkPolicy):
			o := &v1alpha1.BaselineAdminNetworkPolicy{}
			c.BaselineAdminNetworkPolicies, into = append(c.BaselineAdminNetworkPolicies, o), o
		case v1beta1.SchemeGroupVersion.WithKind(model.KindClusterNetworkPolicy):
			o := &v1beta1.ClusterNetworkPolicy{}
			c.ClusterNetworkPolicies, into = append(c.ClusterNetworkPolicies, o), o
		default:
			return fmt.Errorf("document %d: unexpected %s", i, gvk)
		}
		strictErrs, err := sigsjson.UnmarshalStrict(js, into)
		if err == nil && len(strictErrs) > 0 {
			err = strictErrs[0]
		}
		if err != nil {
			return fmt.Errorf("document %d: %w", i, err)
		}
	}
	return nil
}

// YAML returns the whole scenario as one multi-document manifest: the model's namespaces,
// node and pods, then the case's policies. Loading it gives Cluster().
func (c Case) YAML() ([]byte, error) {
	cl := Cluster()
	if c.Family == 6 {
		cl = DualStackCluster()
	}
	var b bytes.Buffer
	var objs []any
	for _, o := range cl.Namespaces {
		objs = append(objs, o)
	}
	for _, o := range cl.Nodes {
		objs = append(objs, o)
	}
	for _, o := range cl.Pods {
		objs = append(objs, o)
	}
	for _, o := range objs {
		y, err := yaml.Marshal(o)
		if err != nil {
			return nil, err
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	b.WriteString("---\n")
	b.WriteString(strings.TrimSpace(c.Manifests))
	b.WriteByte('\n')
	return b.Bytes(), nil
}
