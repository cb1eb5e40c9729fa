package kube

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
	type workload struct{ ns, kind, name string }
	proposed := map[workload]bool{}
	for _, o := range files.Pods {
		if kind, name := model.Owner(o); kind != "" && name == o.Name {
			proposed[workload{o.Namespace, kind, name}] = true
		}
	}
	replacedByWorkload := func(o *corev1.Pod) bool {
		if kind, name := model.Owner(o); kind != "" && proposed[workload{o.Namespace, kind, name}] {
			return true
		}
		kind, name := liveWorkload(o)
		return kind != "" && proposed[workload{o.Namespace, kind, name}]
	}
	out.Namespaces = overlay(live.Namespaces, files.Namespaces, nil)
	out.Nodes = overlay(live.Nodes, files.Nodes, nil)
	out.Pods = overlay(live.Pods, files.Pods, replacedByWorkload)
	out.NetworkPolicies = overlay(live.NetworkPolicies, files.NetworkPolicies, nil)
	out.AdminNetworkPolicies = overlay(live.AdminNetworkPolicies, files.AdminNetworkPolicies, nil)
	out.BaselineAdminNetworkPolicies = overlay(live.BaselineAdminNetworkPolicies, files.BaselineAdminNetworkPolicies, nil)
	out.ClusterNetworkPolicies = overlay(live.ClusterNetworkPolicies, files.ClusterNetworkPolicies, nil)
	out.Normalize()
	return out
}

// overlay returns the live objects that no file object of the same namespace and name
// replaces (and that drop, when set, does not take away), followed by the file objects.
// Each call handles one kind, so namespace and name identify an object.
func overlay[T metav1.Object](live, files []T, drop func(T) bool) []T {
	type key struct{ ns, name string }
	over := make(map[key]bool, len(files))
	for _, o := range files {
		over[key{o.GetNamespace(), o.GetName()}] = true
	}
	var out []T
	for _, o := range live {
		if !over[key{o.GetNamespace(), o.GetName()}] && (drop == nil || !drop(o)) {
			out = append(out, o)
		}
	}
	return append(out, files...)
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
