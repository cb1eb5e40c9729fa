package validation

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"
	"sigs.k8s.io/yaml"
)

// validate decodes a manifest of the given kind (strictly, like the loader) and validates it.
func validate(t *testing.T, kind, manifest string) field.ErrorList {
	t.Helper()
	var (
		into any
		run  func() field.ErrorList
	)
	switch kind {
	case "NetworkPolicy":
		o := &networkingv1.NetworkPolicy{}
		into, run = o, func() field.ErrorList { return NetworkPolicy(o) }
	case "AdminNetworkPolicy":
		o := &v1alpha1.AdminNetworkPolicy{}
		into, run = o, func() field.ErrorList { return AdminNetworkPolicy(o) }
	case "BaselineAdminNetworkPolicy":
		o := &v1alpha1.BaselineAdminNetworkPolicy{}
		into, run = o, func() field.ErrorList { return BaselineAdminNetworkPolicy(o) }
	case "ClusterNetworkPolicy":
		o := &v1beta1.ClusterNetworkPolicy{}
		into, run = o, func() field.ErrorList { return ClusterNetworkPolicy(o) }
	case "Pod":
		o := &corev1.Pod{}
		into, run = o, func() field.ErrorList { return Pod(o) }
	case "Node":
		o := &corev1.Node{}
		into, run = o, func() field.ErrorList { return Node(o) }
	case "Namespace":
		o := &corev1.Namespace{}
		into, run = o, func() field.ErrorList { return Namespace(o) }
	default:
		t.Fatalf("unknown kind %s", kind)
	}
	if err := yaml.UnmarshalStrict([]byte(manifest), into); err != nil {
		t.Fatalf("test manifest does not decode: %v", err)
	}
	return run()
}

// summary is "field: type" per error, the part of an error a user acts on.
func summary(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field+": "+e.Type.String())
	}
	return out
}

