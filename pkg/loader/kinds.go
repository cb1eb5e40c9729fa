package loader

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/validation"
)

type decodeFunc func(l *load, src model.Source, js []byte) error

// decoders lists every kind netwarden reads, by apiVersion. A known kind with another
// apiVersion is an error rather than a skip: silently ignoring a policy is the worst outcome.
var decoders = map[string]map[string]decodeFunc{
	"Namespace": {"v1": func(l *load, src model.Source, js []byte) error {
		var o corev1.Namespace
		if err := strict(js, &o); err != nil {
			return err
		}
		return l.add(src, model.Ref{Kind: model.KindNamespace, Name: o.Name}, validation.Namespace(&o), func() {
			l.cluster.Namespaces = append(l.cluster.Namespaces, &o)
		})
	}},
	"Node": {"v1": func(l *load, src model.Source, js []byte) error {
		var o corev1.Node
		if err := strict(js, &o); err != nil {
			return err
		}
		return l.add(src, model.Ref{Kind: model.KindNode, Name: o.Name}, validation.Node(&o), func() {
			l.cluster.Nodes = append(l.cluster.Nodes, &o)
		})
	}},
	"Pod": {"v1": func(l *load, src model.Source, js []byte) error {
		var o corev1.Pod
		if err := strict(js, &o); err != nil {
			return err
		}
		if o.Namespace == "" {
			o.Namespace = model.DefaultNamespace
		}
		return l.addPod(src, &o)
	}},
	"NetworkPolicy": {"networking.k8s.io/v1": func(l *load, src model.Source, js []byte) error {
		var o networkingv1.NetworkPolicy
		if err := strict(js, &o); err != nil {
			return err
		}
		if o.Namespace == "" {
			o.Namespace = model.DefaultNamespace
		}
		return l.add(src, model.Ref{Kind: model.KindNetworkPolicy, Namespace: o.Namespace, Name: o.Name}, validation.NetworkPolicy(&o), func() {
			l.cluster.NetworkPolicies = append(l.cluster.NetworkPolicies, &o)
		})
	}},
	"AdminNetworkPolicy": {"policy.networking.k8s.io/v1alpha1": func(l *load, src model.Source, js []byte) error {
		var o v1alpha1.AdminNetworkPolicy
		if err := strict(js, &o); err != nil {
			return err
		}
		return l.add(src, model.Ref{Kind: model.KindAdminNetworkPolicy, Name: o.Name}, validation.AdminNetworkPolicy(&o), func() {
			l.cluster.AdminNetworkPolicies = append(l.cluster.AdminNetworkPolicies, &o)
		})
	}},
	"BaselineAdminNetworkPolicy": {"policy.networking.k8s.io/v1alpha1": func(l *load, src model.Source, js []byte) error {
		var o v1alpha1.BaselineAdminNetworkPolicy
		if err := strict(js, &o); err != nil {
			return err
		}
		return l.add(src, model.Ref{Kind: model.KindBaselineAdminNetworkPolicy, Name: o.Name}, validation.BaselineAdminNetworkPolicy(&o), func() {
			l.cluster.BaselineAdminNetworkPolicies = append(l.cluster.BaselineAdminNetworkPolicies, &o)
		})
	}},
	"ClusterNetworkPolicy": {
		"policy.networking.k8s.io/v1beta1": func(l *load, src model.Source, js []byte) error {
			var o v1beta1.ClusterNetworkPolicy
			if err := strict(js, &o); err != nil {
				return err
			}
			return l.addCNP(src, &o)
		},
		// v1alpha2 has the same schema as v1beta1, so it is decoded as v1alpha2 (to keep
		// strictness exact) and converted field for field through JSON.
		"policy.networking.k8s.io/v1alpha2": func(l *load, src model.Source, js []byte) error {
			var a v1alpha2.ClusterNetworkPolicy
			if err := strict(js, &a); err != nil {
				return err
			}
			var o v1beta1.ClusterNetworkPolicy
			if err := strict(js, &o); err != nil {
				return err
			}
			return l.addCNP(src, &o)
		},
	},
	"Deployment":            workload("apps/v1", func() templated { return &appsv1.Deployment{} }),
	"StatefulSet":           workload("apps/v1", func() templated { return &appsv1.StatefulSet{} }),
	"DaemonSet":             workload("apps/v1", func() templated { return &appsv1.DaemonSet{} }),
	"ReplicaSet":            workload("apps/v1", func() templated { return &appsv1.ReplicaSet{} }),
	"Job":                   workload("batch/v1", func() templated { return &batchv1.Job{} }),
	"CronJob":               workload("batch/v1", func() templated { return &batchv1.CronJob{} }),
	"ReplicationController": workload("v1", func() templated { return &corev1.ReplicationController{} }),
}

