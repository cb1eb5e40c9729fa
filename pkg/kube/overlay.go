package kube

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/netwarden/netwarden/pkg/model"
)

// Overlay lays proposed objects (read from files) over a live snapshot: an object of the
// same kind, namespace and name replaces the live one, others are added. A pod that a
// workload manifest stands for (a Deployment, StatefulSet, ... read from a file) also
// replaces the live pods of that workload, so a proposed Deployment is analysed once, not
// beside its running replicas. Sources are the files'. The result is normalized; neither
// input is modified.
func Overlay(live, files *model.Cluster) *model.Cluster {
	out := &model.Cluster{Sources: map[model.Ref]model.Source{}}
	for ref, src := range files.Sources {
		out.Sources[ref] = src
	}
	over := map[model.Ref]bool{}
	mark := func(kind, ns, name string) { over[model.Ref{Kind: kind, Namespace: ns, Name: name}] = true }
	keep := func(kind, ns, name string) bool { return !over[model.Ref{Kind: kind, Namespace: ns, Name: name}] }

	for _, o := range files.Namespaces {
		mark(model.KindNamespace, "", o.Name)
	}
	for _, o := range files.Nodes {
		mark(model.KindNode, "", o.Name)
	}
	type workload struct{ ns, kind, name string }
	proposed := map[workload]bool{}
	for _, o := range files.Pods {
		mark(model.KindPod, o.Namespace, o.Name)
		if kind, name := model.Owner(o); kind != "" && name == o.Name {
			proposed[workload{o.Namespace, kind, name}] = true
		}
	}
	for _, o := range files.NetworkPolicies {
		mark(model.KindNetworkPolicy, o.Namespace, o.Name)
	}
	for _, o := range files.AdminNetworkPolicies {
		mark(model.KindAdminNetworkPolicy, "", o.Name)
	}
	for _, o := range files.BaselineAdminNetworkPolicies {
		mark(model.KindBaselineAdminNetworkPolicy, "", o.Name)
	}
	for _, o := range files.ClusterNetworkPolicies {
		mark(model.KindClusterNetworkPolicy, "", o.Name)
	}

	for _, o := range live.Namespaces {
		if keep(model.KindNamespace, "", o.Name) {
			out.Namespaces = append(out.Namespaces, o)
		}
	}
	out.Namespaces = append(out.Namespaces, files.Namespaces...)
	for _, o := range live.Nodes {
		if keep(model.KindNode, "", o.Name) {
			out.Nodes = append(out.Nodes, o)
		}
	}
	out.Nodes = append(out.Nodes, files.Nodes...)
	for _, o := range live.Pods {
		if !keep(model.KindPod, o.Namespace, o.Name) {
			continue
		}
		if kind, name := model.Owner(o); kind != "" && proposed[workload{o.Namespace, kind, name}] {
			continue
		}
		if kind, name := liveWorkload(o); kind != "" && proposed[workload{o.Namespace, kind, name}] {
			continue
		}
		out.Pods = append(out.Pods, o)
	}
	out.Pods = append(out.Pods, files.Pods...)
	for _, o := range live.NetworkPolicies {
		if keep(model.KindNetworkPolicy, o.Namespace, o.Name) {
			out.NetworkPolicies = append(out.NetworkPolicies, o)
		}
	}
	out.NetworkPolicies = append(out.NetworkPolicies, files.NetworkPolicies...)
	for _, o := range live.AdminNetworkPolicies {
		if keep(model.KindAdminNetworkPolicy, "", o.Name) {
			out.AdminNetworkPolicies = append(out.AdminNetworkPolicies, o)
		}
	}
	out.AdminNetworkPolicies = append(out.AdminNetworkPolicies, files.AdminNetworkPolicies...)
	for _, o := range live.BaselineAdminNetworkPolicies {
		if keep(model.KindBaselineAdminNetworkPolicy, "", o.Name) {
			out.BaselineAdminNetworkPolicies = append(out.BaselineAdminNetworkPolicies, o)
		}
	}
	out.BaselineAdminNetworkPolicies = append(out.BaselineAdminNetworkPolicies, files.BaselineAdminNetworkPolicies...)
	for _, o := range live.ClusterNetworkPolicies {
		if keep(model.KindClusterNetworkPolicy, "", o.Name) {
			out.ClusterNetworkPolicies = append(out.ClusterNetworkPolicies, o)
		}
	}
	out.ClusterNetworkPolicies = append(out.ClusterNetworkPolicies, files.ClusterNetworkPolicies...)
	out.Normalize()
	return out
}

// liveWorkload names the workload that owns a running pod, the way manifests name it:
// a ReplicaSet "web-7d4b9c8f5" owned by Deployment "web" is reported as Deployment/web,
// a Job "backup-28391040" made by a CronJob as CronJob/backup.
func liveWorkload(p *corev1.Pod) (kind, name string) {
	kind, name = model.Owner(p)
	switch kind {
	case "ReplicaSet":
		if base, ok := cutHashSuffix(name, isPodTemplateHash); ok {
			return "Deployment", base
		}
	case "Job":
		if base, ok := cutHashSuffix(name, isDigits); ok {
			return "CronJob", base
		}
	}
	return kind, name
}

func cutHashSuffix(name string, ok func(string) bool) (string, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || !ok(name[i+1:]) {
		return "", false
	}
	return name[:i], true
}

// isPodTemplateHash matches the suffix a Deployment gives its ReplicaSets: a hash spelt in
// the alphabet of k8s.io/apimachinery's rand.SafeEncodeString (no vowels, no 0/1/3).
func isPodTemplateHash(s string) bool {
	if len(s) < 6 || len(s) > 10 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("bcdfghjklmnpqrstvwxz2456789", r) {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
