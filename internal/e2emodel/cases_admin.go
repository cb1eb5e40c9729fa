package e2emodel

// adminCases pin AdminNetworkPolicy and BaselineAdminNetworkPolicy (v1alpha1) semantics and
// how they stack with NetworkPolicies.
func adminCases() []Case {
	subjectX := "subject: {namespaces: {matchLabels: {ns: x}}}"
	denyIngressX := netpol("x", "deny-ingress", `
		podSelector: {}
		policyTypes: [Ingress]`)
	return []Case{
		{
			Name: "an ANP Deny overrides a NetworkPolicy that allows",
			Manifests: docs(netpol("x", "allow-all", `
				podSelector: {}
				ingress: [{}]`), anp("deny-from-y", `
				priority: 10
				`+subjectX+`
				ingress:
				- name: deny-y
				  action: Deny
				  from: [{namespaces: {matchLabels: {ns: "y"}}}]`)),
			Probes: []Probe{tcp(80, Allowed().Deny("y/* -> x/*"))},
		},
		{
			Name: "an ANP Allow overrides a NetworkPolicy default deny",
			Manifests: docs(denyIngressX, anp("allow-from-y", `
				priority: 10
				`+subjectX+`
				ingress:
				- name: allow-y
				  action: Allow
				  from: [{namespaces: {matchLabels: {ns: "y"}}}]`)),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/*").Allow("y/* -> x/*"))},
		},
		{
			Name: "an ANP Pass hands the connection to the NetworkPolicy tier, skipping later ANPs",
			Manifests: docs(anp("pass-y", `
				priority: 10
				`+subjectX+`
				ingress:
				- {name: pass-y, action: Pass, from: [{namespaces: {matchLabels: {ns: "y"}}}]}`), anp("deny-all", `
				priority: 20
				`+subjectX+`
				ingress:
				- {name: deny-all, action: Deny, from: [{namespaces: {}}]}`), netpol("x", "allow-y-b", `
				podSelector: {}
				ingress:
				- from: [{namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: b}}}]`)),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/*").Allow("y/b -> x/*"))},
		},
		{
			Name: "an ANP Pass with no NetworkPolicy or baseline falls to the default, which allows",
			Manifests: docs(anp("pass-y", `
				priority: 10
				`+subjectX+`
				ingress:
				- {name: pass-y, action: Pass, from: [{namespaces: {matchLabels: {ns: "y"}}}]}`), anp("deny-all", `
				priority: 20
				`+subjectX+`
				ingress:
				- {name: deny-all, action: Deny, from: [{namespaces: {}}]}`)),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/*").Allow("y/* -> x/*"))},
		},
		{
			Name: "the ANP with the lower priority number decides first, whatever the names",
			Manifests: docs(anp("a-allow-y", `
				priority: 20
				`+subjectX+`
				ingress:
				- {name: allow-y, action: Allow, from: [{namespaces: {matchLabels: {ns: "y"}}}]}`), anp("b-deny-y", `
				priority: 10
				`+subjectX+`
				ingress:
				- {name: deny-y, action: Deny, from: [{namespaces: {matchLabels: {ns: "y"}}}]}`)),
			Probes: []Probe{tcp(80, Allowed().Deny("y/* -> x/*"))},
		},
		{
			Name: "an ANP Allow at a lower priority number beats a Deny-all at a higher one",
			Manifests: docs(anp("a-deny-all", `
				priority: 20
				`+subjectX+`
				ingress:
				- {name: deny-all, action: Deny, from: [{namespaces: {}}]}`), anp("b-allow-y", `
				priority: 10
				`+subjectX+`
				ingress:
				- {name: allow-y, action: Allow, from: [{namespaces: {matchLabels: {ns: "y"}}}]}`)),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/*").Allow("y/* -> x/*"))},
		},
		{
			Name: "the first matching rule of an ANP decides",
			Manifests: anp("order", `
				priority: 10
				`+subjectX+`
				ingress:
				- name: allow-y-b
				  action: Allow
				  from: [{pods: {namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: b}}}}]
				- name: deny-y
				  action: Deny
				  from: [{namespaces: {matchLabels: {ns: "y"}}}]`),
			Probes: []Probe{tcp(80, Allowed().Deny("y/a,c -> x/*"))},
		},
		{
			Name: "an ANP Deny on 80/TCP leaves other ports, protocols and ICMP alone",
			Manifests: anp("deny-80", `
				priority: 10
				`+subjectX+`
				ingress:
				- name: deny-y-80
				  action: Deny
				  from: [{namespaces: {matchLabels: {ns: "y"}}}]
				  ports: [{portNumber: {protocol: TCP, port: 80}}]`),
			Probes: []Probe{
				tcp(80, Allowed().Deny("y/* -> x/*")),
				tcp(81, Allowed()),
				udp(80, Allowed()),
				icmp(Allowed()),
			},
		},
		{
			Name: "an ANP namedPort resolves on the destination pod with the container port's protocol",
			Manifests: anp("deny-named", `
				priority: 10
				`+subjectX+`
				ingress:
				- name: deny-y-81-udp
				  action: Deny
				  from: [{namespaces: {matchLabels: {ns: "y"}}}]
				  ports: [{namedPort: serve-81-udp}]`),
			Probes: []Probe{
				udp(81, Allowed().Deny("y/* -> x/*")),
				tcp(81, Allowed()),
				udp(80, Allowed()),
			},
		},
		{
			Name: "an ANP portRange is inclusive and bound to its protocol",
			Manifests: anp("deny-range", `
				priority: 10
				`+subjectX+`
				ingress:
				- name: deny-y-udp
				  action: Deny
				  from: [{namespaces: {matchLabels: {ns: "y"}}}]
				  ports: [{portRange: {protocol: UDP, start: 80, end: 81}}]`),
			Probes: []Probe{
				udp(80, Allowed().Deny("y/* -> x/*")),
				udp(81, Allowed().Deny("y/* -> x/*")),
				tcp(80, Allowed()),
			},
		},
		{
			Name: "an ANP subject of pods selects only those pods",
			Manifests: anp("protect-a", `
				priority: 10
				subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: a}}}}
				ingress:
				- {name: deny-z, action: Deny, from: [{namespaces: {matchLabels: {ns: z}}}]}`),
			Probes: []Probe{tcp(80, Allowed().Deny("z/* -> */a"))},
		},
		{
			Name: "an ANP egress Deny to a namespace",
			Manifests: anp("egress-deny-z", `
				priority: 10
				subject: {pods: {namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}}
				egress:
				- {name: deny-z, action: Deny, to: [{namespaces: {matchLabels: {ns: z}}}]}`),
			Probes: []Probe{tcp(80, Allowed().Deny("x/a -> z/*"))},
		},
		{
			Name: "an ANP networks peer matches pod addresses, first rule first",
			Manifests: anp("egress-networks", `
				priority: 10
				subject: {pods: {namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}}
				egress:
				- {name: allow-z-c, action: Allow, to: [{networks: [10.0.3.12/32]}]}
				- {name: deny-z, action: Deny, to: [{networks: [10.0.3.0/24]}]}`),
			Probes: []Probe{tcp(80, Allowed().Deny("x/a -> z/a,b"))},
		},
		{
			Name: "an ANP egress Deny overrides a NetworkPolicy egress allow",
			Manifests: docs(netpol("x", "allow-egress", `
				podSelector: {}
				policyTypes: [Egress]
				egress: [{}]`), anp("deny-to-c", `
				priority: 10
				`+subjectX+`
				egress:
				- {name: deny-c, action: Deny, to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: c}}}}]}`)),
			Probes: []Probe{tcp(80, Allowed().Deny("x/* -> */c"))},
		},
		{
			Name: "an ANP egress Allow decides egress only: the destination's ingress still applies",
			Manifests: docs(netpol("x", "deny-egress", `
				podSelector: {}
				policyTypes: [Egress]`), denyIngressY(), anp("allow-egress", `
				priority: 10
				`+subjectX+`
				egress:
				- {name: allow-all, action: Allow, to: [{namespaces: {}}]}`)),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> y/*"))},
		},
		{
			Name: "the BANP denies where no NetworkPolicy selects the pod",
			Manifests: banp(`
				subject: {namespaces: {}}
				ingress:
				- {name: deny-y, action: Deny, from: [{namespaces: {matchLabels: {ns: "y"}}}]}`),
			Probes: []Probe{tcp(80, Allowed().Deny("y/* -> *"))},
		},
		{
			Name: "a NetworkPolicy overrides the BANP for the pods it selects",
			Manifests: docs(banp(`
				`+subjectX+`
				ingress:
				- {name: deny-all, action: Deny, from: [{namespaces: {}}]}`), netpol("x", "allow-b", `
				podSelector: {matchLabels: {pod: a}}
				ingress:
				- from: [{podSelector: {matchLabels: {pod: b}}}]`)),
			Probes: []Probe{tcp(80, Allowed().Deny("* -> x/*").Allow("x/b -> x/a"))},
		},
		{
			Name: "BANP rules apply in the order written",
			Manifests: banp(`
				` + subjectX + `
				ingress:
				- {name: allow-x, action: Allow, from: [{namespaces: {matchLabels: {ns: x}}}]}
				- {name: deny-all, action: Deny, from: [{namespaces: {}}]}`),
			Probes: []Probe{tcp(80, Allowed().Deny("y,z/* -> x/*"))},
		},
		{
			Name: "an ANP Pass skips the rest of the Admin tier and reaches the BANP",
			Manifests: docs(anp("pass-y", `
				priority: 10
				`+subjectX+`
				ingress:
				- {name: pass-y, action: Pass, from: [{namespaces: {matchLabels: {ns: "y"}}}]}`), anp("allow-all", `
				priority: 20
				`+subjectX+`
				ingress:
				- {name: allow-all, action: Allow, from: [{namespaces: {}}]}`), banp(`
				`+subjectX+`
				ingress:
				- {name: deny-y, action: Deny, from: [{namespaces: {matchLabels: {ns: "y"}}}]}`)),
			Probes: []Probe{tcp(80, Allowed().Deny("y/* -> x/*"))},
		},
		{
			Name: "a pod talking to itself is always allowed",
			Manifests: docs(netpol("x", "deny-all", `
				podSelector: {}
				policyTypes: [Ingress, Egress]`), anp("deny-everything", `
				priority: 0
				subject: {namespaces: {}}
				ingress:
				- {name: deny-in, action: Deny, from: [{namespaces: {}}]}
				egress:
				- {name: deny-out, action: Deny, to: [{namespaces: {}}]}`)),
			Probes: []Probe{tcp(80, Denied()), udp(81, Denied()), icmp(Denied())},
		},
	}
}

func denyIngressY() string {
	return netpol("y", "deny-ingress", `
		podSelector: {}
		policyTypes: [Ingress]`)
}