func (l *load) addCNP(src model.Source, o *v1beta1.ClusterNetworkPolicy) error {
	return l.add(src, model.Ref{Kind: model.KindClusterNetworkPolicy, Name: o.Name}, validation.ClusterNetworkPolicy(o), func() {
		l.cluster.ClusterNetworkPolicies = append(l.cluster.ClusterNetworkPolicies, o)
	})
}

func (l *load) addPod(src model.Source, o *corev1.Pod) error {
	return l.add(src, model.Ref{Kind: model.KindPod, Namespace: o.Namespace, Name: o.Name}, validation.Pod(o), func() {
		l.cluster.Pods = append(l.cluster.Pods, o)
	})
}

// add records a valid object, or returns its first validation error, or a duplicate error
// naming where the first copy came from.
func (l *load) add(src model.Source, ref model.Ref, errs field.ErrorList, keep func()) error {
	if len(errs) > 0 {
		return fieldError(errs)
	}
	if prev, dup := l.cluster.Sources[ref]; dup {
		return &Error{Field: "metadata.name", Msg: fmt.Sprintf("Duplicate value: %q is already defined in %s", ref.Name, prev)}
	}
	l.cluster.Sources[ref] = src
	keep()
	return nil
}

// fieldError turns the validation errors into one Error: the first names the field, the
// rest follow in the message, so every problem in an object is reported.
func fieldError(errs field.ErrorList) *Error {
	first := errs[0]
	msg := first.ErrorBody()
	for _, e := range errs[1:] {
		msg += "; " + e.Error()
	}
	return &Error{Field: first.Field, Msg: msg}
}

// templated is a workload kind: something with metadata and a pod template.
type templated interface {
	GetName() string
	GetNamespace() string
}

func templateOf(o templated) *corev1.PodTemplateSpec {
	switch w := o.(type) {
	case *appsv1.Deployment:
		return &w.Spec.Template
	case *appsv1.StatefulSet:
		return &w.Spec.Template
	case *appsv1.DaemonSet:
		return &w.Spec.Template
	case *appsv1.ReplicaSet:
		return &w.Spec.Template
	case *batchv1.Job:
		return &w.Spec.Template
	case *batchv1.CronJob:
		return &w.Spec.JobTemplate.Spec.Template
	case *corev1.ReplicationController:
		return w.Spec.Template
	}
	return nil
}

func workload(apiVersion string, newObj func() templated) map[string]decodeFunc {
	return map[string]decodeFunc{apiVersion: func(l *load, src model.Source, js []byte) error {
		o := newObj()
		if err := strict(js, o); err != nil {
			return err
		}
		kind := strings.TrimPrefix(fmt.Sprintf("%T", o), "*")
		kind = kind[strings.LastIndex(kind, ".")+1:]
		tmpl := templateOf(o)
		if tmpl == nil {
			return &Error{Field: "spec.template", Msg: "Required value: a workload needs a pod template"}
		}
		pod := podFromTemplate(kind, apiVersion, o.GetNamespace(), o.GetName(), tmpl)
		wref := model.Ref{Kind: kind, Namespace: pod.Namespace, Name: o.GetName()}
		if prev, dup := l.cluster.Sources[wref]; dup {
			return &Error{Field: "metadata.name", Msg: fmt.Sprintf("Duplicate value: %q is already defined in %s", wref.Name, prev)}
		}
		l.cluster.Sources[wref] = src
		// The pod is named after its workload; when a pod or another kind of workload
		// already has that name, the kind tells them apart ("web-statefulset").
		if _, taken := l.cluster.Sources[model.Ref{Kind: model.KindPod, Namespace: pod.Namespace, Name: pod.Name}]; taken {
			pod.Name += "-" + strings.ToLower(kind)
		}
		if err := l.addPod(src, pod); err != nil {
			if fe, ok := err.(*Error); ok && fe.Field != "" && fe.Field != "metadata.name" {
				fe.Field = templatePath(kind) + "." + fe.Field
			}
			return err
		}
		return nil
	}}
}

func templatePath(kind string) string {
	if kind == "CronJob" {
		return "spec.jobTemplate.spec.template"
	}
	return "spec.template"
}
