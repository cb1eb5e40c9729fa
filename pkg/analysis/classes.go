package analysis

import (
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/netwarden/netwarden/pkg/policy"
)

// Classes partitions the pods of an engine into equivalence classes: pods that no pod
// selector, ipBlock, network, node peer or named port can tell apart. Any two distinct pods
// a, b and any two distinct pods a', b' with a~a' and b~b' get the same verdict on every
// port, so pairwise questions are answered once per class pair and expanded for output.
//
// What makes two pods equal (everything Engine.Decide looks at):
//   - the identity (namespace + labels), which decides selection and pod peers;
//   - hostNetwork and, for hostNetwork pods, the node (node peers match them by name);
//   - the address peers (ipBlock with except, networks, nodes) that the pod's first
//     address, first IPv4 and first IPv6 address fall in, and the family of the first
//     address (PodPair picks the source address by the destination's family);
//   - the named container ports (named port clauses resolve on the destination);
//   - the node, when some pod is hostNetwork or has a node's address (a pod and its own
//     node may always talk past NetworkPolicies), and which nodes' own addresses the
//     pod's addresses are;
//   - optionally the declared container ports, which decide what matrix probes.
type Classes struct {
	// Of is the class of each pod (indexed like Engine.Pods).
	Of []int32
	// Members lists the pods of each class in ascending order. Classes are numbered in
	// order of their first pod.
	Members [][]int32
}

// ClassOptions tune PodClasses.
type ClassOptions struct {
	// DeclaredPorts also separates pods by the container ports they declare, for callers
	// (matrix without --port) whose probes depend on them.
	DeclaredPorts bool
}

// Len is the number of classes.
func (c *Classes) Len() int { return len(c.Members) }

// PodClasses computes the classes of e's pods.
func PodClasses(e *policy.Engine, opts ClassOptions) *Classes {
	c, _ := classify(e, opts, false)
	return c
}

// podFeatures are the per-pod facts classes are made of, kept for the direction tables.
type podFeatures struct {
	// sigs[pod][slot] lists the address peers (as "i,j,") that the pod's first address
	// (slot 0), first IPv4 (slot 1) and first IPv6 address (slot 2) fall in.
	sigs [][3]string
	// slot[pod] is the slot of the pod's first address: 0 none, 1 IPv4, 2 IPv6. A
	// connection to the pod uses the source's address of that slot (PodPair).
	slot []uint8
	// named[pod] is the pod's named container ports, sorted, as a string.
	named []string
	// byNode: a pod's node can change a verdict. The engine lets a pod and its own node
	// talk past NetworkPolicies, so when some pod is hostNetwork or has an address of a
	// node, pods are told apart by node too (unless the caller handles nodes itself).
	byNode bool
	// node[pod] numbers the pod's node (-1: none). owners[pod][slot] are the nodes to
	// which the pod, as a peer using that slot's address, is "own node": its node if it is
	// hostNetwork, else the nodes whose host addresses include that address.
	node   []int32
	owners [][3][]int32
}

// ownNode reports whether the engine's own-node rule holds between subject and peer,
// the peer using its address of slot: subject is an ordinary pod on a node, and peer is
// that node (its address, or a hostNetwork pod on it).
func (f *podFeatures) ownNode(e *policy.Engine, subject, peer int32, slot uint8) bool {
	n := f.node[subject]
	if n < 0 || e.Pods[subject].Ident < 0 {
		return false
	}
	for _, o := range f.owners[peer][slot] {
		if o == n {
			return true
		}
	}
	return false
}

