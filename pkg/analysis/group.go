package analysis

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// GroupBy says what one row, column or picture node stands for.
type GroupBy string

const (
	// ByPods: every pod on its own.
	ByPods GroupBy = "pods"
	// ByWorkloads: the pods of one controlling workload (a Deployment's pods through their
	// ReplicaSets), or bare pods with the same namespace and labels.
	ByWorkloads GroupBy = "workloads"
)

// GroupByValues are the accepted --group values.
var GroupByValues = []string{string(ByPods), string(ByWorkloads)}

// ParseGroupBy reads a --group value.
func ParseGroupBy(s string) (GroupBy, error) {
	switch GroupBy(strings.ToLower(s)) {
	case ByPods, "pod":
		return ByPods, nil
	case ByWorkloads, "workload":
		return ByWorkloads, nil
	}
	return "", fmt.Errorf("unknown grouping %q (want one of: %s)", s, strings.Join(GroupByValues, ", "))
}

// Group is a set of pods shown as one row, column or node.
//
// Names are unique and readable:
//   - a workload's pods: "namespace/Kind/name" ("shop/Deployment/web");
//   - a bare pod, and every pod under ByPods: "namespace/name", the pod's key;
//   - several bare pods with the same labels: "namespace/{k=v,...}" (their shared labels;
//     "{}" when they have none).
type Group struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Kind is the controlling workload's kind, or "Pod" for bare pods and under ByPods.
	Kind string `json:"kind"`
	// Label is Name without the namespace, for pictures that show the namespace around it.
	Label string `json:"label"`
	// Pods are the members' keys ("namespace/name"), in pod order.
	Pods []string `json:"pods"`
	// Members are the members' indices into Engine.Pods, ascending.
	Members []int32 `json:"-"`
}

// Grouping partitions an engine's pods into groups.
type Grouping struct {
	By     GroupBy
	Groups []Group
	// Of is the group of each pod, indexed like Engine.Pods.
	Of []int32
}

// NewGrouping groups e's pods. Groups are ordered by name, so by namespace first.
func NewGrouping(e *policy.Engine, by GroupBy) *Grouping {
	type draft struct {
		g    Group
		bare bool
	}
	var drafts []*draft
	index := map[string]*draft{}
	for i := range e.Pods {
		p := &e.Pods[i]
		ns := p.Pod.Namespace
		key, kind, name := "p\x00"+p.Key, model.KindPod, p.Pod.Name
		bare := false
		if by == ByWorkloads {
			if k, n := WorkloadOf(p.Pod); k != "" {
				key, kind, name = "w\x00"+ns+"\x00"+k+"\x00"+n, k, n
			} else if !p.HostNetwork {
				// Bare pods with the same namespace and labels are one identity: every
				// selector treats them alike. hostNetwork pods stay alone: they are their
				// nodes' addresses, which policies can tell apart.
				key, bare = "b\x00"+ns+"\x00"+labelText(p.Pod.Labels), true
			}
		}
		d := index[key]
		if d == nil {
			d = &draft{g: Group{Namespace: ns, Kind: kind, Label: name}, bare: bare}
			if kind != model.KindPod {
				d.g.Label = kind + "/" + name
			}
			index[key] = d
			drafts = append(drafts, d)
		}
		d.g.Members = append(d.g.Members, int32(i))
		d.g.Pods = append(d.g.Pods, p.Key)
	}
	for _, d := range drafts {
		if d.bare && len(d.g.Members) > 1 {
			d.g.Label = "{" + labelText(e.Pods[d.g.Members[0]].Pod.Labels) + "}"
		}
		d.g.Name = d.g.Namespace + "/" + d.g.Label
	}
	sort.SliceStable(drafts, func(i, j int) bool {
		a, b := drafts[i].g, drafts[j].g
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Label < b.Label
	})
	g := &Grouping{By: by, Groups: make([]Group, len(drafts)), Of: make([]int32, len(e.Pods))}
	for gi, d := range drafts {
		g.Groups[gi] = d.g
		for _, m := range d.g.Members {
			g.Of[m] = int32(gi)
		}
	}
	return g
}

// WorkloadOf returns the workload a pod belongs to: its controlling owner, with a
// Deployment's ReplicaSet ("web-5d8f9c7b6", whose pods carry pod-template-hash=5d8f9c7b6)
// mapped to the Deployment ("web"). Bare pods have none ("", "").
func WorkloadOf(p *corev1.Pod) (kind, name string) {
	kind, name = model.Owner(p)
	if kind == "ReplicaSet" {
		if h := p.Labels["pod-template-hash"]; h != "" && strings.HasSuffix(name, "-"+h) && len(name) > len(h)+1 {
			return "Deployment", strings.TrimSuffix(name, "-"+h)
		}
	}
	return kind, name
}

// labelText prints labels as "k=v,k2=v2", sorted by key.
func labelText(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(l[k])
	}
	return b.String()
}

// Only returns the grouping restricted to pods (MatrixOptions.Pods, for -n): members not
// listed are left out, and groups left empty are dropped. Of is -1 for pods left out.
func (g *Grouping) Only(pods []int32) *Grouping {
	keep := make([]bool, len(g.Of))
	for _, p := range pods {
		keep[p] = true
	}
	out := &Grouping{By: g.By, Of: make([]int32, len(g.Of))}
	for i := range out.Of {
		out.Of[i] = -1
	}
	for _, grp := range g.Groups {
		var members []int32
		var keys []string
		for i, m := range grp.Members {
			if keep[m] {
				members = append(members, m)
				keys = append(keys, grp.Pods[i])
			}
		}
		if len(members) == 0 {
			continue
		}
		grp.Members, grp.Pods = members, keys
		for _, m := range members {
			out.Of[m] = int32(len(out.Groups))
		}
		out.Groups = append(out.Groups, grp)
	}
	return out
}
