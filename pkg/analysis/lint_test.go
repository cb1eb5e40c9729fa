package analysis

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/policy"
)

func compileYAML(t *testing.T, docs ...string) *policy.Engine {
	t.Helper()
	c, err := loader.LoadBytes("test.yaml", []byte(strings.Join(docs, "\n---\n")), loader.Options{})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	e, err := policy.Compile(c)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return e
}

// pod writes a pod manifest: labels as "k=v,k=v", ports as "name:number/PROTO".
func pod(ns, name, lbls string, ports ...string) string {
	var l []string
	for _, kv := range strings.Split(lbls, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			l = append(l, fmt.Sprintf("%s: %q", k, v))
		}
	}
	var ps []string
	for _, p := range ports {
		n, rest, _ := strings.Cut(p, ":")
		num, proto, ok := strings.Cut(rest, "/")
		if !ok {
			proto = "TCP"
		}
		ps = append(ps, fmt.Sprintf("{name: %s, containerPort: %s, protocol: %s}", n, num, proto))
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: %s, labels: {%s}}
spec:
  containers: [{name: c, image: x, ports: [%s]}]`, name, ns, strings.Join(l, ", "), strings.Join(ps, ", "))
}

func podIP(ns, name, lbls, ip string) string {
	return pod(ns, name, lbls) + "\nstatus: {podIP: " + ip + "}"
}

// replica is a running pod of Deployment shop/web, as a live cluster shows it.
func replica(name string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: shop
  labels: {app: web, pod-template-hash: 5d8f9c7b6}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d8f9c7b6, uid: u1, controller: true}]
spec:
  containers: [{name: c, image: x}]`, name)
}

func namespace(name, lbls string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s, labels: {%s}}", name, strings.ReplaceAll(lbls, "=", ": "))
}

func netpol(ns, name, spec string) string {
	return fmt.Sprintf("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: %s, namespace: %s}\nspec:\n%s", name, ns, indent(spec))
}

func anp(name, spec string) string {
	return fmt.Sprintf("apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: %s}\nspec:\n%s", name, indent(spec))
}

func banp(spec string) string {
	return fmt.Sprintf("apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec:\n%s", indent(spec))
}

func indent(s string) string {
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	return strings.Join(lines, "\n")
}

const (
	denyAll   = "podSelector: {}\npolicyTypes: [Ingress, Egress]"
	allowDNS  = "podSelector: {}\npolicyTypes: [Egress]\negress:\n- to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]\n  ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]"
	kubeDNS   = "kube-system"
	dnsLabels = "k8s-app=kube-dns"
)

// closedNS is a namespace with a default deny and DNS allowed, so that a case can look at
// one rule without the isolation rules reporting.
func closedNS(ns string) []string {
	return []string{netpol(ns, "default-deny", denyAll), netpol(ns, "allow-dns", allowDNS), pod(kubeDNS, "coredns", dnsLabels, "dns:53/UDP", "dns-tcp:53/TCP")}
}

