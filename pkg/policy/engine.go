package policy

import (
	"net/netip"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/netwarden/netwarden/pkg/model"
)

// Engine is a compiled cluster: the pods, the policies as flat match tables, and for each
// group of pods with the same namespace and labels (an identity) the policies that select
// it, per direction and tier, in evaluation order. It is immutable after Compile and safe
// for concurrent use.
type Engine struct {
	Cluster  *model.Cluster
	Pods     []PodInfo
	Policies []*Policy
	// Warnings are facts about the input that change how results must be read, such as
	// admin policies whose order the API leaves undefined.
	Warnings []Warning

	namespaces []nsInfo
	nsIndex    map[string]int32
	idents     []identity
	// selecting[view][dir][tier][ident] lists the policies (indices into Policies) that
	// select pods of that identity for that direction, in evaluation order. The Enforced
	// view leaves audit policies out; the WithAudit view has them all.
	selecting [2][2][3][][]int32
	// HasAudit reports whether any policy is in audit mode.
	HasAudit bool
	byKey    map[string]int32
	byIP     map[netip.Addr]int32
	nodeIPs  map[string][]netip.Addr
	// hostAddrs holds, per node, its addresses and those of its hostNetwork pods: what a
	// pod on that node sees as "its own node".
	hostAddrs map[string][]netip.Addr
}

// PodInfo is what the core needs of one pod.
type PodInfo struct {
	Pod *corev1.Pod
	// Key is "namespace/name".
	Key string
	// Ident is the pod's identity; -1 for hostNetwork pods, which no pod selector selects.
	Ident       int32
	IPs         []netip.Addr
	HostNetwork bool
	NamedPorts  []NamedPort
}

// NamedPort is a container port with a name, which policies may refer to.
type NamedPort struct {
	Name  string
	Proto Proto
	Num   uint16
}

// Warning is a fact about the input worth telling the user.
type Warning struct {
	Policy  model.Ref
	Related []model.Ref
	Code    string
	Message string
}

type nsInfo struct {
	name   string
	labels labels.Set
}

// identity is a namespace plus a pod label set. Every selector gives the same answer for
// all pods of one identity, so selection is computed per identity, not per pod.
type identity struct {
	ns     int32
	labels labels.Set
}

// Compile builds the engine. The cluster must be normalized (model.Cluster.Normalize).
func Compile(c *model.Cluster) (*Engine, error) { return CompileReusing(nil, c) }

// CompileReusing is Compile, reusing what prev (nil for none) computed about pods,
// namespaces and nodes when c holds exactly prev's: the same objects, unmodified, in the
// same order, as a node agent's snapshots do while only policies change. That work is
// most of a compile at thousands of pods; the two engines then share it, and neither
// writes it.
func CompileReusing(prev *Engine, c *model.Cluster) (*Engine, error) {
	var e *Engine
	if prev != nil && prev.Cluster != nil && sameWorld(prev.Cluster, c) {
		e = &Engine{Cluster: c, Pods: prev.Pods, namespaces: prev.namespaces, nsIndex: prev.nsIndex, idents: prev.idents,
			byKey: prev.byKey, byIP: prev.byIP, nodeIPs: prev.nodeIPs, hostAddrs: prev.hostAddrs}
	} else {
		e = newEngine(c)
	}
	cc := &compiler{e: e}
	if err := cc.compileAll(); err != nil {
		return nil, err
	}
	e.index()
	return e, nil
}

// sameWorld reports whether a and b hold the same pod, namespace and node objects in the
// same order.
func sameWorld(a, b *model.Cluster) bool {
	return slices.Equal(a.Pods, b.Pods) && slices.Equal(a.Namespaces, b.Namespaces) && slices.Equal(a.Nodes, b.Nodes)
}