// classify computes the classes and the features they are made of. With ignoreNodes,
// pods are not told apart by node even when the own-node rule could apply: the caller
// then checks ownNode per pair (ComputeClassMatrix).
func classify(e *policy.Engine, opts ClassOptions, ignoreNodes bool) (*Classes, *podFeatures) {
	peers := addressPeers(e)
	fams := [3]int{0, 4, 6}
	f := &podFeatures{sigs: make([][3]string, len(e.Pods)), slot: make([]uint8, len(e.Pods)), named: make([]string, len(e.Pods)),
		node: make([]int32, len(e.Pods)), owners: make([][3][]int32, len(e.Pods))}
	// The nodes each address is "own node" to (a node's addresses and its hostNetwork
	// pods'), for the engine's own-node rule.
	ownNode := map[netip.Addr][]string{}
	nodes := map[string]bool{}
	for _, n := range e.Cluster.Nodes {
		nodes[n.Name] = true
	}
	for _, p := range e.Pods {
		if p.Pod.Spec.NodeName != "" {
			nodes[p.Pod.Spec.NodeName] = true
		}
		if p.HostNetwork && p.Pod.Spec.NodeName != "" {
			f.byNode = true
		}
	}
	nodeID := map[string]int32{}
	for _, n := range slices.Sorted(maps.Keys(nodes)) {
		nodeID[n] = int32(len(nodeID))
		for _, ip := range e.HostAddrs(n) {
			if own := ownNode[ip]; len(own) == 0 || own[len(own)-1] != n {
				ownNode[ip] = append(own, n)
			}
		}
	}
	var b strings.Builder
	var sig []int32
	for i := range e.Pods {
		p := &e.Pods[i]
		f.node[i] = -1
		if id, ok := nodeID[p.Pod.Spec.NodeName]; ok && p.Pod.Spec.NodeName != "" {
			f.node[i] = id
		}
		for s, fam := range fams {
			ip := e.PodEndpoint(int32(i), fam).IP
			switch {
			case p.HostNetwork:
				if f.node[i] >= 0 {
					f.owners[i][s] = []int32{f.node[i]}
				}
			default:
				for _, n := range ownNode[ip] {
					f.owners[i][s] = append(f.owners[i][s], nodeID[n])
				}
			}
			sig = peers.matching(ip, sig[:0])
			b.Reset()
			for _, x := range sig {
				b.WriteString(strconv.Itoa(int(x)))
				b.WriteByte(',')
			}
			if own := ownNode[ip]; len(own) > 0 {
				f.byNode = true
				b.WriteString("own:")
				b.WriteString(strings.Join(own, ","))
			}
			f.sigs[i][s] = b.String()
		}
		switch first := e.PodEndpoint(int32(i), 0).IP; {
		case !first.IsValid():
		case first.Is4():
			f.slot[i] = 1
		default:
			f.slot[i] = 2
		}
		f.named[i] = namedPortsKey(e.Pods[i].NamedPorts)
	}
	// A destination's address family only picks which source address is used; two
	// families are interchangeable when every pod's signature is the same for both, as in
	// a single-stack cluster or one whose address peers match no pod.
	slotClass := [3]int{0, 1, 2}
	for s := 1; s < 3; s++ {
		for t := 0; t < s; t++ {
			same := true
			for i := range f.sigs {
				if f.sigs[i][s] != f.sigs[i][t] {
					same = false
					break
				}
			}
			if same {
				slotClass[s] = slotClass[t]
				break
			}
		}
	}
	c := &Classes{Of: make([]int32, len(e.Pods))}
	index := map[string]int32{}
	for i := range e.Pods {
		pod := int32(i)
		p := &e.Pods[i]
		b.Reset()
		b.WriteString(strconv.Itoa(int(p.Ident)))
		if p.HostNetwork {
			b.WriteString("|h|")
			b.WriteString(p.Pod.Spec.NodeName)
		}
		if f.byNode && !ignoreNodes {
			b.WriteString("|N:")
			b.WriteString(p.Pod.Spec.NodeName)
		}
		b.WriteString("|f")
		b.WriteString(strconv.Itoa(slotClass[f.slot[i]]))
		for _, s := range f.sigs[i] {
			b.WriteByte('|')
			b.WriteString(s)
		}
		b.WriteString("|n")
		b.WriteString(f.named[i])
		if opts.DeclaredPorts {
			b.WriteString("|d")
			declared := policy.DeclaredPorts(p.Pod)
			SortPorts(declared)
			for _, pt := range declared {
				b.WriteString(pt.String())
				b.WriteByte(',')
			}
		}
		key := b.String()
		id, ok := index[key]
		if !ok {
			id = int32(len(c.Members))
			index[key] = id
			c.Members = append(c.Members, nil)
		}
		c.Of[i] = id
		c.Members[id] = append(c.Members[id], pod)
	}
	return c, f
}

func namedPortsKey(ports []policy.NamedPort) string {
	if len(ports) == 0 {
		return ""
	}
	named := slices.Clone(ports)
	slices.SortFunc(named, func(x, y policy.NamedPort) int {
		if c := strings.Compare(x.Name, y.Name); c != 0 {
			return c
		}
		if x.Proto != y.Proto {
			return int(x.Proto) - int(y.Proto)
		}
		return int(x.Num) - int(y.Num)
	})
	var b strings.Builder
	for _, np := range named {
		b.WriteString(np.Name)
		b.WriteByte('/')
		b.WriteString(strconv.Itoa(int(np.Proto)))
		b.WriteByte('/')
		b.WriteString(strconv.Itoa(int(np.Num)))
		b.WriteByte(',')
	}
	return b.String()
}

// peerSet is the distinct address-based peers of every rule of every policy.
type peerSet struct {
	peers []*policy.Peer
}

func addressPeers(e *policy.Engine) *peerSet {
	ps := &peerSet{}
	seen := map[string]bool{}
	var b strings.Builder
	for _, pol := range e.Policies {
		for _, rules := range [2][]policy.Rule{pol.Ingress, pol.Egress} {
			for ri := range rules {
				for pi := range rules[ri].Peers {
					p := &rules[ri].Peers[pi]
					if p.Kind != policy.PeerIPBlock && p.Kind != policy.PeerNetworks && p.Kind != policy.PeerNodes {
						continue
					}
					b.Reset()
					b.WriteString(strconv.Itoa(int(p.Kind)))
					b.WriteByte('|')
					b.WriteString(p.CIDR.String())
					for _, x := range p.Except {
						b.WriteByte(',')
						b.WriteString(x.String())
					}
					for _, n := range p.Networks {
						b.WriteByte(';')
						b.WriteString(n.String())
					}
					for _, n := range p.Nodes {
						b.WriteByte('#')
						b.WriteString(n)
					}
					if k := b.String(); !seen[k] {
						seen[k] = true
						ps.peers = append(ps.peers, p)
					}
				}
			}
		}
	}
	return ps
}

// matching appends to out the indices of the peers that match ip.
func (ps *peerSet) matching(ip netip.Addr, out []int32) []int32 {
	if !ip.IsValid() {
		return out
	}
	for i, p := range ps.peers {
		if p.MatchesIP(ip) {
			out = append(out, int32(i))
		}
	}
	return out
}