func TestValidation(t *testing.T) {
	const (
		npMeta   = "metadata: {name: web, namespace: shop}\n"
		anpMeta  = "metadata: {name: platform}\n"
		banpMeta = "metadata: {name: default}\n"
		cnpMeta  = "metadata: {name: platform}\n"
	)
	for _, tc := range []struct {
		name, kind, manifest string
		want                 []string // "field: type", in order; nil for valid
	}{
		// NetworkPolicy, as the API server validates it.
		{"a NetworkPolicy using every feature is valid", "NetworkPolicy", npMeta + `
spec:
  podSelector: {matchExpressions: [{key: app, operator: In, values: [web]}]}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{podSelector: {}}, {namespaceSelector: {}}, {namespaceSelector: {}, podSelector: {}}, {ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]
    ports: [{port: 80}, {port: http}, {protocol: UDP}, {protocol: SCTP, port: 7000, endPort: 7100}]
  egress: [{}]`, nil},
		{"an ipBlock cidr with host bits set is accepted (the API server's legacy reading)", "NetworkPolicy", npMeta + `
spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.1/8, except: [10.1.0.1/16]}}]}]}`, nil},
		{"an except equal to its cidr is not a strict subset", "NetworkPolicy", npMeta + `
spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]}]}`,
			[]string{"spec.ingress[0].from[0].ipBlock.except[0]: Invalid value"}},
		{"an except of the other family is outside the cidr", "NetworkPolicy", npMeta + `
spec: {podSelector: {}, egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: ["fd00::/64"]}}]}]}`,
			[]string{"spec.egress[0].to[0].ipBlock.except[0]: Invalid value"}},
		{"an unparsable cidr", "NetworkPolicy", npMeta + `
spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0/8}}]}]}`,
			[]string{"spec.ingress[0].from[0].ipBlock.cidr: Invalid value"}},
		{"an empty cidr is required", "NetworkPolicy", npMeta + `
spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: ""}}]}]}`,
			[]string{"spec.ingress[0].from[0].ipBlock.cidr: Required value"}},
		{"ipBlock with a selector in one peer", "NetworkPolicy", npMeta + `
spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]}`,
			[]string{"spec.ingress[0].from[0]: Forbidden"}},
		{"an empty peer", "NetworkPolicy", npMeta + `
spec: {podSelector: {}, ingress: [{from: [{}]}]}`,
			[]string{"spec.ingress[0].from[0]: Required value"}},
		{"endPort without port", "NetworkPolicy", npMeta + `
spec: {podSelector: {}, ingress: [{ports: [{endPort: 90}]}]}`,
			[]string{"spec.ingress[0].ports[0].port: Required value"}},
		{"endPort with a named port", "NetworkPolicy", npMeta + `
spec: {podSelector: {}, ingress: [{ports: [{port: http, endPort: 90}]}]}`,
			[]string{"spec.ingress[0].ports[0].endPort: Forbidden"}},
		{"endPort below port", "NetworkPolicy", npMeta + `
spec: {podSelector: {}, ingress: [{ports: [{port: 90, endPort: 80}]}]}`,
			[]string{"spec.ingress[0].ports[0].endPort: Invalid value"}},
		{"endPort beyond 65535", "NetworkPolicy", npMeta + `
spec: {podSelector: {}, ingress: [{ports: [{port: 90, endPort: 70000}]}]}`,
			[]string{"spec.ingress[0].ports[0].endPort: Invalid value"}},
		{"port 0", "NetworkPolicy", npMeta + `
spec: {podSelector: {}, egress: [{ports: [{port: 0}]}]}`,
			[]string{"spec.egress[0].ports[0].port: Invalid value"}},
		{"a named port that is not a valid port name", "NetworkPolicy", npMeta + `
spec: {podSelector: {}, ingress: [{ports: [{port: HTTP_80}]}]}`,
			[]string{"spec.ingress[0].ports[0].port: Invalid value", "spec.ingress[0].ports[0].port: Invalid value"}},
		{"ICMP is not a NetworkPolicy protocol", "NetworkPolicy", npMeta + `
spec: {podSelector: {}, ingress: [{ports: [{protocol: ICMP}]}]}`,
			[]string{"spec.ingress[0].ports[0].protocol: Unsupported value"}},
		{"policyTypes: unknown and duplicated", "NetworkPolicy", npMeta + `
spec: {podSelector: {}, policyTypes: [Ingress, Both, Ingress]}`,
			[]string{"spec.policyTypes[1]: Unsupported value", "spec.policyTypes[2]: Duplicate value"}},
		{"a selector with an unknown operator", "NetworkPolicy", npMeta + `
spec: {podSelector: {matchExpressions: [{key: app, operator: Has}]}}`,
			[]string{"spec.podSelector.matchExpressions[0].operator: Invalid value"}},
		{"In without values", "NetworkPolicy", npMeta + `
spec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: In}]}}]}]}`,
			[]string{"spec.ingress[0].from[0].namespaceSelector.matchExpressions[0].values: Required value"}},
		{"a label value that is not a label value", "NetworkPolicy", npMeta + `
spec: {podSelector: {matchLabels: {app: "web app"}}}`,
			[]string{"spec.podSelector.matchLabels: Invalid value"}},
		{"names follow DNS rules", "NetworkPolicy", `
metadata: {name: Web_1, namespace: Shop}
spec: {podSelector: {}}`,
			[]string{"metadata.name: Invalid value", "metadata.namespace: Invalid value"}},

		// AdminNetworkPolicy, as its CRD schema validates it.
		{"an ANP using every feature is valid", "AdminNetworkPolicy", anpMeta + `
spec:
  priority: 1000
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}
  ingress:
  - {name: a, action: Pass, from: [{namespaces: {}}, {pods: {namespaceSelector: {}, podSelector: {}}}], ports: [{portNumber: {port: 80}}, {namedPort: http}, {portRange: {start: 1, end: 2}}]}
  egress:
  - {action: Allow, to: [{domainNames: [example.com, "*.example.org"]}]}
  - {action: Deny, to: [{nodes: {}}, {networks: [10.0.0.0/8, "fd00::/8"]}], ports: [{portNumber: {protocol: UDP, port: 53}}]}`, nil},
		{"ANP portNumber without protocol is TCP, the CRD's default", "AdminNetworkPolicy", anpMeta + `
spec: {priority: 1, subject: {namespaces: {}}, ingress: [{action: Deny, from: [{namespaces: {}}], ports: [{portNumber: {port: 80}}]}]}`, nil},
		{"ANP priority above 1000", "AdminNetworkPolicy", anpMeta + `
spec: {priority: 1001, subject: {namespaces: {}}}`,
			[]string{"spec.priority: Invalid value"}},
		{"ANP subject with no field", "AdminNetworkPolicy", anpMeta + `
spec: {priority: 1, subject: {}}`,
			[]string{"spec.subject: Required value"}},
		{"ANP subject with two fields", "AdminNetworkPolicy", anpMeta + `
spec: {priority: 1, subject: {namespaces: {}, pods: {namespaceSelector: {}, podSelector: {}}}}`,
			[]string{"spec.subject: Forbidden"}},
		{"ANP rule: long name, unknown action, no peers", "AdminNetworkPolicy", anpMeta + `
spec: {priority: 1, subject: {namespaces: {}}, ingress: [{name: ` + strings.Repeat("n", 101) + `, action: Accept, from: []}]}`,
			[]string{"spec.ingress[0].name: Too long", "spec.ingress[0].action: Unsupported value", "spec.ingress[0].from: Required value"}},
		{"ANP ports: [] is refused (minItems 1), not read as all ports", "AdminNetworkPolicy", anpMeta + `
spec: {priority: 1, subject: {namespaces: {}}, ingress: [{action: Deny, from: [{namespaces: {}}], ports: []}]}`,
			[]string{"spec.ingress[0].ports: Required value"}},
		{"ANP port with two fields, a bad range, a bad protocol", "AdminNetworkPolicy", anpMeta + `
spec:
  priority: 1
  subject: {namespaces: {}}
  ingress:
  - action: Deny
    from: [{namespaces: {}}]
    ports: [{portNumber: {port: 80}, namedPort: http}, {portRange: {start: 90, end: 90}}, {portNumber: {protocol: ICMP, port: 1}}]`,
			[]string{"spec.ingress[0].ports[0]: Forbidden", "spec.ingress[0].ports[1].portRange: Invalid value", "spec.ingress[0].ports[2].portNumber.protocol: Unsupported value"}},
		{"ANP networks: host bits, and an empty list", "AdminNetworkPolicy", anpMeta + `
spec: {priority: 1, subject: {namespaces: {}}, egress: [{action: Deny, to: [{networks: [10.0.0.1/8]}, {networks: []}]}]}`,
			[]string{"spec.egress[0].to[0].networks[0]: Invalid value", "spec.egress[0].to[1].networks: Required value"}},
		{"ANP namedPort with a networks peer", "AdminNetworkPolicy", anpMeta + `
spec: {priority: 1, subject: {namespaces: {}}, egress: [{action: Deny, to: [{networks: [10.0.0.0/8]}], ports: [{namedPort: http}]}]}`,
			[]string{"spec.egress[0].ports: Forbidden"}},
		{"ANP domainNames: only in Allow rules, valid names, not empty", "AdminNetworkPolicy", anpMeta + `
spec: {priority: 1, subject: {namespaces: {}}, egress: [{action: Deny, to: [{domainNames: [example.com]}]}, {action: Allow, to: [{domainNames: ["exa mple.com"]}, {domainNames: []}]}]}`,
			[]string{"spec.egress[0].to[0].domainNames: Forbidden", "spec.egress[1].to[0].domainNames[0]: Invalid value", "spec.egress[1].to[1].domainNames: Required value"}},

		// BaselineAdminNetworkPolicy.
		{"BANP must be named default", "BaselineAdminNetworkPolicy", `
metadata: {name: baseline}
spec: {subject: {namespaces: {}}}`,
			[]string{"metadata.name: Invalid value"}},
		{"BANP has no Pass", "BaselineAdminNetworkPolicy", banpMeta + `
spec: {subject: {namespaces: {}}, ingress: [{action: Pass, from: [{namespaces: {}}]}]}`,
			[]string{"spec.ingress[0].action: Unsupported value"}},
		{"BANP egress to nodes and networks is valid", "BaselineAdminNetworkPolicy", banpMeta + `
spec: {subject: {namespaces: {}}, egress: [{action: Deny, to: [{nodes: {}}, {networks: [0.0.0.0/0]}], ports: [{portNumber: {port: 22}}]}]}`, nil},

		// ClusterNetworkPolicy.
		{"a CNP using every feature is valid", "ClusterNetworkPolicy", cnpMeta + `
spec:
  tier: Baseline
  priority: 0
  subject: {namespaces: {}}
  ingress:
  - {action: Accept, from: [{pods: {namespaceSelector: {}, podSelector: {}}}], protocols: [{tcp: {destinationPort: {number: 80}}}, {udp: {destinationPort: {range: {start: 1, end: 9}}}}, {destinationNamedPort: http}]}
  egress:
  - {action: Pass, to: [{nodes: {}}, {networks: ["::/0"]}], protocols: [{sctp: {destinationPort: {number: 9}}}]}
  - {action: Accept, to: [{domainNames: [example.com]}]}`, nil},
		{"CNP tier must be Admin or Baseline; Allow is not a CNP action", "ClusterNetworkPolicy", cnpMeta + `
spec: {tier: Middle, priority: 1, subject: {namespaces: {}}, ingress: [{action: Allow, from: [{namespaces: {}}]}]}`,
			[]string{"spec.tier: Unsupported value", "spec.ingress[0].action: Unsupported value"}},
		{"CNP protocols: empty list, missing destinationPort, number and range, two fields", "ClusterNetworkPolicy", cnpMeta + `
spec:
  tier: Admin
  priority: 1
  subject: {namespaces: {}}
  ingress:
  - {action: Deny, from: [{namespaces: {}}], protocols: []}
  - action: Deny
    from: [{namespaces: {}}]
    protocols: [{tcp: {}}, {udp: {destinationPort: {number: 1, range: {start: 1, end: 2}}}}, {sctp: {destinationPort: {range: {start: 5, end: 4}}}}, {tcp: {destinationPort: {number: 1}}, destinationNamedPort: http}]`,
			[]string{"spec.ingress[0].protocols: Required value", "spec.ingress[1].protocols[0].tcp.destinationPort: Required value", "spec.ingress[1].protocols[1].udp.destinationPort: Forbidden", "spec.ingress[1].protocols[2].sctp.destinationPort.range: Invalid value", "spec.ingress[1].protocols[3]: Forbidden"}},
		{"CNP destinationNamedPort with a nodes peer", "ClusterNetworkPolicy", cnpMeta + `
spec: {tier: Admin, priority: 1, subject: {namespaces: {}}, egress: [{action: Deny, to: [{nodes: {}}], protocols: [{destinationNamedPort: http}]}]}`,
			[]string{"spec.egress[0].protocols: Forbidden"}},
		{"CNP domainNames only in Accept rules", "ClusterNetworkPolicy", cnpMeta + `
spec: {tier: Admin, priority: 1, subject: {namespaces: {}}, egress: [{action: Pass, to: [{domainNames: [example.com]}]}]}`,
			[]string{"spec.egress[0].to[0].domainNames: Forbidden"}},

		// The objects policies read.
		{"pod ports and addresses", "Pod", `
metadata: {name: p, namespace: shop}
spec:
  initContainers: [{name: i, image: i, ports: [{name: way-too-long-name, containerPort: 1}]}]
  containers: [{name: c, image: i, ports: [{containerPort: 0}, {containerPort: 1, protocol: ICMP}]}]
status: {podIP: 10.0.0.300, podIPs: [{ip: "fd00::1"}, {ip: nope}]}`,
			[]string{"spec.initContainers[0].ports[0].name: Invalid value", "spec.containers[0].ports[0].containerPort: Invalid value", "spec.containers[0].ports[1].protocol: Unsupported value", "status.podIP: Invalid value", "status.podIPs[1].ip: Invalid value"}},
		{"node addresses that policies match must be IPs", "Node", `
metadata: {name: n}
status: {addresses: [{type: InternalIP, address: 10.0.0.1}, {type: Hostname, address: n}, {type: ExternalIP, address: n.example}]}`,
			[]string{"status.addresses[2].address: Invalid value"}},
		{"namespace names are DNS labels", "Namespace", `
metadata: {name: a.b}`,
			[]string{"metadata.name: Invalid value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := validate(t, tc.kind, tc.manifest)
			if got := summary(errs); !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q\n%v", got, tc.want, errs.ToAggregate())
			}
		})
	}
}

func TestTooManyRules(t *testing.T) {
	o := &v1alpha1.AdminNetworkPolicy{}
	o.Name = "big"
	o.Spec.Subject.Namespaces = &metav1.LabelSelector{}
	for range maxANPRules + 1 {
		o.Spec.Ingress = append(o.Spec.Ingress, v1alpha1.AdminNetworkPolicyIngressRule{Action: "Deny", From: []v1alpha1.AdminNetworkPolicyIngressPeer{{Namespaces: &metav1.LabelSelector{}}}})
	}
	if got := summary(AdminNetworkPolicy(o)); !slices.Equal(got, []string{"spec.ingress: Too many"}) {
		t.Errorf("got %q", got)
	}
}
