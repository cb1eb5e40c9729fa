package testbed

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Interface names. Each lives in a namespace of its own kind, so they need only be unique
// there.
const (
	bridgeName = "br0"   // the pod bridge in a node (bridged mode) and the fabric's switch
	uplinkName = "up0"   // a node's link to the fabric
	podIfName  = "eth0"  // a pod's end of its veth
	hostVethFx = "vp%d"  // a node's end of pod i's veth
	fabPortFx  = "fab%d" // the fabric's end of node i's uplink
)

func (tb *Testbed) newSpace(role string) (*space, error) {
	name := tb.Prefix + role
	h, err := createNetns(name)
	if err != nil {
		return nil, err
	}
	s := &space{name: name, ns: h}
	if s.nl, err = netlink.NewHandleAt(h); err != nil {
		return s, fmt.Errorf("netlink in %s: %w", name, err)
	}
	// No duplicate address detection: addresses are usable at once, and they are unique
	// by construction.
	if err := setSysctls(h,
		"net.ipv6.conf.all.accept_dad", "0",
		"net.ipv6.conf.default.accept_dad", "0",
	); err != nil {
		return s, fmt.Errorf("%s: %w", name, err)
	}
	lo, err := s.nl.LinkByName("lo")
	if err == nil {
		err = s.nl.LinkSetUp(lo)
	}
	if err != nil {
		return s, fmt.Errorf("%s: bringing up lo: %w", name, err)
	}
	return s, nil
}

func (tb *Testbed) build(ctx context.Context) error {
	spec := tb.Spec
	tb.nodes = make([]*space, len(spec.Nodes))
	tb.pods = make([]*space, len(spec.Pods))
	if len(spec.Nodes) > 1 {
		fab, err := tb.newSpace("fab")
		if fab != nil {
			tb.fabric = fab
		}
		if err != nil {
			return err
		}
		if _, err := addBridge(fab, bridgeName); err != nil {
			return fmt.Errorf("fabric: %w", err)
		}
	}
	for i := range spec.Nodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := tb.buildNode(i); err != nil {
			return fmt.Errorf("node %s: %w", spec.Nodes[i].Name, err)
		}
	}
	for i := range spec.Pods {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := tb.buildPod(i); err != nil {
			return fmt.Errorf("pod %s: %w", spec.Pods[i].Key, err)
		}
	}
	return tb.routeNodes()
}

func addBridge(s *space, name string) (netlink.Link, error) {
	// Without multicast snooping the bridge floods neighbour solicitations to every port
	// at once; with it, IPv6 neighbour discovery can wait for MLD reports.
	off := false
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}, MulticastSnooping: &off}
	if err := s.nl.LinkAdd(br); err != nil {
		return nil, fmt.Errorf("adding bridge %s: %w", name, err)
	}
	link, err := s.nl.LinkByName(name)
	if err != nil {
		return nil, err
	}
	return link, s.nl.LinkSetUp(link)
}

func addAddr(s *space, link netlink.Link, ip netip.Addr, bits int) error {
	a := &netlink.Addr{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(bits, ip.BitLen())}}
	if ip.Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	if err := s.nl.AddrAdd(link, a); err != nil {
		return fmt.Errorf("adding %s/%d to %s: %w", ip, bits, link.Attrs().Name, err)
	}
	return nil
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func addRoute(s *space, r *netlink.Route) error {
	if err := s.nl.RouteAdd(r); err != nil {
		return fmt.Errorf("adding route %s: %w", r, err)
	}
	return nil
}

