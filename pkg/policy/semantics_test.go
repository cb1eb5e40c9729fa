package policy_test

import (
	"slices"
	"testing"

	"sigs.k8s.io/network-policy-api/apis/v1alpha1"

	"github.com/netwarden/netwarden/pkg/model"
)

// Extra objects some cases add to the e2e model.
const (
	// hostPod is a hostNetwork pod in x on node-1 (10.0.0.1), labelled like a model pod.
	hostPod = `
apiVersion: v1
kind: Pod
metadata: {name: h, namespace: x, labels: {pod: h}}
spec:
  hostNetwork: true
  nodeName: node-1
  containers: [{name: c, image: i, ports: [{name: serve-80-tcp, containerPort: 80}]}]
`
	// sidecarPod declares its "metrics" port on a restartable init container (a sidecar).
	sidecarPod = `
apiVersion: v1
kind: Pod
metadata: {name: s, namespace: x, labels: {pod: s}}
spec:
  initContainers: [{name: proxy, image: i, restartPolicy: Always, ports: [{name: metrics, containerPort: 9090}]}]
  containers: [{name: app, image: i, ports: [{name: http, containerPort: 8080}]}]
status: {podIP: 10.0.1.20}
`
	// remoteHostPod is a hostNetwork pod on node-2 (see infraNode), away from the e2e pods.
	remoteHostPod = `
apiVersion: v1
kind: Pod
metadata: {name: h, namespace: x, labels: {pod: h}}
spec:
  hostNetwork: true
  nodeName: node-2
  containers: [{name: c, image: i, ports: [{name: serve-80-tcp, containerPort: 80}]}]
`
	// infraNode is a second node with an internal and an external address.
	infraNode = `
apiVersion: v1
kind: Node
metadata: {name: node-2, labels: {role: infra}}
status:
  addresses:
  - {type: InternalIP, address: 10.0.0.2}
  - {type: ExternalIP, address: 203.0.113.2}
  - {type: Hostname, address: node-2}
`
)

func np(ns, name, spec string) string {
	return "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: " + name + ", namespace: \"" + ns + "\"}\nspec:\n" + spec + "\n---\n"
}

func anp(name, spec string) string {
	return "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: " + name + "}\nspec:\n" + spec + "\n---\n"
}

func cnp(name, spec string) string {
	return "apiVersion: policy.networking.k8s.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {name: " + name + "}\nspec:\n" + spec + "\n---\n"
}

