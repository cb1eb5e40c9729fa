package analysis

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/netwarden/netwarden/pkg/policy"
)

// ipBlocks: NW501, a NetworkPolicy ipBlock (CIDR less its excepts) that contains pod
// addresses or overlaps a node's pod CIDR. Whether ipBlock applies to pod traffic is
// implementation-defined, so such a peer means different things on different clusters.
// Admin "networks" peers are left alone: the API defines them to match pods too.
func (l *linter) ipBlocks() {
	type nodeCIDR struct {
		node   string
		prefix netip.Prefix
	}
	var cidrs []nodeCIDR
	for _, n := range l.c.Nodes {
		seen := map[string]bool{}
		for _, s := range append([]string{n.Spec.PodCIDR}, n.Spec.PodCIDRs...) {
			if s == "" || seen[s] {
				continue
			}
			seen[s] = true
			if p, err := netip.ParsePrefix(s); err == nil {
				cidrs = append(cidrs, nodeCIDR{n.Name, p.Masked()})
			}
		}
	}
	for _, p := range l.e.Policies {
		if p.Tier != policy.TierNetworkPolicy {
			continue
		}
		for _, d := range directions {
			for ri, r := range p.Rules(d) {
				for pj := range r.Peers {
					peer := &r.Peers[pj]
					if peer.Kind != policy.PeerIPBlock {
						continue
					}
					set := peerAddressSet(peer)
					var pods []string
					for _, pi := range l.e.Pods {
						if pi.HostNetwork {
							continue // its address is the node's, which ipBlocks are meant for
						}
						for _, ip := range pi.IPs {
							if set.Contains(ip) {
								pods = append(pods, pi.Key)
								break
							}
						}
					}
					var nodes []string
					for _, nc := range cidrs {
						if set.OverlapsPrefix(nc.prefix) {
							nodes = append(nodes, fmt.Sprintf("%s of node %s", nc.prefix, nc.node))
						}
					}
					if len(pods) == 0 && len(nodes) == 0 {
						continue
					}
					var what []string
					if len(pods) > 0 {
						what = append(what, fmt.Sprintf("the addresses of %d pod(s) (%s)", len(pods), listSome(pods, 3)))
					}
					if len(nodes) > 0 {
						what = append(what, "the pod CIDR "+listSome(nodes, 3))
					}
					msg := fmt.Sprintf("peer %q of %s covers %s; whether ipBlock matches pod traffic is implementation-defined", peer.Text, ruleName(p, d, ri), strings.Join(what, " and "))
					l.report(RuleIPBlockCoversPods, p.Ref, peerField(d, ri, pj)+".ipBlock", msg,
						"select pods with podSelector/namespaceSelector, and add the pod network to except")
				}
			}
		}
	}
}