// docs flattens documents and groups of documents, dropping repeats (two closedNS share
// the DNS pod).
func docs(groups ...any) []string {
	var out []string
	add := func(d string) {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	for _, g := range groups {
		switch v := g.(type) {
		case string:
			add(v)
		case []string:
			for _, d := range v {
				add(d)
			}
		}
	}
	return out
}

// key prints a finding as the tests compare it.
func key(f Finding) string {
	s := fmt.Sprintf("%s %s %s", f.Rule, f.Severity, f.Object)
	if f.Field != "" {
		s += " " + f.Field
	}
	return s
}

func TestLintRules(t *testing.T) {
	cases := []struct {
		name string
		docs []string
		// rules are the IDs the case is about; want is exactly what those rules report.
		rules []string
		want  []string
		// hint, when set, must appear in the hint of the first wanted finding; message in
		// its message.
		hint, message string
	}{
		// NW101/NW102: namespace default-deny.
		{
			name: "a namespace with pods and no policy lacks a default deny in both directions",
			docs: docs(pod("shop", "web", "app=web")), rules: []string{"NW101", "NW102"},
			want: []string{"NW101 warning Namespace/shop", "NW102 warning Namespace/shop"},
		},
		{
			name: "an empty podSelector isolating both directions is a default deny",
			docs: docs(pod("shop", "web", "app=web"), netpol("shop", "deny", denyAll)), rules: []string{"NW101", "NW102"},
		},
		{
			name: "an empty podSelector with default policyTypes only isolates ingress",
			docs: docs(pod("shop", "web", "app=web"), netpol("shop", "deny", "podSelector: {}")), rules: []string{"NW101", "NW102"},
			want: []string{"NW102 warning Namespace/shop"},
		},
		{
			name: "a default deny with allow rules still isolates every pod",
			docs: docs(pod("shop", "web", "app=web"), netpol("shop", "same-ns", "podSelector: {}\ningress: [{from: [{podSelector: {}}]}]")), rules: []string{"NW101"},
		},
		{
			name: "a policy for some pods is not a namespace default deny",
			docs: docs(pod("shop", "web", "app=web"), netpol("shop", "web", "podSelector: {matchLabels: {app: web}}\npolicyTypes: [Ingress, Egress]")), rules: []string{"NW101", "NW102"},
			want: []string{"NW101 warning Namespace/shop", "NW102 warning Namespace/shop"},
		},
		{
			name: "a baseline deny from all namespaces is an ingress default deny",
			docs: docs(pod("shop", "web", "app=web"), banp("subject: {namespaces: {}}\ningress: [{name: deny, action: Deny, from: [{namespaces: {}}]}]")), rules: []string{"NW101", "NW102"},
			want: []string{"NW102 warning Namespace/shop"},
		},
		{
			name: "a baseline deny from some namespaces is not a default deny",
			docs: docs(pod("shop", "web", "app=web"), banp("subject: {namespaces: {}}\ningress: [{name: deny, action: Deny, from: [{namespaces: {matchLabels: {env: prod}}}]}]")), rules: []string{"NW101"},
			want: []string{"NW101 warning Namespace/shop"},
		},
		{
			name: "an admin egress deny to all pods but not to all addresses is not an egress default deny",
			docs: docs(pod("shop", "web", "app=web"), anp("a", "priority: 5\nsubject: {namespaces: {}}\negress: [{name: deny, action: Deny, to: [{namespaces: {}}]}]")), rules: []string{"NW102"},
			want: []string{"NW102 warning Namespace/shop"},
		},
		{
			name: "an admin egress deny to all pods and 0.0.0.0/0 is an egress default deny",
			docs: docs(pod("shop", "web", "app=web"), anp("a", "priority: 5\nsubject: {namespaces: {}}\negress: [{name: deny, action: Deny, to: [{namespaces: {}}, {networks: [0.0.0.0/0]}]}]")), rules: []string{"NW102"},
		},
		{
			name: "an admin deny whose subject is only some pods of the namespace is not a default deny",
			docs: docs(pod("shop", "web", "app=web"), anp("a", "priority: 5\nsubject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}\ningress: [{name: deny, action: Deny, from: [{namespaces: {}}]}]")), rules: []string{"NW101"},
			want: []string{"NW101 warning Namespace/shop"},
		},
		{
			name:  "system namespaces and namespaces with only hostNetwork pods are not checked",
			docs:  docs(pod(kubeDNS, "coredns", dnsLabels), "apiVersion: v1\nkind: Pod\nmetadata: {name: agent, namespace: infra}\nspec: {hostNetwork: true, containers: [{name: c, image: x}]}"),
			rules: []string{"NW101", "NW102", "NW103", "NW104"},
		},
		// NW103/NW104: unprotected pods.
		{
			name: "a pod no policy selects is unprotected in both directions",
			docs: docs(pod("shop", "web", "app=web"), pod("shop", "db", "app=db"), netpol("shop", "db", "podSelector: {matchLabels: {app: db}}")), rules: []string{"NW103", "NW104"},
			want: []string{"NW103 info Pod shop/web", "NW104 info Pod shop/db", "NW104 info Pod shop/web"},
		},
		{
			name: "a pod selected by an admin policy with egress rules is protected for egress only",
			docs: docs(pod("shop", "web", "app=web"), anp("a", "priority: 5\nsubject: {namespaces: {}}\negress: [{name: deny, action: Deny, to: [{namespaces: {matchLabels: {env: prod}}}]}]")), rules: []string{"NW103", "NW104"},
			want: []string{"NW103 info Pod shop/web"},
		},
		// NW201: subject selects nothing.
		{
			name: "a podSelector with a misspelt value suggests the existing value",
			docs: docs(closedNS("shop"), pod("shop", "backend", "app=backend"), netpol("shop", "p", "podSelector: {matchLabels: {app: bakend}}")), rules: []string{"NW201"},
			want: []string{"NW201 warning NetworkPolicy shop/p spec.podSelector"}, hint: "did you mean app=backend?",
		},
		{
			name: "a subject with a misspelt key suggests the existing key",
			docs: docs(closedNS("shop"), pod("shop", "backend", "app=backend"), anp("a", "priority: 3\nsubject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {ap: backend}}}}\ningress: [{name: x, action: Deny, from: [{namespaces: {}}]}]")), rules: []string{"NW201"},
			want: []string{"NW201 warning AdminNetworkPolicy/a spec.subject"}, hint: `did you mean "app"?`,
		},
		{
			name: "a policy that selects pods is not reported",
			docs: docs(closedNS("shop"), pod("shop", "backend", "app=backend"), netpol("shop", "p", "podSelector: {matchLabels: {app: backend}}")), rules: []string{"NW201"},
		},
		// NW202: peer matches nothing.
		{
			name: "a peer with a misspelt value suggests the existing value",
			docs: docs(closedNS("shop"), pod("shop", "db", "app=db"), pod("shop", "backend", "app=backend"),
				netpol("shop", "db", "podSelector: {matchLabels: {app: db}}\ningress: [{from: [{podSelector: {matchLabels: {app: backnd}}}]}]")),
			rules: []string{"NW202"}, want: []string{"NW202 warning NetworkPolicy shop/db spec.ingress[0].from[0]"}, hint: "did you mean app=backend?",
		},
		{
			name: "a peer podSelector matching pods only in another namespace hints a namespaceSelector",
			docs: docs(closedNS("shop"), closedNS("monitoring"), pod("shop", "db", "app=db"), pod("monitoring", "prom", "app=prometheus"),
				netpol("shop", "db", "podSelector: {matchLabels: {app: db}}\ningress: [{from: [{podSelector: {matchLabels: {app: prometheus}}}]}]")),
			rules: []string{"NW202"}, want: []string{"NW202 warning NetworkPolicy shop/db spec.ingress[0].from[0]"}, hint: "exist in monitoring; to select them, add a namespaceSelector",
		},
		{
			name: "a namespaceSelector matching no namespace suggests the nearest namespace label",
			docs: docs(closedNS("shop"), namespace("monitoring", "purpose=monitoring"), pod("shop", "db", "app=db"), pod("monitoring", "prom", "app=prometheus"),
				netpol("shop", "db", "podSelector: {matchLabels: {app: db}}\ningress: [{from: [{namespaceSelector: {matchLabels: {purpose: monitorng}}}]}]")),
			rules: []string{"NW202"}, want: []string{"NW202 warning NetworkPolicy shop/db spec.ingress[0].from[0]"}, hint: "did you mean purpose=monitoring?",
		},
		{
			name: "a whole namespace that exists but has no pods in the input is info",
			docs: docs(closedNS("shop"), namespace("monitoring", "purpose=monitoring"), pod("shop", "db", "app=db"),
				netpol("shop", "db", "podSelector: {matchLabels: {app: db}}\ningress: [{from: [{namespaceSelector: {matchLabels: {purpose: monitoring}}}]}]")),
			rules: []string{"NW202"}, want: []string{"NW202 info NetworkPolicy shop/db spec.ingress[0].from[0]"},
		},
		{
			name: "peers that match pods, and ipBlocks, are not reported",
			docs: docs(closedNS("shop"), pod("shop", "db", "app=db"), pod("shop", "api", "app=api"),
				netpol("shop", "db", "podSelector: {matchLabels: {app: db}}\ningress: [{from: [{podSelector: {matchLabels: {app: api}}}, {ipBlock: {cidr: 192.0.2.0/24}}]}]")),
			rules: []string{"NW202"},
		},
		// NW301: shadowed admin rules.
		{
			name: "an admin Allow after a Deny that covers it never matches (warning)",
			docs: docs(closedNS("shop"), pod("shop", "db", "app=db"), namespace("ops", "team=ops"), pod("ops", "admin", "app=admin"),
				anp("protect", "priority: 1\nsubject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}\ningress:\n- {name: deny-all, action: Deny, from: [{namespaces: {}}]}\n- {name: allow-ops, action: Allow, from: [{namespaces: {matchLabels: {team: ops}}}], ports: [{portNumber: {protocol: TCP, port: 22}}]}")),
			rules: []string{"NW301"}, want: []string{"NW301 warning AdminNetworkPolicy/protect spec.ingress[1]"},
		},
		{
			name: "an admin rule after a broader rule with the same action is info",
			docs: docs(closedNS("shop"), pod("shop", "db", "app=db"),
				anp("protect", "priority: 1\nsubject: {namespaces: {}}\ningress:\n- {name: a, action: Deny, from: [{namespaces: {}}], ports: [{portRange: {protocol: TCP, start: 1, end: 1000}}]}\n- {name: b, action: Deny, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: db}}}}], ports: [{portNumber: {protocol: TCP, port: 22}}]}")),
			rules: []string{"NW301"}, want: []string{"NW301 info AdminNetworkPolicy/protect spec.ingress[1]"},
		},
		{
			name: "a narrower rule before a broader one, or another protocol, is not shadowed",
			docs: docs(closedNS("shop"), pod("shop", "db", "app=db"),
				anp("protect", "priority: 1\nsubject: {namespaces: {}}\ningress:\n- {name: a, action: Allow, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: db}}}}], ports: [{portNumber: {protocol: TCP, port: 22}}]}\n- {name: b, action: Deny, from: [{namespaces: {}}], ports: [{portNumber: {protocol: TCP, port: 22}}]}\n- {name: c, action: Deny, from: [{namespaces: {}}], ports: [{portNumber: {protocol: UDP, port: 22}}]}")),
			rules: []string{"NW301"},
		},
		{
			name: "a rule of a later admin policy whose subject an earlier policy covers is shadowed",
			docs: docs(closedNS("shop"), pod("shop", "db", "app=db"),
				anp("first", "priority: 1\nsubject: {namespaces: {}}\ningress: [{name: deny-all, action: Deny, from: [{namespaces: {}}]}]"),
				anp("second", "priority: 2\nsubject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}\ningress: [{name: allow, action: Allow, from: [{namespaces: {}}], ports: [{portNumber: {protocol: TCP, port: 80}}]}]")),
			rules: []string{"NW301"}, want: []string{"NW301 warning AdminNetworkPolicy/second spec.ingress[0]"},
		},
		{
			name: "a later admin policy is not shadowed when the earlier one selects fewer pods",
			docs: docs(closedNS("shop"), pod("shop", "db", "app=db"),
				anp("first", "priority: 1\nsubject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}\ningress: [{name: deny-all, action: Deny, from: [{namespaces: {}}]}]"),
				anp("second", "priority: 2\nsubject: {namespaces: {}}\ningress: [{name: allow, action: Allow, from: [{namespaces: {}}]}]")),
			rules: []string{"NW301"},
		},
		// NW302: redundant NetworkPolicy rules.
		{
			name: "a rule covered by a policy for all pods of the namespace is redundant",
			docs: docs(closedNS("shop"), pod("shop", "web", "app=web"), pod("shop", "api", "app=api"),
				netpol("shop", "all-from-api", "podSelector: {}\ningress: [{from: [{podSelector: {matchLabels: {app: api}}}]}]"),
				netpol("shop", "web", "podSelector: {matchLabels: {app: web}}\ningress: [{from: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: 80}]}]")),
			rules: []string{"NW302"}, want: []string{"NW302 info NetworkPolicy shop/web spec.ingress[0]"},
		},
		{
			name: "of two identical rules in two policies for the same pods only the later is reported",
			docs: docs(closedNS("shop"), pod("shop", "web", "app=web"), pod("shop", "api", "app=api"),
				netpol("shop", "a", "podSelector: {matchLabels: {app: web}}\ningress: [{from: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: 80}]}, {ports: [{port: 8080}]}]"),
				netpol("shop", "b", "podSelector: {matchLabels: {app: web}}\ningress: [{from: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: 80}]}]")),
			rules: []string{"NW302", "NW303"}, want: []string{"NW302 info NetworkPolicy shop/b spec.ingress[0]"},
		},
		{
			name: "rules with an extra port, a broader peer, or for other pods are not redundant",
			docs: docs(closedNS("shop"), pod("shop", "web", "app=web"), pod("shop", "api", "app=api,tier=back"),
				netpol("shop", "a", "podSelector: {matchLabels: {app: web}}\ningress: [{from: [{podSelector: {matchLabels: {app: api, tier: back}}}], ports: [{port: 80}]}]"),
				netpol("shop", "b", "podSelector: {matchLabels: {app: web}}\ningress: [{from: [{podSelector: {matchLabels: {app: api, tier: back}}}], ports: [{port: 80}, {port: 81}]}, {from: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: 80}]}]"),
				netpol("shop", "c", "podSelector: {}\ningress: [{from: [{podSelector: {matchLabels: {tier: back}}}], ports: [{port: 90}]}]"),
				netpol("shop", "d", "podSelector: {matchLabels: {app: web}}\ningress: [{from: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: 90}, {port: 91}]}]")),
			rules: []string{"NW302"}, want: []string{"NW302 info NetworkPolicy shop/a spec.ingress[0]"},
		},
		{
			name: "an ipBlock inside another rule's ipBlock, port range inside a range, is redundant",
			docs: docs(closedNS("shop"), pod("shop", "web", "app=web"),
				netpol("shop", "a", "podSelector: {}\npolicyTypes: [Egress]\negress: [{to: [{ipBlock: {cidr: 192.0.2.0/24}}], ports: [{port: 1000, endPort: 2000}]}]"),
				netpol("shop", "b", "podSelector: {matchLabels: {app: web}}\npolicyTypes: [Egress]\negress: [{to: [{ipBlock: {cidr: 192.0.2.128/25}}], ports: [{port: 1500}]}, {to: [{ipBlock: {cidr: 192.0.0.0/16, except: [192.0.2.0/24]}}], ports: [{port: 1500}]}]")),
			rules: []string{"NW302"}, want: []string{"NW302 info NetworkPolicy shop/b spec.egress[0]"},
		},
		// NW303: duplicate policies.
		{
			name: "two NetworkPolicies with the same spec in one namespace are duplicates, not redundant rules",
			docs: docs(closedNS("shop"), pod("shop", "web", "app=web"),
				netpol("shop", "a", "podSelector: {matchLabels: {app: web}}\ningress: [{ports: [{port: 80}]}]"),
				netpol("shop", "b", "podSelector: {matchLabels: {app: web}}\ningress: [{ports: [{port: 80}]}]")),
			rules: []string{"NW302", "NW303"}, want: []string{"NW303 warning NetworkPolicy shop/b spec"},
		},
		{
			name: "the same spec in two namespaces is not a duplicate",
			docs: docs(closedNS("a"), closedNS("b"), pod("a", "web", "app=web"), pod("b", "web", "app=web"),
				netpol("a", "p", "podSelector: {matchLabels: {app: web}}\ningress: [{ports: [{port: 80}]}]"),
				netpol("b", "p", "podSelector: {matchLabels: {app: web}}\ningress: [{ports: [{port: 80}]}]")),
			rules: []string{"NW303"},
		},
		// NW401: DNS.
		{
			name: "egress isolation with other allowances but no DNS blocks DNS (warning)",
			docs: docs(pod(kubeDNS, "coredns", dnsLabels), pod("shop", "web", "app=web"), pod("shop", "api", "app=api"),
				netpol("shop", "web", "podSelector: {matchLabels: {app: web}}\npolicyTypes: [Egress]\negress: [{to: [{podSelector: {matchLabels: {app: api}}}]}]")),
			rules: []string{"NW401"}, want: []string{"NW401 warning Pod shop/web"},
		},
		{
			name: "egress allowing the cluster DNS on 53/UDP and 53/TCP is fine",
			docs: docs(closedNS("shop"), pod("shop", "web", "app=web")), rules: []string{"NW401"},
		},
		{
			name: "DNS on 53/UDP only is info",
			docs: docs(pod(kubeDNS, "coredns", dnsLabels), pod("shop", "web", "app=web"),
				netpol("shop", "web", "podSelector: {}\npolicyTypes: [Egress]\negress: [{to: [{namespaceSelector: {}, podSelector: {matchLabels: {k8s-app: kube-dns}}}], ports: [{protocol: UDP, port: 53}]}]")),
			rules: []string{"NW401"}, want: []string{"NW401 info Pod shop/web"},
		},
		{
			name:  "a pod allowed no egress at all is info",
			docs:  docs(pod(kubeDNS, "coredns", dnsLabels), pod("shop", "web", "app=web"), netpol("shop", "deny", denyAll)),
			rules: []string{"NW401"}, want: []string{"NW401 info Pod shop/web"},
		},
		{
			name: "without kube-dns pods any destination on 53 is enough",
			docs: docs(pod("shop", "web", "app=web"),
				netpol("shop", "web", "podSelector: {}\npolicyTypes: [Egress]\negress: [{to: [{ipBlock: {cidr: 192.0.2.53/32}}], ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]")),
			rules: []string{"NW401"},
		},
		{
			name: "an admin Allow to the cluster DNS counts over a NetworkPolicy default deny",
			docs: docs(pod(kubeDNS, "coredns", dnsLabels), pod("shop", "web", "app=web"), netpol("shop", "deny", denyAll),
				anp("dns", "priority: 1\nsubject: {namespaces: {}}\negress: [{name: dns, action: Allow, to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {k8s-app: kube-dns}}}}], ports: [{portNumber: {protocol: UDP, port: 53}}, {portNumber: {protocol: TCP, port: 53}}]}]")),
			rules: []string{"NW401"},
		},
		{
			name:  "pods that are not egress-isolated are not checked",
			docs:  docs(pod(kubeDNS, "coredns", dnsLabels), pod("shop", "web", "app=web"), netpol("shop", "in", "podSelector: {}")),
			rules: []string{"NW401"},
		},
		// NW501: ipBlock covering pods.
		{
			name: "an ipBlock containing a pod address is reported",
			docs: docs(closedNS("shop"), podIP("shop", "web", "app=web", "10.244.1.5"), podIP("shop", "api", "app=api", "10.244.2.5"),
				netpol("shop", "web", "podSelector: {matchLabels: {app: web}}\ningress: [{from: [{ipBlock: {cidr: 10.244.0.0/16}}]}]")),
			rules: []string{"NW501"}, want: []string{"NW501 warning NetworkPolicy shop/web spec.ingress[0].from[0].ipBlock"},
		},
		{
			name: "an ipBlock whose except removes the pod network is fine",
			docs: docs(closedNS("shop"), podIP("shop", "web", "app=web", "10.244.1.5"),
				netpol("shop", "web", "podSelector: {matchLabels: {app: web}}\npolicyTypes: [Egress]\negress: [{to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]}]")),
			rules: []string{"NW501"},
		},
		{
			name: "an ipBlock overlapping a node's podCIDR is reported even without pod addresses",
			docs: docs(closedNS("shop"), pod("shop", "web", "app=web"), "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nspec: {podCIDR: 10.244.1.0/24, podCIDRs: [10.244.1.0/24]}",
				netpol("shop", "web", "podSelector: {matchLabels: {app: web}}\npolicyTypes: [Egress]\negress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}}]}]")),
			rules: []string{"NW501"}, want: []string{"NW501 warning NetworkPolicy shop/web spec.egress[0].to[0].ipBlock"},
		},
		{
			name: "admin networks peers are defined to match pods and are not reported",
			docs: docs(closedNS("shop"), podIP("shop", "web", "app=web", "10.244.1.5"),
				anp("a", "priority: 1\nsubject: {namespaces: {}}\negress: [{name: x, action: Deny, to: [{networks: [10.0.0.0/8]}]}]")),
			rules: []string{"NW501"},
		},
		// NW601: same priority.
		{
			name: "admin policies sharing a priority with overlapping subjects are reported",
			docs: docs(closedNS("shop"), pod("shop", "web", "app=web"),
				anp("a", "priority: 7\nsubject: {namespaces: {}}\ningress: [{name: x, action: Deny, from: [{namespaces: {matchLabels: {env: prod}}}]}]"),
				anp("b", "priority: 7\nsubject: {namespaces: {}}\ningress: [{name: x, action: Allow, from: [{namespaces: {matchLabels: {env: dev}}}]}]"),
				anp("c", "priority: 8\nsubject: {namespaces: {}}\ningress: [{name: x, action: Allow, from: [{namespaces: {matchLabels: {env: test}}}]}]")),
			rules: []string{"NW601"}, want: []string{"NW601 warning AdminNetworkPolicy/a spec.priority"},
		},
		// NW701: named ports.
		{
			name: "an ingress named port that the selected pods do not declare is reported with the nearest name",
			docs: docs(closedNS("shop"), pod("shop", "db", "app=db", "postgres:5432"), pod("shop", "api", "app=api"),
				netpol("shop", "db", "podSelector: {matchLabels: {app: db}}\ningress: [{from: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: postgre}]}]")),
			rules: []string{"NW701"}, want: []string{"NW701 warning NetworkPolicy shop/db spec.ingress[0].ports[0]"}, hint: `did you mean "postgres"?`,
		},
		{
			name: "a named port declared with another protocol is reported",
			docs: docs(closedNS("shop"), pod("shop", "syslog", "app=syslog", "syslog:514/UDP"),
				netpol("shop", "s", "podSelector: {matchLabels: {app: syslog}}\ningress: [{ports: [{port: syslog}]}]")),
			rules: []string{"NW701"}, want: []string{"NW701 warning NetworkPolicy shop/s spec.ingress[0].ports[0]"}, hint: "use the protocol",
		},
		{
			name: "egress named ports resolve on the peers, ingress ones on the policy's pods",
			docs: docs(closedNS("shop"), pod("shop", "web", "app=web", "http:8080"), pod("shop", "api", "app=api", "api:9000"),
				netpol("shop", "web", "podSelector: {matchLabels: {app: web}}\npolicyTypes: [Ingress, Egress]\ningress: [{ports: [{port: http}]}]\negress: [{to: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: api}]}]"),
				netpol("shop", "wrong", "podSelector: {matchLabels: {app: web}}\npolicyTypes: [Egress]\negress: [{to: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: http}]}]")),
			rules: []string{"NW701"}, want: []string{"NW701 warning NetworkPolicy shop/wrong spec.egress[0].ports[0]"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Lint(compileYAML(t, tc.docs...), LintOptions{SkipNamespaces: DefaultSkipNamespaces})
			var got []string
			var first *Finding
			for i, f := range r.Findings {
				if slices.Contains(tc.rules, f.Rule) {
					got = append(got, key(f))
					if first == nil {
						first = &r.Findings[i]
					}
				}
			}
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("findings of %v:\n got  %q\n want %q\nall:\n%s", tc.rules, got, want, dump(r))
			}
			if tc.hint != "" && (first == nil || !strings.Contains(first.Hint, tc.hint)) {
				t.Fatalf("hint %q does not contain %q", first.Hint, tc.hint)
			}
			if tc.message != "" && (first == nil || !strings.Contains(first.Message, tc.message)) {
				t.Fatalf("message %q does not contain %q", first.Message, tc.message)
			}
		})
	}
}