// newEngine computes the part of an engine that depends on pods, namespaces and nodes
// only.
func newEngine(c *model.Cluster) *Engine {
	e := &Engine{Cluster: c, nsIndex: make(map[string]int32, len(c.Namespaces)), byKey: make(map[string]int32, len(c.Pods)),
		byIP: make(map[netip.Addr]int32, len(c.Pods)), nodeIPs: map[string][]netip.Addr{}}
	e.Pods = slices.Grow(e.Pods, len(c.Pods))
	for i, ns := range c.Namespaces {
		e.namespaces = append(e.namespaces, nsInfo{name: ns.Name, labels: labels.Set(ns.Labels)})
		e.nsIndex[ns.Name] = int32(i)
	}
	for _, n := range c.Nodes {
		for _, a := range n.Status.Addresses {
			if a.Type != corev1.NodeInternalIP && a.Type != corev1.NodeExternalIP {
				continue
			}
			if ip, err := netip.ParseAddr(a.Address); err == nil {
				e.nodeIPs[n.Name] = append(e.nodeIPs[n.Name], ip.Unmap())
			}
		}
	}
	identIndex := map[string]int32{}
	// Every pod's addresses and named ports are cut from two shared arrays rather than
	// allocated one pod at a time (capacity-limited, so an append never reaches a neighbor).
	var ipSlab []netip.Addr
	var portSlab []NamedPort
	for i, p := range c.Pods {
		info := PodInfo{Pod: p, Key: p.Namespace + "/" + p.Name, Ident: -1, HostNetwork: p.Spec.HostNetwork}
		ipSlab, info.IPs = cut(appendPodIPs(ipSlab, p), len(ipSlab), 2*len(c.Pods))
		if info.HostNetwork && len(info.IPs) == 0 {
			info.IPs = e.nodeIPs[p.Spec.NodeName]
		}
		portSlab, info.NamedPorts = cut(appendNamedPorts(portSlab, p), len(portSlab), 2*len(c.Pods))
		if !info.HostNetwork {
			key := identityKey(p.Namespace, p.Labels)
			id, ok := identIndex[key]
			if !ok {
				id = int32(len(e.idents))
				identIndex[key] = id
				e.idents = append(e.idents, identity{ns: e.nsIndex[p.Namespace], labels: labels.Set(p.Labels)})
			}
			info.Ident = id
			for _, ip := range info.IPs {
				e.byIP[ip] = int32(i)
			}
		}
		e.byKey[info.Key] = int32(i)
		e.Pods = append(e.Pods, info)
	}
	e.hostAddrs = map[string][]netip.Addr{}
	for node, ips := range e.nodeIPs {
		e.hostAddrs[node] = append(e.hostAddrs[node], ips...)
	}
	for _, p := range e.Pods {
		if p.HostNetwork && p.Pod.Spec.NodeName != "" {
			e.hostAddrs[p.Pod.Spec.NodeName] = append(e.hostAddrs[p.Pod.Spec.NodeName], p.IPs...)
		}
	}
	return e
}

func identityKey(ns string, l map[string]string) string {
	// Most pods have a handful of labels: sort their keys in a stack array and size the
	// key once, rather than allocating a slice and growing a builder for every pod.
	var buf [16]string
	keys := buf[:0]
	n := len(ns)
	for k, v := range l {
		keys = append(keys, k)
		n += 2 + len(k) + len(v)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.Grow(n)
	b.WriteString(ns)
	for _, k := range keys {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte(1)
		b.WriteString(l[k])
	}
	return b.String()
}

// cut returns slab and its elements from start on, capacity-limited (nil when there are
// none, as a pod without addresses or named ports always had). When slab is full, the
// next one is allocated with room for about size more elements.
func cut[T any](slab []T, start, size int) ([]T, []T) {
	if len(slab) == start {
		return slab, nil
	}
	own := slab[start:len(slab):len(slab)]
	if cap(slab)-len(slab) < 4 { // the next pod's few elements would spill: start a fresh slab
		slab = make([]T, 0, max(size, 16))
	}
	return slab, own
}

// appendPodIPs appends the pod's addresses, each once, to ips. A pod has one or two: a
// linear search beats a map.
func appendPodIPs(ips []netip.Addr, p *corev1.Pod) []netip.Addr {
	start := len(ips)
	add := func(s string) {
		if s == "" {
			return
		}
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return
		}
		ip = ip.Unmap()
		if !slices.Contains(ips[start:], ip) {
			ips = append(ips, ip)
		}
	}
	add(p.Status.PodIP)
	for _, ip := range p.Status.PodIPs {
		add(ip.IP)
	}
	return ips
}

// appendNamedPorts appends the pod's named container ports, init (sidecar) containers
// included, to out.
func appendNamedPorts(out []NamedPort, p *corev1.Pod) []NamedPort {
	for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range cs {
			for _, cp := range c.Ports {
				if cp.Name == "" {
					continue
				}
				out = append(out, NamedPort{Name: cp.Name, Proto: protoOf(cp.Protocol), Num: uint16(cp.ContainerPort)})
			}
		}
	}
	return out
}

// DeclaredPorts lists every container port the pod declares, named or not, in order.
func DeclaredPorts(p *corev1.Pod) []Port {
	var out []Port
	seen := map[Port]bool{}
	for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range cs {
			for _, cp := range c.Ports {
				pt := Port{Proto: protoOf(cp.Protocol), Num: uint16(cp.ContainerPort)}
				if !seen[pt] {
					seen[pt] = true
					out = append(out, pt)
				}
			}
		}
	}
	return out
}

func protoOf(p corev1.Protocol) Proto {
	switch p {
	case corev1.ProtocolUDP:
		return ProtoUDP
	case corev1.ProtocolSCTP:
		return ProtoSCTP
	}
	return ProtoTCP
}

