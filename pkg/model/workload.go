package model

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PodFromTemplate returns the pod that a workload controller (Deployment, StatefulSet, ...)
// stands for, so manifests can be analysed before anything runs. The pod carries the
// template's labels and containers, is named after the workload, and names the workload as
// its controlling owner; analysis groups pods by that owner.
func PodFromTemplate(kind, apiVersion, namespace, name string, tmpl *corev1.PodTemplateSpec) *corev1.Pod {
	pod := &corev1.Pod{}
	pod.APIVersion = "v1"
	pod.Kind = KindPod
	pod.Namespace = namespace
	pod.Name = name
	pod.Labels = tmpl.Labels
	pod.Annotations = tmpl.Annotations
	pod.Spec = tmpl.Spec
	yes := true
	pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, Controller: &yes}}
	return pod
}

// Owner returns the controlling owner of a pod ("Deployment/web"), or "" for a bare pod.
// Pods of a ReplicaSet owned by a Deployment are reported under the ReplicaSet, as the API
// shows them; callers that group workloads strip the ReplicaSet's hash suffix.
func Owner(pod *corev1.Pod) (kind, name string) {
	for _, o := range pod.OwnerReferences {
		if o.Controller != nil && *o.Controller {
			return o.Kind, o.Name
		}
	}
	return "", ""
}