func (tb *Testbed) buildNode(i int) error {
	spec := tb.Spec
	n := &spec.Nodes[i]
	s, err := tb.newSpace("n" + strconv.Itoa(i))
	if s != nil {
		tb.nodes[i] = s
	}
	if err != nil {
		return err
	}
	if err := setSysctls(s.ns,
		"net.ipv4.ip_forward", "1",
		"net.ipv6.conf.all.forwarding", "1",
		// Bridge netfilter on for the whole namespace, as kube-proxy and CNIs require.
		"net.bridge.bridge-nf-call-iptables", "1",
		"net.bridge.bridge-nf-call-ip6tables", "1",
	); err != nil {
		return err
	}
	if spec.Mode == Bridged {
		br, err := addBridge(s, bridgeName)
		if err != nil {
			return err
		}
		if err := setBridgeNfCall(s.ns, br); err != nil {
			return err
		}
		for _, f := range spec.Families {
			if err := addAddr(s, br, linkGateway(f), linkGateway(f).BitLen()); err != nil {
				return err
			}
		}
		for _, pr := range n.PodCIDRs {
			if slices.Contains(spec.Families, family(pr.Addr())) {
				if err := addAddr(s, br, bridgeGateway(pr), pr.Bits()); err != nil {
					return err
				}
			}
		}
	}
	// The node's own addresses: on its uplink when there is a fabric, else on lo.
	addrLink, err := s.nl.LinkByName("lo")
	if err != nil {
		return err
	}
	if tb.fabric != nil {
		if addrLink, err = tb.addUplink(i, s); err != nil {
			return err
		}
	}
	for _, f := range spec.Families {
		ip, _ := addressFor(n.IPs, f)
		if err := addAddr(s, addrLink, ip, ip.BitLen()); err != nil {
			return err
		}
	}
	if spec.Mode == Bridged {
		// Traffic the node itself sends to its pods (hostNetwork pods) must come from the
		// node's address, not the bridge's gateway address, as in a real cluster.
		br, err := s.nl.LinkByName(bridgeName)
		if err != nil {
			return err
		}
		for _, pr := range n.PodCIDRs {
			f := family(pr.Addr())
			src, ok := addressFor(n.IPs, f)
			if !ok || !slices.Contains(spec.Families, f) {
				continue
			}
			r := &netlink.Route{LinkIndex: br.Attrs().Index, Dst: prefixNet(pr.Masked()), Scope: netlink.SCOPE_LINK, Src: src.AsSlice(), Protocol: unix.RTPROT_KERNEL}
			if f == 6 {
				r.Priority = 256 // the metric of the kernel's own route, which this replaces
			}
			if err := s.nl.RouteReplace(r); err != nil {
				return fmt.Errorf("setting the source of the route to %s: %w", pr, err)
			}
		}
	}
	return nil
}

func family(ip netip.Addr) int {
	if ip.Is4() {
		return 4
	}
	return 6
}

// addUplink links node i to the fabric bridge: up0 in the node, fabN in the fabric.
func (tb *Testbed) addUplink(i int, s *space) (netlink.Link, error) {
	fabPort := fmt.Sprintf(fabPortFx, i)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: fabPort}, PeerName: uplinkName, PeerNamespace: netlink.NsFd(s.ns)}
	if err := tb.fabric.nl.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("adding uplink: %w", err)
	}
	fp, err := tb.fabric.nl.LinkByName(fabPort)
	if err != nil {
		return nil, err
	}
	fbr, err := tb.fabric.nl.LinkByName(bridgeName)
	if err != nil {
		return nil, err
	}
	if err := tb.fabric.nl.LinkSetMaster(fp, fbr); err != nil {
		return nil, err
	}
	if err := tb.fabric.nl.LinkSetUp(fp); err != nil {
		return nil, err
	}
	up, err := s.nl.LinkByName(uplinkName)
	if err != nil {
		return nil, err
	}
	return up, s.nl.LinkSetUp(up)
}

// routeNodes makes every node reach the other nodes' addresses on the fabric, and every
// pod of another node through that node, with a host route per pod (pod addresses need
// not follow the nodes' ranges).
func (tb *Testbed) routeNodes() error {
	if tb.fabric == nil {
		return nil
	}
	spec := tb.Spec
	for i, s := range tb.nodes {
		up, err := s.nl.LinkByName(uplinkName)
		if err != nil {
			return err
		}
		for j := range spec.Nodes {
			if j == i {
				continue
			}
			for _, f := range spec.Families {
				via, _ := addressFor(spec.Nodes[j].IPs, f)
				if err := addRoute(s, &netlink.Route{LinkIndex: up.Attrs().Index, Dst: hostNet(via), Scope: netlink.SCOPE_LINK}); err != nil {
					return fmt.Errorf("node %s: %w", spec.Nodes[i].Name, err)
				}
			}
		}
		for _, p := range spec.Pods {
			if p.Node == i || p.HostNetwork {
				continue
			}
			for _, f := range spec.Families {
				ip, _ := addressFor(p.IPs, f)
				via, _ := addressFor(spec.Nodes[p.Node].IPs, f)
				if err := addRoute(s, &netlink.Route{LinkIndex: up.Attrs().Index, Dst: hostNet(ip), Gw: via.AsSlice()}); err != nil {
					return fmt.Errorf("node %s: %w", spec.Nodes[i].Name, err)
				}
			}
		}
	}
	return nil
}

func hostNet(ip netip.Addr) *net.IPNet { return prefixNet(netip.PrefixFrom(ip, ip.BitLen())) }

