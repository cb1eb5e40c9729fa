package e2emodel

// clusterNetworkPolicyCases pin ClusterNetworkPolicy (v1beta1) semantics: the Admin and
// Baseline tiers, Accept/Deny/Pass, and protocols.
func clusterNetworkPolicyCases() []Case {
	subjectX := "subject: {namespaces: {matchLabels: {ns: x}}}"
	return []Case{
		{
			Name: "a CNP Admin Accept overrides a NetworkPolicy default deny",
			Manifests: docs(netpol("x", "deny-ingress", `
				podSelector: {}
				policyTypes: [Ingress]`), cnp("accept-z", `
				tier: Admin
				priority: 5
				`+subjectX+`
				ingress:
				- {name: accept-z, action: Accept, from: [{namespaces: {matchLabels: {ns: z}}}]}`)),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/*").Allow("z/* -> x/*"))},
		},
		{
			Name: "a CNP Admin Deny on 80/UDP leaves TCP and ICMP alone",
			Manifests: cnp("deny-udp", `
				tier: Admin
				priority: 5
				`+subjectX+`
				ingress:
				- name: deny-y-udp
				  action: Deny
				  from: [{namespaces: {matchLabels: {ns: "y"}}}]
				  protocols: [{udp: {destinationPort: {number: 80}}}]`),
			Probes: []Probe{
				udp(80, Allowed().Deny("y/* -> x/*")),
				udp(81, Allowed()),
				tcp(80, Allowed()),
				icmp(Allowed()),
			},
		},
		{
			Name: "a CNP Admin Pass hands over to NetworkPolicies, skipping later Admin policies",
			Manifests: docs(cnp("pass-y", `
				tier: Admin
				priority: 1
				`+subjectX+`
				ingress:
				- {name: pass-y, action: Pass, from: [{namespaces: {matchLabels: {ns: "y"}}}]}`), cnp("deny-all", `
				tier: Admin
				priority: 2
				`+subjectX+`
				ingress:
				- {name: deny-all, action: Deny, from: [{namespaces: {}}]}`), netpol("x", "allow-y-c", `
				podSelector: {}
				ingress:
				- from: [{namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: c}}}]`)),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/*").Allow("y/c -> x/*"))},
		},
		{
			Name: "a CNP Baseline Deny applies only to pods no NetworkPolicy selects",
			Manifests: docs(cnp("baseline-deny", `
				tier: Baseline
				priority: 10
				`+subjectX+`
				ingress:
				- {name: deny-all, action: Deny, from: [{namespaces: {}}]}`), netpol("x", "allow-y", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- from: [{namespaceSelector: {matchLabels: {ns: "y"}}}]`)),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/*").Allow("y/* -> x/a"))},
		},
		{
			Name: "CNP Baseline policies apply by priority, lower first",
			Manifests: docs(cnp("a-deny-all", `
				tier: Baseline
				priority: 20
				`+subjectX+`
				ingress:
				- {name: deny-all, action: Deny, from: [{namespaces: {}}]}`), cnp("b-accept-z", `
				tier: Baseline
				priority: 10
				`+subjectX+`
				ingress:
				- {name: accept-z, action: Accept, from: [{namespaces: {matchLabels: {ns: z}}}]}`)),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/*").Allow("z/* -> x/*"))},
		},
		{
			Name: "CNPs and ANPs share the Admin tier, ordered by priority",
			Manifests: docs(cnp("deny-y", `
				tier: Admin
				priority: 10
				`+subjectX+`
				ingress:
				- {name: deny-y, action: Deny, from: [{namespaces: {matchLabels: {ns: "y"}}}]}`), anp("allow-y-b", `
				priority: 5
				`+subjectX+`
				ingress:
				- {name: allow-y-b, action: Allow, from: [{pods: {namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: b}}}}]}`)),
			Probes: []Probe{tcp(80, Allowed().Deny("y/a,c -> x/*"))},
		},
		{
			Name: "a CNP SCTP port range Accept before a Deny of everything",
			Manifests: docs(cnp("accept-sctp", `
				tier: Admin
				priority: 1
				`+subjectX+`
				ingress:
				- name: accept-y-sctp
				  action: Accept
				  from: [{namespaces: {matchLabels: {ns: "y"}}}]
				  protocols: [{sctp: {destinationPort: {range: {start: 80, end: 81}}}}]`), cnp("deny-all", `
				tier: Admin
				priority: 2
				`+subjectX+`
				ingress:
				- {name: deny-all, action: Deny, from: [{namespaces: {}}]}`)),
			Probes: []Probe{
				sctp(80, Allowed().Deny("* -> x/*").Allow("y/* -> x/*")),
				sctp(81, Allowed().Deny("* -> x/*").Allow("y/* -> x/*")),
				tcp(80, Allowed().Deny("* -> x/*")),
			},
		},
		{
			Name: "a CNP networks peer: Accept one pod's address, Deny the rest of the pod range",
			Manifests: cnp("egress-networks", `
				tier: Admin
				priority: 1
				subject: {pods: {namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}}
				egress:
				- {name: accept-y-b, action: Accept, to: [{networks: [10.0.2.11/32]}]}
				- {name: deny-pods, action: Deny, to: [{networks: [10.0.0.0/16]}]}`),
			Probes: []Probe{tcp(80, Allowed().Deny("x/a -> *").Allow("x/a -> y/b"))},
		},
		{
			Name: "a CNP destinationNamedPort matches the container port's name and protocol",
			Manifests: cnp("deny-named", `
				tier: Admin
				priority: 1
				`+subjectX+`
				ingress:
				- name: deny-y-80-udp
				  action: Deny
				  from: [{namespaces: {matchLabels: {ns: "y"}}}]
				  protocols: [{destinationNamedPort: serve-80-udp}]`),
			Probes: []Probe{
				udp(80, Allowed().Deny("y/* -> x/*")),
				tcp(80, Allowed()),
			},
		},
		{
			Name: "a CNP Baseline Pass skips the remaining baseline policies, the BANP included",
			Manifests: docs(cnp("baseline-pass-y", `
				tier: Baseline
				priority: 1
				`+subjectX+`
				ingress:
				- {name: pass-y, action: Pass, from: [{namespaces: {matchLabels: {ns: "y"}}}]}`), banp(`
				`+subjectX+`
				ingress:
				- {name: deny-all, action: Deny, from: [{namespaces: {}}]}`)),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/*").Allow("y/* -> x/*"))},
		},
		{
			Name: "a CNP egress Deny to a pods peer overrides a NetworkPolicy egress allow",
			Manifests: docs(netpol("z", "allow-egress", `
				podSelector: {}
				policyTypes: [Egress]
				egress:
				- to: [{namespaceSelector: {}}]`), cnp("deny-z-to-x-a", `
				tier: Admin
				priority: 3
				subject: {namespaces: {matchLabels: {ns: z}}}
				egress:
				- name: deny-x-a
				  action: Deny
				  to: [{pods: {namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}}]
				  protocols: [{tcp: {destinationPort: {number: 80}}}]`)),
			Probes: []Probe{
				tcp(80, Allowed().Deny("z/* -> x/a")),
				tcp(81, Allowed()),
			},
		},
	}
}
