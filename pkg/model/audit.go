package model

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ModeAnnotation stages a policy of any kind: "audit" means evaluate and report what it
// would do, but do not enforce it.
const ModeAnnotation = "netwarden.io/mode"

// ModeAudit is the ModeAnnotation value of a staged policy.
const ModeAudit = "audit"

// IsAudit reports whether an object's annotations stage it.
func IsAudit(annotations map[string]string) bool { return annotations[ModeAnnotation] == ModeAudit }

// EnforceAudit returns a copy of the cluster in which every audit policy is enforced: the
// state the cluster reaches when the annotations are removed. Objects that are not audit
// policies are shared with c, so the copy must be treated as read-only.
func (c *Cluster) EnforceAudit() *Cluster {
	out := *c
	out.NetworkPolicies = unstage(c.NetworkPolicies)
	out.AdminNetworkPolicies = unstage(c.AdminNetworkPolicies)
	out.BaselineAdminNetworkPolicies = unstage(c.BaselineAdminNetworkPolicies)
	out.ClusterNetworkPolicies = unstage(c.ClusterNetworkPolicies)
	return &out
}

// unstage copies the list, replacing each audit policy by a deep copy without the mode
// annotation.
func unstage[T interface {
	metav1.Object
	DeepCopy() T
}](in []T) []T {
	out := make([]T, len(in))
	for i, p := range in {
		if IsAudit(p.GetAnnotations()) {
			p = p.DeepCopy()
			a := map[string]string{}
			for k, v := range p.GetAnnotations() {
				if k != ModeAnnotation {
					a[k] = v
				}
			}
			p.SetAnnotations(a)
		}
		out[i] = p
	}
	return out
}