func (tb *Testbed) buildPod(i int) error {
	spec := tb.Spec
	p := spec.Pods[i]
	node := tb.nodes[p.Node]
	n := &spec.Nodes[p.Node]
	if p.HostNetwork {
		tb.pods[i] = node
		return nil
	}
	s, err := tb.newSpace("p" + strconv.Itoa(i))
	if s != nil {
		tb.pods[i] = s
	}
	if err != nil {
		return err
	}
	hostName := fmt.Sprintf(hostVethFx, i)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostName}, PeerName: podIfName, PeerNamespace: netlink.NsFd(s.ns)}
	if err := node.nl.LinkAdd(veth); err != nil {
		return fmt.Errorf("adding veth: %w", err)
	}
	host, err := node.nl.LinkByName(hostName)
	if err != nil {
		return err
	}
	eth, err := s.nl.LinkByName(podIfName)
	if err != nil {
		return err
	}
	// nodeSide is where the node reaches the pod: its veth (routed) or the bridge.
	nodeSide := host
	switch spec.Mode {
	case Routed:
		for _, f := range spec.Families {
			if err := addAddr(node, host, linkGateway(f), linkGateway(f).BitLen()); err != nil {
				return err
			}
		}
	case Bridged:
		br, err := node.nl.LinkByName(bridgeName)
		if err != nil {
			return err
		}
		if err := node.nl.LinkSetMaster(host, br); err != nil {
			return err
		}
		nodeSide = br
	}
	if err := node.nl.LinkSetUp(host); err != nil {
		return err
	}
	for _, f := range spec.Families {
		ip, _ := addressFor(p.IPs, f)
		bits := ip.BitLen()
		// In bridged mode a pod inside the node's range is on the bridge's subnet, so pods
		// of one node talk over the bridge (layer 2); any other pod is a host route.
		if pr, ok := n.podPrefix(ip); ok && spec.Mode == Bridged {
			bits = pr.Bits()
		}
		if err := addAddr(s, eth, ip, bits); err != nil {
			return err
		}
	}
	if err := s.nl.LinkSetUp(eth); err != nil {
		return err
	}
	for _, f := range spec.Families {
		ip, _ := addressFor(p.IPs, f)
		gw := linkGateway(f)
		pr, inRange := n.podPrefix(ip)
		onSubnet := inRange && spec.Mode == Bridged
		if onSubnet {
			gw = bridgeGateway(pr)
		} else {
			// The node reaches the pod by a host route, from the node's own address (so
			// hostNetwork pods are seen with it), and the pod reaches the gateway on link.
			src, _ := addressFor(n.IPs, f)
			if err := addRoute(node, &netlink.Route{LinkIndex: nodeSide.Attrs().Index, Dst: hostNet(ip), Scope: netlink.SCOPE_LINK, Src: src.AsSlice()}); err != nil {
				return err
			}
			if f == 4 {
				if err := addRoute(s, &netlink.Route{LinkIndex: eth.Attrs().Index, Dst: hostNet(gw), Scope: netlink.SCOPE_LINK}); err != nil {
					return err
				}
			}
		}
		def := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if f == 6 {
			def = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		if err := addRoute(s, &netlink.Route{LinkIndex: eth.Attrs().Index, Dst: prefixNet(def), Gw: gw.AsSlice()}); err != nil {
			return err
		}
	}
	return nil
}

// waitLinksUp waits until the kernel reports every veth, and every bridge with ports, as
// operationally up. Until then the link still has the no-op queue that drops every
// packet: the kernel turns links on in a deferred pass that can lag a second behind
// `ip link set up`, and probes sent before it would see losses no rule caused.
func (tb *Testbed) waitLinksUp(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		var down []string
		for _, s := range tb.allSpaces() {
			links, err := s.nl.LinkList()
			if err != nil {
				return fmt.Errorf("%s: listing links: %w", s.name, err)
			}
			hasPorts := map[int]bool{}
			for _, l := range links {
				if m := l.Attrs().MasterIndex; m > 0 {
					hasPorts[m] = true
				}
			}
			for _, l := range links {
				a := l.Attrs()
				switch l.Type() {
				case "veth":
				case "bridge":
					if !hasPorts[a.Index] {
						continue
					}
				default:
					continue
				}
				if a.OperState != netlink.OperUp {
					down = append(down, s.name+"/"+a.Name+" ("+a.OperState.String()+")")
				}
			}
		}
		if len(down) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("links not up after %v: %v", limit, down)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
