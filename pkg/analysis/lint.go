package analysis

import (
	"fmt"
	"sort"
	"strings"

	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// Severity orders findings; --fail-on gates on it.
type Severity uint8

// Severities, in increasing order.
const (
	SeverityInfo Severity = iota
	SeverityWarning
	SeverityError
)

func (s Severity) String() string {
	switch s {
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	}
	return "info"
}

// MarshalText writes the severity's name, so JSON shows "error", not a number.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ParseSeverity reads error, warning or info.
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(s) {
	case "error":
		return SeverityError, nil
	case "warning":
		return SeverityWarning, nil
	case "info":
		return SeverityInfo, nil
	}
	return 0, fmt.Errorf("unknown severity %q (want error, warning or info)", s)
}

// LintRule describes one check. IDs are stable: scripts, SARIF consumers and suppression
// lists refer to them, so a rule is never renumbered, only retired.
type LintRule struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Severity Severity `json:"severity"` // the default; a finding may be milder (see Finding)
	Summary  string   `json:"summary"`
	Help     string   `json:"help"`
}

// The rules. Severities are chosen so that a cluster following the usual practice
// (default-deny per namespace in both directions, DNS allowed, specific allows) has no
// error and no warning: errors are for policies that are invalid or certainly broken,
// warnings for what is very likely a mistake, info for facts worth knowing.
var (
	RuleNoDefaultDenyIngress = LintRule{"NW101", "no-default-deny-ingress", SeverityWarning,
		"Namespace has pods but no default-deny for ingress",
		"Without a policy that isolates every pod of a namespace, a new pod is open to every source until someone writes a policy for it."}
	RuleNoDefaultDenyEgress = LintRule{"NW102", "no-default-deny-egress", SeverityWarning,
		"Namespace has pods but no default-deny for egress",
		"Without a policy that isolates every pod of a namespace for egress, a compromised pod can reach anything."}
	RuleUnprotectedIngress = LintRule{"NW103", "unprotected-pod-ingress", SeverityInfo,
		"No policy of any tier selects the pod for ingress",
		"The pod accepts connections from everywhere (the Kubernetes default)."}
	RuleUnprotectedEgress = LintRule{"NW104", "unprotected-pod-egress", SeverityInfo,
		"No policy of any tier selects the pod for egress",
		"The pod may connect anywhere (the Kubernetes default)."}
	RuleEmptySubject = LintRule{"NW201", "selects-no-pod", SeverityWarning,
		"The policy's podSelector or subject matches no pod",
		"A policy that selects nothing has no effect; a misspelt label key or value is the usual cause."}
	RuleEmptyPeer = LintRule{"NW202", "peer-matches-nothing", SeverityWarning,
		"A peer selector matches no pod, namespace or node",
		"A peer that matches nothing allows (or denies) nothing; a misspelt label, or a podSelector that was meant to be combined with a namespaceSelector, is the usual cause."}
	RuleShadowedRule = LintRule{"NW301", "shadowed-rule", SeverityWarning,
		"An admin or baseline rule can never match: an earlier rule covers its peers and ports",
		"The first matching rule decides in admin and baseline tiers, so a rule after one that covers it never changes a verdict. Move it up, narrow the earlier rule, or delete it."}
	RuleRedundantRule = LintRule{"NW302", "redundant-rule", SeverityInfo,
		"A NetworkPolicy rule allows nothing that another rule for the same pods does not already allow",
		"NetworkPolicy rules add up, so a rule covered by another can be deleted without changing any verdict."}
	RuleDuplicatePolicy = LintRule{"NW303", "duplicate-policy", SeverityWarning,
		"Two policies have the same spec",
		"One of them can be deleted; keeping both invites them drifting apart."}
	RuleDNSBlocked = LintRule{"NW401", "egress-blocks-dns", SeverityWarning,
		"Egress isolation blocks DNS",
		"A pod restricted for egress needs an allowance to the cluster DNS on 53/UDP and 53/TCP, or it cannot resolve any name; forgetting it is the most common way an egress policy breaks an application."}
	RuleIPBlockCoversPods = LintRule{"NW501", "ipblock-covers-pods", SeverityWarning,
		"A NetworkPolicy ipBlock covers pod addresses",
		"Whether ipBlock matches traffic to or from pods is implementation-defined (NAT, overlays and CNIs differ). Select in-cluster peers with podSelector/namespaceSelector, and put the pod network in except."}
	RuleSamePriority = LintRule{"NW601", "same-priority-overlap", SeverityWarning,
		"Admin policies of one tier share a priority and select some of the same pods",
		"The API leaves their order undefined, so implementations may disagree. Give them distinct priorities."}
	RuleApproximated = LintRule{"NW602", "not-decidable", SeverityInfo,
		"Part of a policy cannot be decided from addresses and is approximated",
		"netwarden reads domain names as matching no address and unknown fields fail-closed; its verdicts for these rules are an approximation."}
	RuleNamedPortUndeclared = LintRule{"NW701", "named-port-undeclared", SeverityWarning,
		"No destination pod declares the named port",
		"Named ports resolve on the destination pod's container ports (name and protocol); if no destination declares it, the clause matches nothing."}
	RuleEndPortNamed = LintRule{"NW702", "endport-on-named-port", SeverityError,
		"endPort is set on a named port",
		"The API server rejects endPort with a named port; a range needs a numeric port."}
)