// index fills the per-identity lists of selecting policies, in evaluation order: admin
// and baseline policies by priority (ties by kind, then name, and reported as warnings when
// their subjects overlap); NetworkPolicies by namespace and name (their order cannot
// change a verdict).
func (e *Engine) index() {
	order := make([]*Policy, len(e.Policies))
	copy(order, e.Policies)
	sort.SliceStable(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if a.Tier != b.Tier {
			return a.Tier < b.Tier
		}
		if a.Priority != b.Priority {
			return a.Priority < b.Priority
		}
		if a.kindOrder != b.kindOrder {
			return a.kindOrder < b.kindOrder
		}
		return a.Ref.String() < b.Ref.String()
	})
	for v := range e.selecting {
		for d := range e.selecting[v] {
			for t := range e.selecting[v][d] {
				e.selecting[v][d][t] = make([][]int32, len(e.idents))
			}
		}
	}
	for _, p := range order {
		e.HasAudit = e.HasAudit || p.Audit
		for id := range e.idents {
			if !p.subject.has(int32(id)) {
				continue
			}
			for _, d := range [...]Direction{Egress, Ingress} {
				if !p.Affects(d) {
					continue
				}
				for _, v := range [...]View{Enforced, WithAudit} {
					if v == Enforced && p.Audit {
						continue
					}
					l := &e.selecting[v][d][p.Tier][id]
					*l = append(*l, int32(p.Index))
				}
			}
		}
	}
	// Same-priority admin policies: the API says an implementation may apply them in any
	// order, so say so wherever their subjects overlap.
	for i := 0; i < len(order); i++ {
		for j := i + 1; j < len(order) && order[j].Tier == order[i].Tier && order[j].Priority == order[i].Priority; j++ {
			a, b := order[i], order[j]
			if a.Tier == TierNetworkPolicy || !a.subject.intersects(b.subject) {
				continue
			}
			e.Warnings = append(e.Warnings, Warning{
				Policy: a.Ref, Related: []model.Ref{b.Ref}, Code: "same-priority-overlap",
				Message: a.Ref.String() + " and " + b.Ref.String() + " have the same priority and select some of the same pods; their order is undefined by the API (netwarden applies " + a.Ref.String() + " first)",
			})
		}
	}
}

// PodByKey finds a pod by "namespace/name".
func (e *Engine) PodByKey(key string) (int32, bool) {
	i, ok := e.byKey[key]
	return i, ok
}

// PodByIP finds the (non-hostNetwork) pod that owns an address.
func (e *Engine) PodByIP(ip netip.Addr) (int32, bool) {
	i, ok := e.byIP[ip.Unmap()]
	return i, ok
}

// NodeIPs returns the addresses of a node, as read from its status.
func (e *Engine) NodeIPs(node string) []netip.Addr { return e.nodeIPs[node] }

// HostAddrs returns the addresses a pod on node sees as its own node: the node's
// addresses and those of the hostNetwork pods on it (possibly with repeats).
func (e *Engine) HostAddrs(node string) []netip.Addr { return e.hostAddrs[node] }

// Selecting returns the enforced policies, in evaluation order, that select pod for
// direction d in tier t. HostNetwork pods are selected by none.
func (e *Engine) Selecting(pod int32, d Direction, t Tier) []int32 {
	return e.SelectingIn(Enforced, pod, d, t)
}

// SelectingIn is Selecting for a view: WithAudit includes audit policies.
func (e *Engine) SelectingIn(v View, pod int32, d Direction, t Tier) []int32 {
	id := e.Pods[pod].Ident
	if id < 0 || t > TierBaseline {
		return nil
	}
	return e.selecting[v][d][t][id]
}

// Identity returns the pod's identity number (-1 for hostNetwork pods); pods with the same
// identity are selected by the same selectors.
func (e *Engine) Identity(pod int32) int32 { return e.Pods[pod].Ident }

// IdentityCount is the number of distinct identities.
func (e *Engine) IdentityCount() int { return len(e.idents) }

// PodEndpoint returns an endpoint for a pod, using its first address of the given family
// (4 or 6; 0 for any). Without such an address the endpoint has no IP: pods read from
// manifests have none yet, and then no ipBlock or network peer can match them.
func (e *Engine) PodEndpoint(pod int32, family int) Endpoint {
	for _, ip := range e.Pods[pod].IPs {
		if family == 0 || (family == 4) == ip.Is4() {
			return Endpoint{Pod: pod, IP: ip}
		}
	}
	return Endpoint{Pod: pod}
}

// PodPair returns the endpoints a connection from pod a to pod b uses: the destination's
// first address, and the source's address of the same family.
func (e *Engine) PodPair(a, b int32) (Endpoint, Endpoint) {
	dst := e.PodEndpoint(b, 0)
	family := 0
	if dst.IP.IsValid() {
		family = 6
		if dst.IP.Is4() {
			family = 4
		}
	}
	return e.PodEndpoint(a, family), dst
}
