package policy

import (
	"net/netip"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/netwarden/netwarden/pkg/model"
)

// Policy is one compiled policy object of any kind.
type Policy struct {
	Index    int
	Ref      model.Ref
	Tier     Tier
	Priority int32 // admin and baseline policies; 0 for NetworkPolicies
	// Subject describes the selected pods in words ("pods app=db in namespace prod").
	Subject string
	Ingress []Rule
	Egress  []Rule
	// Audit policies (annotation netwarden.io/mode: audit) are evaluated and reported but
	// not enforced: they take part only in the WithAudit view.
	Audit bool

	affects   [2]bool
	subject   bitset
	kindOrder int
}

// AuditAnnotation marks a policy of any kind as staged: "audit" means evaluate and log
// what it would do, but do not enforce it. Any other value, or none, means enforce.
const AuditAnnotation = model.ModeAnnotation

// View chooses which policies a decision considers.
type View uint8

const (
	// Enforced: the policies the dataplane enforces (audit policies left out).
	Enforced View = iota
	// WithAudit: as if audit policies were enforced too; what a rollout would change.
	WithAudit
)

func (v View) String() string {
	if v == WithAudit {
		return "with-audit"
	}
	return "enforced"
}

func isAudit(annotations map[string]string) bool { return model.IsAudit(annotations) }

// Affects reports whether the policy takes part in decisions for direction d. For a
// NetworkPolicy that is its policyTypes (selected pods become isolated in d); for admin
// kinds it is whether it has rules in d.
func (p *Policy) Affects(d Direction) bool { return p.affects[d] }

// Rules returns the rules for direction d, in order.
func (p *Policy) Rules(d Direction) []Rule {
	if d == Ingress {
		return p.Ingress
	}
	return p.Egress
}

// SelectsIdentity reports whether the policy's subject includes pods of identity id.
func (p *Policy) SelectsIdentity(id int32) bool { return p.subject.has(id) }

// Rule is one compiled rule.
type Rule struct {
	Index  int
	Name   string // admin kinds' rule name; "" otherwise
	Action Action
	// AnyPeer: the rule matches every source or destination (a NetworkPolicy rule with no
	// from/to, or a fail-closed Deny/Pass rule with an unreadable peer, compiled as Deny).
	AnyPeer bool
	Peers   []Peer
	// AnyPort: the rule has no ports or protocols and matches every protocol, ICMP included.
	AnyPort bool
	Ports   []PortMatch
}

// PeerKind says what a peer matches on.
type PeerKind uint8

const (
	// PeerPods matches pods by namespace and pod labels; never hostNetwork pods.
	PeerPods PeerKind = iota
	// PeerIPBlock matches addresses in CIDR but not in Except (NetworkPolicy ipBlock).
	PeerIPBlock
	// PeerNetworks matches addresses in any of Networks (admin kinds).
	PeerNetworks
	// PeerNodes matches the addresses of selected nodes and hostNetwork pods on them.
	PeerNodes
	// PeerDomains names domains; an address-level analysis cannot match them.
	PeerDomains
	// PeerNone matches nothing (a fail-closed Accept rule with an unreadable peer).
	PeerNone
)

// Peer is one compiled peer of a rule.
type Peer struct {
	Kind PeerKind
	// Text describes the peer in words for explanations.
	Text string

	// PeerPods
	NamespaceSelector labels.Selector // nil: only the policy's own namespace
	PodSelector       labels.Selector // nil: every pod
	pods              bitset

	// PeerIPBlock
	CIDR   netip.Prefix
	Except []netip.Prefix

	// PeerNetworks
	Networks []netip.Prefix

	// PeerNodes
	NodeSelector labels.Selector
	Nodes        []string // names of the selected nodes
	nodeIPs      map[netip.Addr]struct{}
	nodeNames    map[string]struct{}

	// PeerDomains
	Domains []string
}

// MatchesIdentity reports whether a PeerPods peer selects pods of identity id.
func (p *Peer) MatchesIdentity(id int32) bool { return p.Kind == PeerPods && p.pods.has(id) }

// MatchesIP reports whether an address-based peer (ipBlock, networks, nodes) matches ip.
func (p *Peer) MatchesIP(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	switch p.Kind {
	case PeerIPBlock:
		if !p.CIDR.Contains(ip) {
			return false
		}
		for _, x := range p.Except {
			if x.Contains(ip) {
				return false
			}
		}
		return true
	case PeerNetworks:
		for _, n := range p.Networks {
			if n.Contains(ip) {
				return true
			}
		}
	case PeerNodes:
		_, ok := p.nodeIPs[ip]
		return ok
	}
	return false
}

// PortMatch is one port clause. Named ports are resolved against the destination pod's
// container ports when a connection is decided.
type PortMatch struct {
	// Proto is the protocol; 0 means any protocol (an admin namedPort, whose protocol
	// is the container port's).
	Proto  Proto
	Lo, Hi uint16
	Named  string
}

// String prints the clause as a person writes it ("80/TCP", "8000-9000/TCP", "http/TCP").
func (m PortMatch) String() string {
	proto := "/" + m.Proto.String()
	if m.Proto == 0 {
		proto = ""
	}
	switch {
	case m.Named != "":
		return m.Named + proto
	case m.Lo == 0 && m.Hi == 65535:
		return "all ports" + proto
	case m.Lo == m.Hi:
		return Port{Proto: m.Proto, Num: m.Lo}.String()
	}
	return itoa(int(m.Lo)) + "-" + itoa(int(m.Hi)) + proto
}