func dump(r *LintReport) string {
	var b strings.Builder
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "  %s: %s (fix: %s)\n", key(f), f.Message, f.Hint)
	}
	return b.String()
}

// The loader refuses endPort on a named port, so the finding is pinned on a cluster built
// in memory, as a live cluster with a laxer API server could deliver it.
func TestLintEndPortOnNamedPort(t *testing.T) {
	c, err := loader.LoadBytes("t.yaml", []byte(strings.Join(docs(closedNS("shop"), pod("shop", "web", "app=web", "http:8080"),
		netpol("shop", "web", "podSelector: {matchLabels: {app: web}}\ningress: [{ports: [{port: http}]}]")), "\n---\n")), loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, np := range c.NetworkPolicies {
		if np.Name == "web" {
			end := int32(9000)
			np.Spec.Ingress[0].Ports[0].EndPort = &end
		}
	}
	e, err := policy.Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	r := Lint(e, LintOptions{})
	var got []string
	for _, f := range r.Findings {
		if f.Rule == "NW702" {
			got = append(got, key(f))
		}
	}
	want := []string{"NW702 error NetworkPolicy shop/web spec.ingress[0].ports[0].endPort"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if m, _ := r.Max(); m != SeverityError {
		t.Fatalf("max severity %s, want error", m)
	}
}

// A cluster written the way the rules recommend has no finding at all.
func TestLintCleanClusterHasNoFindings(t *testing.T) {
	c, err := loader.Load([]string{"testdata/lint/clean.yaml"}, loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := policy.Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	if r := Lint(e, LintOptions{SkipNamespaces: DefaultSkipNamespaces}); len(r.Findings) > 0 {
		t.Fatalf("findings on a clean cluster:\n%s", dump(r))
	}
}

// Every example is a correct configuration: lint may report what it leaves open (warnings,
// info) but never an error, and no finding may point at a rule that works as written.
func TestLintExamplesHaveNoErrors(t *testing.T) {
	dirs, _ := filepath.Glob("../../examples/*")
	if len(dirs) == 0 {
		t.Skip("no examples")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c, err := loader.Load([]string{dir}, loader.Options{})
			if err != nil {
				t.Fatal(err)
			}
			e, err := policy.Compile(c)
			if err != nil {
				t.Fatal(err)
			}
			r := Lint(e, LintOptions{SkipNamespaces: DefaultSkipNamespaces})
			for _, f := range r.Findings {
				switch f.Rule {
				case "NW101", "NW102", "NW103", "NW104", "NW401":
					// What the example leaves open on purpose.
				default:
					t.Errorf("unexpected finding %s: %s", key(f), f.Message)
				}
				if f.Severity == SeverityError {
					t.Errorf("error finding %s", key(f))
				}
			}
		})
	}
}

func TestLintRulesAreStable(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range LintRules {
		if seen[r.ID] || seen[r.Name] {
			t.Errorf("duplicate rule %s %s", r.ID, r.Name)
		}
		seen[r.ID], seen[r.Name] = true, true
		if !strings.HasPrefix(r.ID, "NW") || r.Summary == "" || r.Help == "" {
			t.Errorf("rule %s lacks an ID, summary or help", r.ID)
		}
	}
}

func TestEditDistanceAndNearest(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"app", "ap", 1}, {"backend", "bakend", 1}, {"kitten", "sitting", 3}, {"wbe", "web", 1}, {"ab", "ba", 1}} {
		if got := editDistance(tc.a, tc.b); got != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
	}
	if got := nearest("fronted", []string{"backend", "frontend"}); got != "frontend" {
		t.Errorf("nearest = %q", got)
	}
	if got := nearest("db", []string{"backend", "frontend"}); got != "" {
		t.Errorf("nearest of an unrelated value = %q, want none", got)
	}
}
