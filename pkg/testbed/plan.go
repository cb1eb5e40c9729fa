package testbed

import (
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/netwarden/netwarden/pkg/model"
)

// PlanOptions choose the shape of the emulated cluster.
type PlanOptions struct {
	Mode Mode
	// Nodes is the least number of nodes; pods that name a node (spec.nodeName) and Node
	// objects add more. 0 means 1.
	Nodes int
	// Families are the pods' IP families: {4} (the default), {6} or {4, 6}.
	Families []int
	// KeepAddresses keeps the addresses pods and nodes already have in the input (status
	// podIPs, node InternalIPs), so policies written for them (ipBlocks) keep their
	// meaning; only missing addresses are assigned. Without it every address is assigned.
	// With it, Families defaults to the families the pods' addresses have.
	KeepAddresses bool
}

// Plan places the cluster's pods on emulated nodes and gives them addresses, writing
// both into the cluster (spec.nodeName, status.podIP(s), and a Node object per node with
// its fabric address) so that the evaluator, compiled afterwards, sees exactly the
// addresses real packets will carry. Pods keep the node they name; the others are spread
// round robin. The cluster must be normalized; call policy.Compile after Plan. Pods get
// no ports here: the caller decides what each serves.
func Plan(c *model.Cluster, opts PlanOptions) (*Spec, error) {
	fams := opts.Families
	if opts.KeepAddresses && len(fams) == 0 {
		for _, p := range c.Pods {
			for _, ip := range inputPodIPs(p) {
				if !slices.Contains(fams, family(ip)) {
					fams = append(fams, family(ip))
				}
			}
		}
	}
	fams = families(fams)
	mode := opts.Mode
	if mode == "" {
		mode = Routed
	}
	s := &Spec{Mode: mode, Families: fams}
	index := map[string]int{}
	addNode := func(name string) int {
		if i, ok := index[name]; ok {
			return i
		}
		index[name] = len(s.Nodes)
		s.Nodes = append(s.Nodes, Node{Name: name})
		return len(s.Nodes) - 1
	}
	for _, n := range c.Nodes {
		addNode(n.Name)
	}
	for _, p := range c.Pods {
		if p.Spec.NodeName != "" {
			addNode(p.Spec.NodeName)
		}
	}
	for k := len(s.Nodes); k < max(opts.Nodes, 1); k++ {
		name := fmt.Sprintf("node-%d", k)
		for _, taken := index[name]; taken; _, taken = index[name] {
			name += "x"
		}
		addNode(name)
	}
	if len(s.Nodes) > maxNodes {
		return nil, fmt.Errorf("testbed: %d nodes; the address plan holds at most %d", len(s.Nodes), maxNodes)
	}
	// used holds every address taken, so assigned ones never collide with kept ones.
	used := map[netip.Addr]bool{}
	kept := map[string][]netip.Addr{}
	if opts.KeepAddresses {
		for _, n := range c.Nodes {
			for _, a := range n.Status.Addresses {
				if ip, err := netip.ParseAddr(a.Address); err == nil && a.Type == corev1.NodeInternalIP {
					kept[n.Name] = append(kept[n.Name], ip.Unmap())
				}
			}
		}
		for _, p := range c.Pods {
			if !p.Spec.HostNetwork {
				for _, ip := range inputPodIPs(p) {
					used[ip] = true
				}
			}
		}
	}
	for i := range s.Nodes {
		n := &s.Nodes[i]
		for _, f := range fams {
			n.PodCIDRs = append(n.PodCIDRs, podCIDR(i, f))
			ip, ok := addressFor(kept[n.Name], f)
			if !ok || used[ip] {
				ip = nodeAddr(i, f)
			}
			used[ip] = true
			n.IPs = append(n.IPs, ip)
		}
	}
	// Pods on each node take addresses from 2 up (1 is the gateway).
	next := make([]int, len(s.Nodes))
	assign := func(node, f int) (netip.Addr, error) {
		for next[node] < maxPodsPerNode {
			ip := podAddr(node, next[node]+2, f)
			if !used[ip] {
				used[ip] = true
				return ip, nil
			}
			next[node]++
		}
		return netip.Addr{}, fmt.Errorf("testbed: more than %d pods on node %s", maxPodsPerNode, s.Nodes[node].Name)
	}
	rr := 0
	for _, p := range c.Pods {
		node := -1
		if p.Spec.NodeName != "" {
			node = index[p.Spec.NodeName]
		} else {
			node = rr % len(s.Nodes)
			rr++
			p.Spec.NodeName = s.Nodes[node].Name
		}
		pod := Pod{Key: p.Namespace + "/" + p.Name, Node: node, HostNetwork: p.Spec.HostNetwork}
		if pod.HostNetwork {
			pod.IPs = slices.Clone(s.Nodes[node].IPs)
		} else {
			var have []netip.Addr
			if opts.KeepAddresses {
				have = inputPodIPs(p)
			}
			for _, f := range fams {
				ip, ok := addressFor(have, f)
				if !ok {
					var err error
					if ip, err = assign(node, f); err != nil {
						return nil, err
					}
				}
				pod.IPs = append(pod.IPs, ip)
			}
			next[node]++
		}
		setPodIPs(p, pod.IPs)
		s.Pods = append(s.Pods, pod)
	}
	writeNodes(c, s)
	return s, nil
}

// inputPodIPs are the addresses a pod's status gives, IPv4-mapped ones unmapped.
func inputPodIPs(p *corev1.Pod) []netip.Addr {
	var out []netip.Addr
	add := func(s string) {
		if ip, err := netip.ParseAddr(s); err == nil && !slices.Contains(out, ip.Unmap()) {
			out = append(out, ip.Unmap())
		}
	}
	add(p.Status.PodIP)
	for _, ip := range p.Status.PodIPs {
		add(ip.IP)
	}
	return out
}

func setPodIPs(p *corev1.Pod, ips []netip.Addr) {
	p.Status.PodIP = ""
	p.Status.PodIPs = nil
	p.Status.HostIP = ""
	if len(ips) == 0 {
		return
	}
	p.Status.PodIP = ips[0].String()
	for _, ip := range ips {
		p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: ip.String()})
	}
}

// writeNodes gives every node object the testbed's addresses (keeping its labels), adding
// objects for nodes the input did not declare, so node peers and hostNetwork pods are
// decided on the addresses packets carry.
func writeNodes(c *model.Cluster, s *Spec) {
	have := map[string]*corev1.Node{}
	for _, n := range c.Nodes {
		have[n.Name] = n
	}
	for _, n := range s.Nodes {
		obj, ok := have[n.Name]
		if !ok {
			obj = &corev1.Node{}
			obj.APIVersion, obj.Kind = "v1", model.KindNode
			obj.Name = n.Name
			c.Nodes = append(c.Nodes, obj)
		}
		obj.Status.Addresses = nil
		for _, ip := range n.IPs {
			obj.Status.Addresses = append(obj.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip.String()})
		}
	}
	slices.SortFunc(c.Nodes, func(a, b *corev1.Node) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
}
