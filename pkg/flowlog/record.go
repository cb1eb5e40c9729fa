package flowlog

import (
	"time"

	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// Record is one flow line. Its JSON shape is an interface (README "Interfaces",
// docs/flows.md): field names stay; new fields may be added; empty fields are left out.
type Record struct {
	Time time.Time `json:"time"`
	// Node is the node whose agent logged the packet.
	Node string `json:"node,omitempty"`
	// Verdict is what the kernel did: "deny" or "allow". An audit policy never changes
	// it; Audit says what it would do.
	Verdict string `json:"verdict"`
	// Direction is the check that decided: "egress" at the source pod, "ingress" at the
	// destination pod.
	Direction string `json:"direction"`
	// Protocol is "TCP", "UDP", "SCTP", "ICMP", "ICMPv6", or the protocol number.
	Protocol string `json:"protocol"`
	// Port is the destination port (TCP, UDP, SCTP).
	Port uint16 `json:"port,omitempty"`
	// ICMP is the type and code of an ICMP or ICMPv6 packet.
	ICMP *ICMP    `json:"icmp,omitempty"`
	Src  Endpoint `json:"src"`
	Dst  Endpoint `json:"dst"`
	// Tier is what decided: "admin", "networkpolicy", "baseline" or "default".
	Tier string `json:"tier,omitempty"`
	// Policy is the policy that decided; for isolation, the first isolating one.
	Policy *PolicyRef `json:"policy,omitempty"`
	// Rule is the rule's index in the policy's rules of Direction; RuleName its name
	// (admin kinds). Both are absent for isolation and the default.
	Rule     *int   `json:"rule,omitempty"`
	RuleName string `json:"ruleName,omitempty"`
	// IsolatedBy lists every NetworkPolicy isolating the pod when isolation denied.
	IsolatedBy []PolicyRef `json:"isolatedBy,omitempty"`
	// Reason is the decision in words.
	Reason string `json:"reason"`
	// Audit is what the audit (staged) policies would do, when it differs.
	Audit *Audit `json:"audit,omitempty"`
	// Stale: the policies in force now decide this packet otherwise than the kernel did
	// (they changed between the packet and its reading). Verdict stays the kernel's.
	Stale bool `json:"stale,omitempty"`
}

// ICMP is an ICMP message's type and code.
type ICMP struct {
	Type uint8 `json:"type"`
	Code uint8 `json:"code"`
}

// Endpoint is one end of a flow: an address, and what it belongs to when known.
type Endpoint struct {
	IP string `json:"ip"`
	// Pod is "namespace/name" of the pod owning the address; Namespace its namespace.
	Pod       string `json:"pod,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	// Node names the node when the address is a node's (or a hostNetwork pod's).
	Node string `json:"node,omitempty"`
}

// String is the endpoint as people read it: the pod, "node/NAME", or the address.
func (e Endpoint) String() string {
	switch {
	case e.Pod != "":
		return e.Pod
	case e.Node != "":
		return "node/" + e.Node
	}
	return e.IP
}

// PolicyRef names a policy object.
type PolicyRef struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

func refOf(r model.Ref) PolicyRef {
	return PolicyRef{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
}

// String is "Kind name" or "Kind namespace/name".
func (r PolicyRef) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// Audit is what the audit view (audit policies enforced too) decides for the record's
// direction, when it differs from the kernel's verdict.
type Audit struct {
	// Verdict is what the audit view would do: "deny" or "allow".
	Verdict  string     `json:"verdict"`
	Tier     string     `json:"tier,omitempty"`
	Policy   *PolicyRef `json:"policy,omitempty"`
	Rule     *int       `json:"rule,omitempty"`
	RuleName string     `json:"ruleName,omitempty"`
	Reason   string     `json:"reason"`
}

// Verdicts and tiers as written in records.
const (
	VerdictDeny  = "deny"
	VerdictAllow = "allow"
)

func tierName(t policy.Tier) string {
	switch t {
	case policy.TierAdmin:
		return "admin"
	case policy.TierNetworkPolicy:
		return "networkpolicy"
	case policy.TierBaseline:
		return "baseline"
	}
	return "default"
}
