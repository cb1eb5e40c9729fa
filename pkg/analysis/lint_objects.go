package analysis

import (
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// polView is what lint needs of a policy beyond its compiled form: the subject as a pair of
// selectors (so coverage can be decided from the selectors, not only from today's pods) and
// the source object (for field paths and duplicate detection).
type polView struct {
	p *policy.Policy
	// subjNS selects the namespaces of the subject; for a NetworkPolicy it is its own
	// namespace's name label. subjPod selects pods in them.
	subjNS, subjPod labels.Selector
	// np is set for NetworkPolicies.
	np *networkingv1.NetworkPolicy
	// spec is the object's spec, for duplicate detection.
	spec any
	cnp  bool
}

// views returns one view per compiled policy, indexed like Engine.Policies.
func (l *linter) views() []polView {
	if l.pv != nil {
		return l.pv
	}
	nps := map[model.Ref]*networkingv1.NetworkPolicy{}
	for _, o := range l.c.NetworkPolicies {
		nps[model.Ref{Kind: model.KindNetworkPolicy, Namespace: o.Namespace, Name: o.Name}] = o
	}
	anps := map[string]*v1alpha1.AdminNetworkPolicy{}
	for _, o := range l.c.AdminNetworkPolicies {
		anps[o.Name] = o
	}
	banps := map[string]*v1alpha1.BaselineAdminNetworkPolicy{}
	for _, o := range l.c.BaselineAdminNetworkPolicies {
		banps[o.Name] = o
	}
	cnps := map[string]*v1beta1.ClusterNetworkPolicy{}
	for _, o := range l.c.ClusterNetworkPolicies {
		cnps[o.Name] = o
	}
	l.pv = make([]polView, len(l.e.Policies))
	for i, p := range l.e.Policies {
		v := polView{p: p, subjNS: labels.Nothing(), subjPod: labels.Nothing()}
		switch p.Ref.Kind {
		case model.KindNetworkPolicy:
			if o := nps[p.Ref]; o != nil {
				v.np, v.spec = o, &o.Spec
				v.subjNS = nsNameSelector(o.Namespace)
				v.subjPod = selectorOf(&o.Spec.PodSelector)
			}
		case model.KindAdminNetworkPolicy:
			if o := anps[p.Ref.Name]; o != nil {
				v.spec = &o.Spec
				v.subjNS, v.subjPod = subjectSelectors(o.Spec.Subject.Namespaces, o.Spec.Subject.Pods)
			}
		case model.KindBaselineAdminNetworkPolicy:
			if o := banps[p.Ref.Name]; o != nil {
				v.spec = &o.Spec
				v.subjNS, v.subjPod = subjectSelectors(o.Spec.Subject.Namespaces, o.Spec.Subject.Pods)
			}
		case model.KindClusterNetworkPolicy:
			if o := cnps[p.Ref.Name]; o != nil {
				v.spec, v.cnp = &o.Spec, true
				var pods *v1alpha1.NamespacedPod
				if sp := o.Spec.Subject.Pods; sp != nil {
					pods = &v1alpha1.NamespacedPod{NamespaceSelector: sp.NamespaceSelector, PodSelector: sp.PodSelector}
				}
				v.subjNS, v.subjPod = subjectSelectors(o.Spec.Subject.Namespaces, pods)
			}
		}
		l.pv[i] = v
	}
	return l.pv
}

func subjectSelectors(namespaces *metav1.LabelSelector, pods *v1alpha1.NamespacedPod) (labels.Selector, labels.Selector) {
	switch {
	case namespaces != nil:
		return selectorOf(namespaces), labels.Everything()
	case pods != nil:
		return selectorOf(&pods.NamespaceSelector), selectorOf(&pods.PodSelector)
	}
	return labels.Nothing(), labels.Nothing()
}

// selectorOf converts a label selector; one the validator let through cannot fail, and
// one that does (input that skipped validation) reads as selecting nothing.
func selectorOf(s *metav1.LabelSelector) labels.Selector {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return labels.Nothing()
	}
	return sel
}