// LintRules lists every rule, in ID order.
var LintRules = []LintRule{
	RuleNoDefaultDenyIngress, RuleNoDefaultDenyEgress, RuleUnprotectedIngress, RuleUnprotectedEgress,
	RuleEmptySubject, RuleEmptyPeer,
	RuleShadowedRule, RuleRedundantRule, RuleDuplicatePolicy,
	RuleDNSBlocked,
	RuleIPBlockCoversPods,
	RuleSamePriority, RuleApproximated,
	RuleNamedPortUndeclared, RuleEndPortNamed,
}

// ObjectRef names an object in findings and diffs.
type ObjectRef struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

func refOf(r model.Ref) ObjectRef {
	return ObjectRef{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
}

func (r ObjectRef) String() string {
	return model.Ref{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}.String()
}

// Location is where an object was read from: a manifest file and the 0-based document
// (and List item) in it.
type Location struct {
	File     string `json:"file"`
	Document int    `json:"document"`
	Item     *int   `json:"item,omitempty"`
}

// Finding is one problem found by lint.
type Finding struct {
	Rule     string    `json:"rule"` // the stable ID, "NW101"
	Name     string    `json:"name"` // the rule's name, "no-default-deny-ingress"
	Severity Severity  `json:"severity"`
	Object   ObjectRef `json:"object"`
	// Field is the path inside Object ("spec.ingress[0].from[1]"), or "" for the whole object.
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	// Hint says how to fix it.
	Hint string `json:"hint,omitempty"`
	// Location is where Object was read from; nil for objects from a live cluster.
	Location *Location `json:"location,omitempty"`
	// Related are other objects the finding is about (the covering policy, the duplicate).
	Related []ObjectRef `json:"related,omitempty"`
}

// LintReport is the result of Lint.
type LintReport struct {
	Findings []Finding `json:"findings"`
	Counts   struct {
		Error   int `json:"error"`
		Warning int `json:"warning"`
		Info    int `json:"info"`
	} `json:"counts"`
}

// Max is the highest severity found, and whether there is any finding.
func (r *LintReport) Max() (Severity, bool) {
	var m Severity
	for _, f := range r.Findings {
		m = max(m, f.Severity)
	}
	return m, len(r.Findings) > 0
}

// LintOptions tune Lint.
type LintOptions struct {
	// SkipNamespaces are left out of the per-namespace and per-pod isolation checks
	// (NW101-NW104, NW401): the system namespaces are run by the platform, whose own
	// components often cannot be isolated.
	SkipNamespaces []string
}

// DefaultSkipNamespaces are the namespaces Kubernetes itself creates and runs.
var DefaultSkipNamespaces = []string{"kube-system", "kube-public", "kube-node-lease"}

// Lint runs every rule over a compiled cluster. Findings come sorted by severity (highest
// first), then rule, object and field, so output is stable.
func Lint(e *policy.Engine, opts LintOptions) *LintReport {
	l := &linter{e: e, c: e.Cluster, skip: map[string]bool{}}
	for _, ns := range opts.SkipNamespaces {
		l.skip[ns] = true
	}
	l.isolation()
	l.selectors()
	l.shadowing()
	l.duplicates()
	l.dns()
	l.ipBlocks()
	l.engineWarnings()
	l.ports()

	r := &LintReport{Findings: l.findings}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		if as, bs := a.Object.String(), b.Object.String(); as != bs {
			return as < bs
		}
		return a.Field < b.Field
	})
	for _, f := range r.Findings {
		switch f.Severity {
		case SeverityError:
			r.Counts.Error++
		case SeverityWarning:
			r.Counts.Warning++
		default:
			r.Counts.Info++
		}
	}
	return r
}

type linter struct {
	e        *policy.Engine
	c        *model.Cluster
	skip     map[string]bool
	findings []Finding
	pv       []polView
	dups     map[int]int
}

// report adds a finding with the rule's default severity.
func (l *linter) report(rule LintRule, obj model.Ref, field, msg, hint string, related ...model.Ref) {
	l.reportAt(rule, rule.Severity, obj, field, msg, hint, related...)
}

func (l *linter) reportAt(rule LintRule, sev Severity, obj model.Ref, field, msg, hint string, related ...model.Ref) {
	l.reportLoc(rule, sev, obj, obj, field, msg, hint, related...)
}

// reportLoc is reportAt for a finding located by another object's source.
func (l *linter) reportLoc(rule LintRule, sev Severity, obj, loc model.Ref, field, msg, hint string, related ...model.Ref) {
	f := Finding{Rule: rule.ID, Name: rule.Name, Severity: sev, Object: refOf(obj), Field: field, Message: msg, Hint: hint}
	if src, ok := l.c.Sources[loc]; ok && src.File != "" {
		loc := &Location{File: src.File, Document: src.Doc}
		if src.Item >= 0 {
			item := src.Item
			loc.Item = &item
		}
		f.Location = loc
	}
	for _, r := range related {
		f.Related = append(f.Related, refOf(r))
	}
	l.findings = append(l.findings, f)
}