// TestSemantics pins one rule per case on small additions to the e2e model.
func TestSemantics(t *testing.T) {
	for _, tc := range []struct {
		name   string
		dual   bool
		docs   string
		mutate func(*model.Cluster) // for input the loader refuses, as a live cluster may hold
		checks []string
		warn   []string // warning codes, sorted
	}{
		{
			name: "nil namespaceSelector means the policy's own namespace",
			docs: np("x", "allow-b", `
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]`),
			checks: []string{"x/b -> x/a 80/TCP allow", "y/b -> x/a 80/TCP deny:ingress", "z/b -> x/a 80/TCP deny:ingress"},
		},
		{
			name: "empty podSelector selects all pods in the namespace",
			docs: np("x", "deny", `
  podSelector: {}
  policyTypes: [Ingress]`),
			checks: []string{"y/a -> x/a 80/TCP deny:ingress", "y/a -> x/c 80/TCP deny:ingress", "x/a -> y/a 80/TCP allow"},
		},
		{
			name: "ipBlock except carves a hole",
			docs: np("x", "cidr", `
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{ipBlock: {cidr: 192.0.2.0/24, except: [192.0.2.128/25]}}]}]`),
			checks: []string{"192.0.2.1 -> x/a 80/TCP allow", "192.0.2.127 -> x/a 80/TCP allow", "192.0.2.128 -> x/a 80/TCP deny", "192.0.2.200 -> x/a 80/TCP deny", "198.51.100.1 -> x/a 80/TCP deny"},
		},
		{
			name: "ipBlock cidr with host bits set matches its whole network",
			docs: np("x", "cidr", `
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{ipBlock: {cidr: 192.0.2.77/24}}]}]`),
			checks: []string{"192.0.2.1 -> x/a 80/TCP allow", "192.0.3.1 -> x/a 80/TCP deny"},
		},
		{
			name: "an IPv4-mapped IPv6 address is its IPv4 address",
			docs: np("x", "cidr", `
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{ipBlock: {cidr: 192.0.2.0/24}}]}]`),
			checks: []string{"::ffff:192.0.2.1 -> x/a 80/TCP allow"},
		},
		{
			name: "named port resolves against the destination pod's container ports including init containers",
			docs: sidecarPod + "---\n" + np("x", "metrics", `
  podSelector: {matchLabels: {pod: s}}
  ingress: [{ports: [{port: metrics}]}]`),
			checks: []string{"x/a -> x/s 9090/TCP allow", "x/a -> x/s 8080/TCP deny", "x/a -> x/s 9091/TCP deny"},
		},
		{
			name: "named port with a different protocol does not match",
			docs: np("x", "wrong-proto", `
  podSelector: {matchLabels: {pod: a}}
  ingress: [{ports: [{port: serve-80-tcp, protocol: UDP}]}]`),
			checks: []string{"y/a -> x/a 80/UDP deny", "y/a -> x/a 80/TCP deny"},
		},
		{
			name: "named port in an egress rule resolves on the destination pod, not the source",
			docs: sidecarPod + "---\n" + np("x", "egress-metrics", `
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{ports: [{port: metrics}]}]`),
			checks: []string{"x/a -> x/s 9090/TCP allow", "x/a -> y/a 9090/TCP deny:egress"},
		},
		{
			name: "named port never matches a destination outside the cluster",
			docs: np("x", "egress-named", `
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{ports: [{port: serve-80-tcp}]}]`),
			checks: []string{"x/a -> 192.0.2.1 80/TCP deny:egress", "x/a -> y/a 80/TCP allow"},
		},
		{
			name: "no ports means all protocols including ICMP",
			docs: np("x", "from-y", `
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}}]}]`),
			checks: []string{"y/a -> x/a ICMP allow", "y/a -> x/a 5000/SCTP allow", "y/a -> x/a 1/UDP allow", "z/a -> x/a ICMP deny"},
		},
		{
			name: "rule with ports never matches ICMP",
			docs: np("x", "all-tcp", `
  podSelector: {matchLabels: {pod: a}}
  ingress: [{ports: [{protocol: TCP}]}]`),
			checks: []string{"y/a -> x/a ICMP deny", "y/a -> x/a 1/TCP allow", "y/a -> x/a 65535/TCP allow", "y/a -> x/a 80/UDP deny"},
		},
		{
			name: "endPort range includes both ends and nothing outside",
			docs: np("x", "range", `
  podSelector: {matchLabels: {pod: a}}
  ingress: [{ports: [{port: 8000, endPort: 8080}]}]`),
			checks: []string{"y/a -> x/a 7999/TCP deny", "y/a -> x/a 8000/TCP allow", "y/a -> x/a 8080/TCP allow", "y/a -> x/a 8081/TCP deny"},
		},
		{
			name: "policyTypes [Egress] ignores the policy's ingress rules",
			docs: np("x", "egress-only", `
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{}]
  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]`),
			checks: []string{"y/a -> x/a 80/TCP allow", "x/a -> z/c 80/TCP allow"},
		},
		{
			name: "hostNetwork pod is not selected by a podSelector",
			docs: hostPod + "---\n" + np("x", "deny", `
  podSelector: {}
  policyTypes: [Ingress, Egress]`),
			checks: []string{"y/a -> x/h 80/TCP allow", "x/h -> y/a 80/TCP allow", "y/a -> x/a 80/TCP deny:ingress"},
		},
		{
			name: "hostNetwork pod is not matched by a podSelector peer but by an ipBlock of its node IP",
			docs: infraNode + "---\n" + remoteHostPod + "---\n" + np("x", "from-h", `
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{podSelector: {matchLabels: {pod: h}}}]}]`) + np("x", "from-node", `
  podSelector: {matchLabels: {pod: b}}
  ingress: [{from: [{ipBlock: {cidr: 10.0.0.2/32}}]}]`),
			checks: []string{"x/h -> x/a 80/TCP deny:ingress", "x/h -> x/b 80/TCP allow", "10.0.0.2 -> x/b 80/TCP allow", "x/a -> x/b 80/TCP deny:ingress"},
		},
		{
			name: "a pod's own node always passes NetworkPolicy, but an admin rule can still deny it",
			docs: hostPod + "---\n" + np("x", "deny-all", `
  podSelector: {}
  policyTypes: [Ingress, Egress]`) + anp("no-nodes", `
  priority: 1
  subject: {pods: {namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: a}}}}
  egress: [{name: deny-nodes, action: Deny, to: [{nodes: {}}]}]`),
			checks: []string{"x/h -> x/a 80/TCP allow", "10.0.0.1 -> x/a 80/TCP allow", "x/a -> 10.0.0.1 80/TCP allow", "x/a -> x/h 80/TCP allow",
				"x/b -> x/a 80/TCP deny:both", "y/a -> 10.0.0.1 80/TCP deny:egress", "y/b -> 10.0.0.1 80/TCP allow"},
		},
		{
			name: "egress and ingress must both allow",
			docs: np("x", "egress-y", `
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{to: [{namespaceSelector: {matchLabels: {ns: "y"}}}]}]`) + np("y", "from-z", `
  podSelector: {matchLabels: {pod: b}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: z}}}]}]`) + np("z", "deny", `
  podSelector: {}
  policyTypes: [Ingress]`),
			checks: []string{"x/a -> y/a 80/TCP allow", "x/a -> y/b 80/TCP deny:ingress", "x/a -> x/b 80/TCP deny:egress", "x/a -> z/a 80/TCP deny:both", "z/a -> y/b 80/TCP allow"},
		},
		{
			name: "an external source matches only address peers",
			docs: np("x", "from-all-namespaces", `
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {}}]}]`) + np("x", "from-anywhere", `
  podSelector: {matchLabels: {pod: b}}
  ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0}}]}]`),
			checks: []string{"192.0.2.1 -> x/a 80/TCP deny:ingress", "z/c -> x/a 80/TCP allow", "192.0.2.1 -> x/b 80/TCP allow"},
		},
		{
			name: "traffic to an external destination is decided by the source's egress only",
			docs: np("x", "egress-b", `
  podSelector: {matchLabels: {pod: b}}
  policyTypes: [Egress]`),
			checks: []string{"x/a -> 192.0.2.1 80/TCP allow", "x/b -> 192.0.2.1 80/TCP deny:egress"},
		},
		{
			name: "a pod without an address matches no ipBlock",
			docs: `
apiVersion: v1
kind: Pod
metadata: {name: addressless, namespace: x, labels: {pod: addressless}}
spec: {containers: [{name: c, image: i}]}
---
` + np("x", "from-anywhere", `
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0}}]}]`),
			checks: []string{"x/addressless -> x/a 80/TCP deny:ingress", "y/a -> x/a 80/TCP allow"},
		},
		{
			name: "IPv6 ipBlock does not match IPv4 address",
			dual: true,
			docs: np("x", "v6", `
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{ipBlock: {cidr: "::/0"}}]}]`),
			checks: []string{"y/a@6 -> x/a@6 80/TCP allow", "y/a -> x/a 80/TCP deny:ingress", "192.0.2.1 -> x/a 80/TCP deny", "2001:db8::1 -> x/a@6 80/TCP allow"},
		},
		{
			name: "IPv4 ipBlock does not match IPv6 address",
			dual: true,
			docs: np("x", "v4", `
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0}}]}]`),
			checks: []string{"y/a -> x/a 80/TCP allow", "y/a@6 -> x/a@6 80/TCP deny:ingress"},
		},
		{
			name: "dual-stack pod is selected by pod selectors over both families",
			dual: true,
			docs: np("x", "from-y", `
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}}]}]`),
			checks: []string{"y/a -> x/a 80/TCP allow", "y/a@6 -> x/a@6 80/TCP allow", "z/a@6 -> x/a@6 80/TCP deny", "fd00:0:0:2::b -> x/a@6 80/TCP allow"},
		},
		{
			name: "same-priority overlapping ANPs are reported as a warning",
			docs: anp("ns-x", `
  priority: 5
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{name: deny-y, action: Deny, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]`) + anp("pods-a", `
  priority: 5
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: a}}}}
  ingress: [{name: allow-y, action: Allow, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]`),
			// Ties go by kind, then name: ns-x first.
			checks: []string{"y/a -> x/a 80/TCP deny", "y/a -> z/a 80/TCP allow"},
			warn:   []string{"same-priority-overlap"},
		},
		{
			name: "same-priority ANPs with disjoint subjects are not reported",
			docs: anp("ns-x", `
  priority: 5
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{name: deny-y, action: Deny, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]`) + anp("ns-z", `
  priority: 5
  subject: {namespaces: {matchLabels: {ns: z}}}
  ingress: [{name: deny-y, action: Deny, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]`),
			checks: []string{"y/a -> x/a 80/TCP deny", "y/a -> z/a 80/TCP deny"},
		},
		{
			name: "a same-priority ANP and Admin CNP that overlap are reported; the CNP goes first",
			docs: anp("a-allow", `
  priority: 5
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{name: allow-y, action: Allow, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]`) + cnp("z-deny", `
  tier: Admin
  priority: 5
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{name: deny-y, action: Deny, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]`),
			checks: []string{"y/a -> x/a 80/TCP deny"},
			warn:   []string{"same-priority-overlap"},
		},
		{
			name: "an Admin CNP and a Baseline CNP at the same priority are not reported",
			docs: cnp("admin", `
  tier: Admin
  priority: 5
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{name: pass-y, action: Pass, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]`) + cnp("baseline", `
  tier: Baseline
  priority: 5
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{name: deny-y, action: Deny, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]`),
			checks: []string{"y/a -> x/a 80/TCP deny"},
		},
		{
			name: "nodes peer matches node InternalIP and ExternalIP",
			docs: infraNode + "---\n" + anp("no-infra", `
  priority: 1
  subject: {pods: {namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}}
  egress: [{name: deny-infra, action: Deny, to: [{nodes: {matchLabels: {role: infra}}}]}]`),
			checks: []string{"x/a -> 10.0.0.2 80/TCP deny:egress", "x/a -> 203.0.113.2 443/TCP deny:egress", "x/a -> 10.0.0.1 80/TCP allow", "x/b -> 10.0.0.2 80/TCP allow"},
		},
		{
			name: "nodes peer matches hostNetwork pods on the selected nodes",
			docs: hostPod + "---\n" + anp("no-node-1", `
  priority: 1
  subject: {pods: {namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}}
  egress: [{name: deny-node-1, action: Deny, to: [{nodes: {matchLabels: {kubernetes.io/hostname: node-1}}}]}]`),
			checks: []string{"x/a -> x/h 80/TCP deny:egress", "x/a -> 10.0.0.1 80/TCP deny:egress", "x/a -> x/b 80/TCP allow"},
		},
		{
			name: "domainNames peer matches no address",
			docs: anp("egress-allowlist", `
  priority: 1
  subject: {pods: {namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}}
  egress:
  - {name: allow-example, action: Allow, to: [{domainNames: [example.com, "*.example.org"]}]}
  - {name: deny-rest, action: Deny, to: [{networks: [0.0.0.0/0]}]}`),
			checks: []string{"x/a -> 192.0.2.10 443/TCP deny:egress", "x/a -> y/a 80/TCP deny:egress", "x/b -> 192.0.2.10 443/TCP allow"},
			warn:   []string{"domain-names"},
		},
		{
			name: "ANP namespaces peer never matches a hostNetwork pod",
			docs: hostPod + "---\n" + anp("deny-pods", `
  priority: 1
  subject: {pods: {namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}}
  ingress: [{name: deny-all-pods, action: Deny, from: [{namespaces: {}}]}]`),
			checks: []string{"x/h -> x/a 80/TCP allow", "y/a -> x/a 80/TCP deny:ingress", "192.0.2.1 -> x/a 80/TCP allow"},
		},
		{
			name: "an ANP with only egress rules does not take part in ingress",
			docs: anp("egress-only", `
  priority: 1
  subject: {namespaces: {matchLabels: {ns: x}}}
  egress: [{name: deny-y, action: Deny, to: [{namespaces: {matchLabels: {ns: "y"}}}]}]`),
			checks: []string{"y/a -> x/a 80/TCP allow", "x/a -> y/a 80/TCP deny:egress"},
		},
		{
			name: "CNP networks peer matches external addresses and pods alike",
			docs: cnp("deny-nets", `
  tier: Admin
  priority: 1
  subject: {pods: {namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}}
  egress: [{name: deny, action: Deny, to: [{networks: [192.0.2.0/24, 10.0.2.0/24]}]}]`),
			checks: []string{"x/a -> 192.0.2.9 80/TCP deny:egress", "x/a -> y/a 80/TCP deny:egress", "x/a -> z/a 80/TCP allow", "x/a -> 198.51.100.1 80/TCP allow"},
		},
		{
			name: "a pod talking to itself is allowed even under deny-all",
			docs: np("x", "deny", `
  podSelector: {}
  policyTypes: [Ingress, Egress]`) + cnp("deny-all", `
  tier: Admin
  priority: 0
  subject: {namespaces: {}}
  ingress: [{name: deny, action: Deny, from: [{namespaces: {}}]}]`),
			checks: []string{"x/a -> x/a ICMP allow", "x/a -> x/a 80/TCP allow", "x/a -> x/b 80/TCP deny"},
		},
		{
			name: "an empty NetworkPolicy peer (refused by validation) matches nothing",
			docs: np("x", "odd", `
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]`),
			mutate: func(c *model.Cluster) {
				c.NetworkPolicies[0].Spec.Ingress[0].From[0].PodSelector = nil
			},
			checks: []string{"x/b -> x/a 80/TCP deny", "y/a -> x/a 80/TCP deny"},
		},
		{
			name: "an Allow rule with an unknown peer matches nothing (fail closed)",
			docs: np("x", "deny", `
  podSelector: {}
  policyTypes: [Ingress]`) + anp("future", `
  priority: 1
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{name: allow, action: Allow, from: [{namespaces: {}}]}]`),
			mutate: func(c *model.Cluster) {
				c.AdminNetworkPolicies[0].Spec.Ingress[0].From[0] = v1alpha1.AdminNetworkPolicyIngressPeer{}
			},
			checks: []string{"y/a -> x/a 80/TCP deny:ingress"},
			warn:   []string{"unknown-peer"},
		},
		{
			name: "a Deny rule with an unknown peer matches everything (fail closed)",
			docs: anp("future", `
  priority: 1
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{name: deny, action: Deny, from: [{namespaces: {matchLabels: {ns: z}}}]}]`),
			mutate: func(c *model.Cluster) {
				c.AdminNetworkPolicies[0].Spec.Ingress[0].From[0] = v1alpha1.AdminNetworkPolicyIngressPeer{}
			},
			checks: []string{"y/a -> x/a 80/TCP deny:ingress", "x/b -> x/a 80/TCP deny:ingress", "192.0.2.1 -> x/a 80/TCP deny"},
			warn:   []string{"unknown-peer"},
		},
		{
			name: "a Pass rule with an unknown peer denies everything (fail closed)",
			docs: np("x", "allow-all", `
  podSelector: {}
  ingress: [{}]`) + anp("future", `
  priority: 1
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{name: pass, action: Pass, from: [{namespaces: {matchLabels: {ns: z}}}]}]`),
			mutate: func(c *model.Cluster) {
				c.AdminNetworkPolicies[0].Spec.Ingress[0].From[0] = v1alpha1.AdminNetworkPolicyIngressPeer{}
			},
			checks: []string{"y/a -> x/a 80/TCP deny:ingress", "z/a -> x/a 80/TCP deny:ingress"},
			warn:   []string{"unknown-peer"},
		},
		{
			name: "an ANP without a subject netwarden understands selects no pods",
			docs: anp("future", `
  priority: 1
  subject: {namespaces: {}}
  ingress: [{name: deny, action: Deny, from: [{namespaces: {}}]}]`),
			mutate: func(c *model.Cluster) {
				c.AdminNetworkPolicies[0].Spec.Subject = v1alpha1.AdminNetworkPolicySubject{}
			},
			checks: []string{"y/a -> x/a 80/TCP allow"},
			warn:   []string{"unknown-subject"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := loadModel(t, tc.dual, tc.docs)
			if tc.mutate != nil {
				tc.mutate(c)
				c.Normalize()
			}
			e := compile(t, c)
			for _, line := range tc.checks {
				check(t, e, line)
			}
			if got := warningCodes(e); !slices.Equal(got, tc.warn) {
				t.Errorf("warnings %v, want %v (%+v)", got, tc.warn, e.Warnings)
			}
		})
	}
}
