package e2emodel

// networkPolicyCases pin networking.k8s.io/v1 NetworkPolicy semantics, after the upstream
// e2e suite's scenarios.
func networkPolicyCases() []Case {
	denyIngressX := netpol("x", "deny-ingress", `
		podSelector: {}
		policyTypes: [Ingress]`)
	return []Case{
		{
			Name:      "default-deny ingress: an empty podSelector isolates every pod of its namespace",
			Manifests: denyIngressX,
			Probes: []Probe{
				tcp(80, Allowed().Deny("* -> x/*")),
				icmp(Allowed().Deny("* -> x/*")),
			},
		},
		{
			Name: "default-deny egress isolates every pod of its namespace for egress",
			Manifests: netpol("x", "deny-egress", `
				podSelector: {}
				policyTypes: [Egress]`),
			Probes: []Probe{
				tcp(80, Allowed().Deny("x/* -> *")),
				udp(81, Allowed().Deny("x/* -> *")),
			},
		},
		{
			Name: "deny all ingress and egress",
			Manifests: netpol("x", "deny-all", `
				podSelector: {}
				policyTypes: [Ingress, Egress]`),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/*").Deny("x/* -> *"))},
		},
		{
			Name: "ingress: [{}] allows every source, even next to a default deny",
			Manifests: docs(denyIngressX, netpol("x", "allow-all", `
				podSelector: {}
				ingress: [{}]`)),
			Probes: []Probe{tcp(80, Allowed()), sctp(81, Allowed()), icmp(Allowed())},
		},
		{
			Name: "ingress: [] allows nothing, like a policy without ingress rules",
			Manifests: netpol("x", "empty-ingress", `
				podSelector: {matchLabels: {pod: a}}
				policyTypes: [Ingress]
				ingress: []`),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/a"))},
		},
		{
			Name: "egress: [{}] allows every destination, even next to a default deny",
			Manifests: docs(netpol("x", "deny-egress", `
				podSelector: {}
				policyTypes: [Egress]`), netpol("x", "allow-all-egress", `
				podSelector: {}
				policyTypes: [Egress]
				egress: [{}]`)),
			Probes: []Probe{tcp(80, Allowed()), udp(80, Allowed())},
		},
		{
			Name: "a podSelector peer without namespaceSelector means pods of the policy's own namespace",
			Manifests: netpol("x", "allow-b", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- from: [{podSelector: {matchLabels: {pod: b}}}]`),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/a").Allow("x/b -> x/a"))},
		},
		{
			Name: "a namespaceSelector peer allows every pod of the selected namespaces",
			Manifests: netpol("x", "allow-ns-y", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- from: [{namespaceSelector: {matchLabels: {ns: "y"}}}]`),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/a").Allow("y/* -> x/a"))},
		},
		{
			Name: "podSelector and namespaceSelector in one peer must both match",
			Manifests: netpol("x", "allow-y-b", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- from:
					- namespaceSelector: {matchLabels: {ns: "y"}}
					  podSelector: {matchLabels: {pod: b}}`),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/a").Allow("y/b -> x/a"))},
		},
		{
			Name: "podSelector and namespaceSelector in two peers add up",
			Manifests: netpol("x", "allow-y-or-b", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- from:
					- namespaceSelector: {matchLabels: {ns: "y"}}
					- podSelector: {matchLabels: {pod: b}}`),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/a").Allow("y/* -> x/a").Allow("x/b -> x/a"))},
		},
		{
			Name: "an empty namespaceSelector selects pods in every namespace",
			Manifests: netpol("x", "allow-any-b", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- from: [{namespaceSelector: {}, podSelector: {matchLabels: {pod: b}}}]`),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/a").Allow("*/b -> x/a"))},
		},
		{
			Name: "matchExpressions In selects the namespaces listed",
			Manifests: netpol("x", "allow-y-z", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- from:
					- namespaceSelector: {matchExpressions: [{key: ns, operator: In, values: ["y", z]}]}`),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/a").Allow("y,z/* -> x/a"))},
		},
		{
			Name: "matchExpressions NotIn selects the pods not listed",
			Manifests: netpol("x", "allow-not-b", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- from:
					- podSelector: {matchExpressions: [{key: pod, operator: NotIn, values: [b]}]}`),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/a").Allow("x/c -> x/a"))},
		},
		{
			Name: "matchExpressions Exists selects every pod carrying the key",
			Manifests: netpol("x", "deny-labelled", `
				podSelector:
					matchExpressions: [{key: pod, operator: Exists}]
				policyTypes: [Ingress]`),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/*"))},
		},
		{
			Name: "matchExpressions DoesNotExist on a key every pod has selects no pod",
			Manifests: netpol("x", "deny-unlabelled", `
				podSelector:
					matchExpressions: [{key: pod, operator: DoesNotExist}]
				policyTypes: [Ingress]`),
			Probes: []Probe{tcp(80, Allowed())},
		},
		{
			Name: "the automatic kubernetes.io/metadata.name label selects a namespace by name",
			Manifests: netpol("x", "allow-z-by-name", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: z}}}]`),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/a").Allow("z/* -> x/a"))},
		},
		{
			Name: "allow from other namespaces only",
			Manifests: netpol("x", "deny-same-ns", `
				podSelector: {}
				ingress:
				- from:
					- namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}`),
			Probes: []Probe{tcp(80, Allowed().Deny("x/* -> x/*"))},
		},
		{
			Name: "a policy selects pods of its own namespace only",
			Manifests: netpol("y", "deny-a", `
				podSelector: {matchLabels: {pod: a}}
				policyTypes: [Ingress]`),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> y/a"))},
		},
		{
			Name: "ipBlock except carves one pod out of a namespace's range",
			Manifests: netpol("x", "allow-cidr-y", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- from: [{ipBlock: {cidr: 10.0.2.0/24, except: [10.0.2.11/32]}}]`),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/a").Allow("y/a,c -> x/a"))},
		},
		{
			Name: "egress ipBlock except denies the excepted pod only",
			Manifests: netpol("x", "egress-cidr", `
				podSelector: {matchLabels: {pod: a}}
				policyTypes: [Egress]
				egress:
				- to: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.2.11/32]}}]`),
			Probes: []Probe{tcp(80, Allowed().Deny("x/a -> y/b"))},
		},
		{
			Name: "an egress ipBlock /32 reaches exactly one pod",
			Manifests: netpol("x", "egress-one", `
				podSelector: {matchLabels: {pod: a}}
				policyTypes: [Egress]
				egress:
				- to: [{ipBlock: {cidr: 10.0.3.12/32}}]`),
			Probes: []Probe{tcp(80, Allowed().Deny("x/a -> *").Allow("x/a -> z/c"))},
		},
		{
			Name: "a port without protocol is TCP, and a rule with ports does not match ICMP",
			Manifests: netpol("x", "allow-80", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- ports: [{port: 80}]`),
			Probes: []Probe{
				tcp(80, Allowed()),
				tcp(81, Allowed().Deny("* -> x/a")),
				udp(80, Allowed().Deny("* -> x/a")),
				icmp(Allowed().Deny("* -> x/a")),
			},
		},
		{
			Name: "a named port in an ingress rule resolves to the destination's container port",
			Manifests: netpol("x", "allow-named-81", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- ports: [{port: serve-81-tcp}]`),
			Probes: []Probe{
				tcp(81, Allowed()),
				tcp(80, Allowed().Deny("* -> x/a")),
				udp(81, Allowed().Deny("* -> x/a")),
			},
		},
		{
			Name: "a named port with protocol UDP matches the UDP container port of that name",
			Manifests: netpol("x", "allow-named-81-udp", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- ports: [{port: serve-81-udp, protocol: UDP}]`),
			Probes: []Probe{
				udp(81, Allowed()),
				tcp(81, Allowed().Deny("* -> x/a")),
				udp(80, Allowed().Deny("* -> x/a")),
			},
		},
		{
			Name: "a named port whose protocol differs from the container port's matches nothing",
			Manifests: netpol("x", "named-wrong-protocol", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- ports: [{port: serve-80-tcp, protocol: UDP}]`),
			Probes: []Probe{
				tcp(80, Allowed().Deny("* -> x/a")),
				udp(80, Allowed().Deny("* -> x/a")),
			},
		},
		{
			Name: "a named port in an egress rule resolves against the destination pod",
			Manifests: netpol("x", "egress-named", `
				podSelector: {matchLabels: {pod: a}}
				policyTypes: [Egress]
				egress:
				- ports: [{port: serve-80-tcp}]`),
			Probes: []Probe{
				tcp(80, Allowed()),
				tcp(81, Allowed().Deny("x/a -> *")),
				udp(80, Allowed().Deny("x/a -> *")),
			},
		},
		{
			Name: "endPort makes an inclusive range",
			Manifests: netpol("x", "range-79-80", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- ports: [{port: 79, endPort: 80}]`),
			Probes: []Probe{
				tcp(80, Allowed()),
				tcp(81, Allowed().Deny("* -> x/a")),
			},
		},
		{
			Name: "an endPort range applies to the rule's protocol only",
			Manifests: netpol("x", "range-udp", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- ports: [{protocol: UDP, port: 80, endPort: 81}]`),
			Probes: []Probe{
				udp(80, Allowed()),
				udp(81, Allowed()),
				tcp(80, Allowed().Deny("* -> x/a")),
			},
		},
		{
			Name: "a protocol without a port allows every port of that protocol",
			Manifests: netpol("x", "udp-only", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- ports: [{protocol: UDP}]`),
			Probes: []Probe{
				udp(80, Allowed()),
				udp(81, Allowed()),
				tcp(80, Allowed().Deny("* -> x/a")),
				sctp(81, Allowed().Deny("* -> x/a")),
			},
		},
		{
			Name: "an SCTP rule opens neither TCP nor UDP",
			Manifests: netpol("x", "sctp-81", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- ports: [{protocol: SCTP, port: 81}]`),
			Probes: []Probe{
				sctp(81, Allowed()),
				sctp(80, Allowed().Deny("* -> x/a")),
				tcp(81, Allowed().Deny("* -> x/a")),
				udp(81, Allowed().Deny("* -> x/a")),
			},
		},
		{
			Name: "policies selecting the same pod add up",
			Manifests: docs(netpol("x", "allow-b", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- from: [{podSelector: {matchLabels: {pod: b}}}]`), netpol("x", "allow-y", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- from: [{namespaceSelector: {matchLabels: {ns: "y"}}}]`)),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/a").Allow("x/b -> x/a").Allow("y/* -> x/a"))},
		},
		{
			Name: "deny all, then allow one port to the whole namespace",
			Manifests: docs(denyIngressX, netpol("x", "allow-81", `
				podSelector: {}
				ingress:
				- ports: [{port: 81}]`)),
			Probes: []Probe{
				tcp(80, Allowed().Deny("* -> x/*")),
				tcp(81, Allowed()),
			},
		},
		{
			Name: "policyTypes defaults to Ingress, plus Egress when there are egress rules",
			Manifests: netpol("x", "egress-to-b", `
				podSelector: {matchLabels: {pod: a}}
				egress:
				- to: [{podSelector: {matchLabels: {pod: b}}}]`),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/a").Deny("x/a -> *").Allow("x/a -> x/b"))},
		},
		{
			Name: "explicit policyTypes [Ingress] ignores the policy's egress rules",
			Manifests: netpol("x", "ingress-only", `
				podSelector: {matchLabels: {pod: a}}
				policyTypes: [Ingress]
				ingress: [{}]
				egress:
				- to: [{podSelector: {matchLabels: {pod: b}}}]`),
			Probes: []Probe{tcp(80, Allowed())},
		},
		{
			Name: "egress to a namespace",
			Manifests: netpol("x", "egress-to-y", `
				podSelector: {matchLabels: {pod: a}}
				policyTypes: [Egress]
				egress:
				- to: [{namespaceSelector: {matchLabels: {ns: "y"}}}]`),
			Probes: []Probe{tcp(80, Allowed().Deny("x/a -> *").Allow("x/a -> y/*"))},
		},
		{
			Name: "egress at the source and ingress at the destination must both allow",
			Manifests: docs(netpol("x", "egress-to-y", `
				podSelector: {matchLabels: {pod: a}}
				policyTypes: [Egress]
				egress:
				- to: [{namespaceSelector: {matchLabels: {ns: "y"}}}]`), netpol("y", "from-z", `
				podSelector: {matchLabels: {pod: b}}
				ingress:
				- from: [{namespaceSelector: {matchLabels: {ns: z}}}]`)),
			Probes: []Probe{tcp(80, Allowed().Deny("x/a -> *").Allow("x/a -> y/*").Deny("* -> y/b").Allow("z/* -> y/b"))},
		},
		{
			Name: "ingress and egress rules in one policy, egress on one port",
			Manifests: netpol("x", "both", `
				podSelector: {matchLabels: {pod: a}}
				policyTypes: [Ingress, Egress]
				ingress:
				- from: [{podSelector: {matchLabels: {pod: b}}}]
				egress:
				- to: [{namespaceSelector: {matchLabels: {ns: "y"}}}]
				  ports: [{port: 80}]`),
			Probes: []Probe{
				tcp(80, Allowed().Deny("* -> x/a").Allow("x/b -> x/a").Deny("x/a -> *").Allow("x/a -> y/*")),
				tcp(81, Allowed().Deny("* -> x/a").Allow("x/b -> x/a").Deny("x/a -> *")),
			},
		},
		{
			Name: "a rule without ports matches ICMP; a rule with ports does not",
			Manifests: netpol("x", "egress-icmp", `
				podSelector: {matchLabels: {pod: a}}
				policyTypes: [Egress]
				egress:
				- to: [{namespaceSelector: {matchLabels: {ns: "y"}}}]
				- to: [{namespaceSelector: {matchLabels: {ns: z}}}]
				  ports: [{port: 80}]`),
			Probes: []Probe{
				icmp(Allowed().Deny("x/a -> *").Allow("x/a -> y/*")),
				tcp(80, Allowed().Deny("x/a -> *").Allow("x/a -> y,z/*")),
			},
		},
		{
			Name:   "an IPv6 ipBlock matches pods connecting over IPv6",
			Family: 6,
			Manifests: netpol("x", "allow-v6-y", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- from: [{ipBlock: {cidr: "fd00:0:0:2::/64"}}]`),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/a").Allow("y/* -> x/a"))},
		},
		{
			Name:   "an IPv4 ipBlock does not match connections over IPv6",
			Family: 6,
			Manifests: netpol("x", "allow-v4-all", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- from: [{ipBlock: {cidr: 10.0.0.0/8}}]`),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/a"))},
		},
	}
}