// nsNameSelector selects the one namespace named ns, through the label the API server
// puts on every namespace.
func nsNameSelector(ns string) labels.Selector {
	return labels.SelectorFromSet(labels.Set{model.NamespaceNameLabel: ns})
}

// peerNS returns the namespace selector of a pod peer, with "the policy's own namespace"
// made explicit.
func peerNS(v *polView, peer *policy.Peer) labels.Selector {
	if peer.NamespaceSelector == nil {
		return nsNameSelector(v.p.Ref.Namespace)
	}
	return peer.NamespaceSelector
}

func peerPodSel(peer *policy.Peer) labels.Selector {
	if peer.PodSelector == nil {
		return labels.Everything()
	}
	return peer.PodSelector
}

// Field paths, as the API server prints them.

func ruleField(d policy.Direction, ri int) string { return fmt.Sprintf("spec.%s[%d]", d, ri) }

func peerField(d policy.Direction, ri, pj int) string {
	if d == policy.Ingress {
		return fmt.Sprintf("spec.ingress[%d].from[%d]", ri, pj)
	}
	return fmt.Sprintf("spec.egress[%d].to[%d]", ri, pj)
}

func portField(v *polView, d policy.Direction, ri, k int) string {
	if v.cnp {
		return fmt.Sprintf("%s.protocols[%d]", ruleField(d, ri), k)
	}
	return fmt.Sprintf("%s.ports[%d]", ruleField(d, ri), k)
}

// ruleName names a rule in messages: "ingress[1]", or `egress[0] "allow-dns"`.
func ruleName(p *policy.Policy, d policy.Direction, ri int) string {
	s := fmt.Sprintf("%s[%d]", d, ri)
	if n := p.Rules(d)[ri].Name; n != "" {
		s += fmt.Sprintf(" %q", n)
	}
	return s
}

// podRef is a pod's own object reference.
func podRef(pi *policy.PodInfo) model.Ref {
	return model.Ref{Kind: model.KindPod, Namespace: pi.Pod.Namespace, Name: pi.Pod.Name}
}

// podSubject is what a per-pod finding names: a workload's pods that share their labels
// (replicas are alike for every rule, so one finding stands for all of them), or a bare pod.
type podSubject struct {
	ref  model.Ref // the workload, or the pod
	pods []int32
	// loc is the object whose source locates the finding (a workload read from a manifest
	// is recorded under the pod it stands for).
	loc model.Ref
}

// describe names the subject in messages: "Deployment shop/web (3 pods)" or "pod shop/web".
func (s *podSubject) describe() string {
	if s.ref.Kind == model.KindPod {
		return "pod " + s.ref.Namespace + "/" + s.ref.Name
	}
	d := s.ref.Kind + " " + s.ref.Namespace + "/" + s.ref.Name
	if len(s.pods) > 1 {
		d += fmt.Sprintf(" (%d pods)", len(s.pods))
	}
	return d
}

// podSubjects groups the pods for per-pod findings, in pod order. hostNetwork pods and pods
// in skipped namespaces are left out.
func (l *linter) podSubjects() []*podSubject {
	var out []*podSubject
	index := map[string]*podSubject{}
	for i := range l.e.Pods {
		pi := &l.e.Pods[i]
		if pi.HostNetwork || l.skip[pi.Pod.Namespace] {
			continue
		}
		ref := podRef(pi)
		key := "p\x00" + pi.Key
		if kind, name := WorkloadOf(pi.Pod); kind != "" {
			ref = model.Ref{Kind: kind, Namespace: pi.Pod.Namespace, Name: name}
			key = fmt.Sprintf("w\x00%s\x00%s\x00%s\x00%d", pi.Pod.Namespace, kind, name, pi.Ident)
		}
		s := index[key]
		if s == nil {
			s = &podSubject{ref: ref, loc: podRef(pi)}
			index[key] = s
			out = append(out, s)
		}
		s.pods = append(s.pods, int32(i))
	}
	return out
}

// namespaceLabels returns the labels of a namespace by name.
func (l *linter) namespaceLabels(ns string) labels.Set {
	for _, n := range l.c.Namespaces {
		if n.Name == ns {
			return labels.Set(n.Labels)
		}
	}
	return labels.Set{model.NamespaceNameLabel: ns}
}
