package dataplane

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"
	"github.com/ti-mo/netfilter"

	"github.com/netwarden/netwarden/pkg/policy"
)

// ForgetDenied deletes the tracked connections that the program would not let start, so
// that a connection allowed before a policy change does not outlive it: its next packet
// is new to conntrack and meets the policy. Conntrack only tracks connections whose first
// packet was accepted, so these are exactly the newly denied ones. It returns how many
// were deleted.
//
// A connection is judged as the forward chain saw its first packet: from the original
// source to the reply's source (the destination after any DNAT), on the reply's source
// port.
//
// It judges every tracked connection; after a change Diff could express, ForgetDeniedAfter
// judges only those the change may deny.
func (c *Conn) ForgetDenied(p *Program) (int, error) {
	st, err := c.ForgetDeniedIn(p, DenyAll())
	return st.Deleted, err
}

// ForgetDeniedAfter deletes the tracked connections that applying d, the delta from old
// to new, denies. It does nothing when the delta cannot deny (MayDeny), and otherwise
// judges only the connections with an end among the addresses the delta may deny.
func (c *Conn) ForgetDeniedAfter(old, new *Program, d Delta) (int, error) {
	st, err := c.ForgetDeniedIn(new, DenialScope(old, new, d))
	return st.Deleted, err
}

// ForgetStats counts what a cleanup did.
type ForgetStats struct {
	Listed  int // entries read from the kernel (0 when the scope was empty)
	Judged  int // entries in the scope, judged by the program
	Deleted int
}

// ForgetDeniedIn deletes the tracked connections in scope s that p denies. An empty
// scope costs nothing: the conntrack table is not even read. A scope of a few single
// addresses has the kernel list only their connections (see dumpAddrs); a wider one
// lists every connection and judges those in the scope.
func (c *Conn) ForgetDeniedIn(p *Program, s DenyScope) (ForgetStats, error) {
	var st ForgetStats
	if s.Empty() {
		return st, nil
	}
	cfg := &netlink.Config{}
	if c.netns != nil {
		cfg.NetNS = int(c.netns.Fd())
	}
	ct, err := conntrack.Dial(cfg)
	if err != nil {
		return st, fmt.Errorf("connect to conntrack: %w", err)
	}
	defer ct.Close()
	var flows []conntrack.Flow
	addrs, filtered := s.singleAddrs(maxFilteredAddrs)
	if filtered {
		flows, err = dumpAddrs(cfg, addrs)
		filtered = err == nil
	}
	if !filtered {
		// Not filtered, or the kernel refused the filter: list everything.
		flows, err = ct.Dump(nil)
	}
	if err != nil {
		return st, fmt.Errorf("list conntrack: %w", err)
	}
	st.Listed = len(flows)
	var errs error
	for _, f := range flows {
		src := f.TupleOrig.IP.SourceAddress
		dst := f.TupleReply.IP.SourceAddress
		if !s.Touches(src, dst) {
			continue
		}
		port, ok := flowPort(f)
		if !ok {
			continue
		}
		st.Judged++
		if p.Allows(src, dst, port) {
			continue
		}
		if err := ct.Delete(f); err != nil {
			errs = errors.Join(errs, fmt.Errorf("delete conntrack entry %s -> %s %s: %w", src, dst, port, err))
			continue
		}
		st.Deleted++
	}
	return st, errs
}

func flowPort(f conntrack.Flow) (policy.Port, bool) {
	pr := policy.Proto(f.TupleOrig.Proto.Protocol)
	switch pr {
	case policy.ProtoTCP, policy.ProtoUDP, policy.ProtoSCTP:
		return policy.Port{Proto: pr, Num: f.TupleReply.Proto.SourcePort}, true
	case policy.ProtoICMP, policy.ProtoICMPv6:
		return policy.Port{Proto: pr}, true
	}
	return policy.Port{}, false
}

// maxFilteredAddrs bounds the addresses listed one by one: each costs the kernel two
// walks of its table, which beats one unfiltered listing (the kernel encoding, and Go
// decoding, every entry) only for a few. Measured (TestForgetDeniedScale): an address
// costs 7 ms at 10k entries and 13 ms at 50k, the unfiltered listing 45 and 180 ms.
const maxFilteredAddrs = 4

// Attribute numbers of ctnetlink (linux/netfilter/nfnetlink_conntrack.h), for the
// filtered dump ti-mo/conntrack v0.6.0 does not offer: CTA_FILTER (Linux 5.8) matches an
// entry's original or reply tuple against the request's, on the fields its flags name.
const (
	ctaTupleOrig      = 1
	ctaTupleReply     = 2
	ctaFilter         = 25
	ctaTupleIP        = 1
	ctaIPv4Src        = 1
	ctaIPv6Src        = 3
	ctaFilterOrigFlag = 1
	ctaFilterReplyFlg = 2
	ctaFilterFlagSrc  = 1 << 0 // CTA_FILTER_FLAG(CTA_IP_SRC)
	ctGet             = 1      // IPCTNL_MSG_CT_GET
)

// dumpAddrs lists the tracked connections whose original source or reply source (the
// destination after DNAT) is one of addrs, filtered by the kernel, each once. A kernel
// without CTA_FILTER ignores it and lists every entry, which the caller's scope check
// then sorts out.
func dumpAddrs(cfg *netlink.Config, addrs []netip.Addr) ([]conntrack.Flow, error) {
	nf, err := netfilter.Dial(cfg)
	if err != nil {
		return nil, err
	}
	defer nf.Close()
	var out []conntrack.Flow
	seen := map[[2]uint32]bool{}
	for _, a := range addrs {
		fam, ipAttr := netfilter.ProtoIPv4, uint16(ctaIPv4Src)
		if !a.Is4() {
			fam, ipAttr = netfilter.ProtoIPv6, ctaIPv6Src
		}
		for _, dir := range [...]uint16{ctaTupleOrig, ctaTupleReply} {
			flags := [2]netfilter.Attribute{{Type: ctaFilterOrigFlag}, {Type: ctaFilterReplyFlg}}
			flags[0].Data, flags[1].Data = u32(0), u32(0)
			flags[dir-1].Data = u32(ctaFilterFlagSrc)
			req, err := netfilter.MarshalNetlink(netfilter.Header{
				SubsystemID: netfilter.NFSubsysCTNetlink,
				MessageType: ctGet,
				Family:      fam,
				Flags:       netlink.Request | netlink.Dump,
			}, []netfilter.Attribute{
				{Type: dir, Nested: true, Children: []netfilter.Attribute{
					{Type: ctaTupleIP, Nested: true, Children: []netfilter.Attribute{{Type: ipAttr, Data: a.AsSlice()}}},
				}},
				{Type: ctaFilter, Nested: true, Children: flags[:]},
			})
			if err != nil {
				return nil, err
			}
			msgs, err := nf.Query(req)
			if err != nil {
				return nil, fmt.Errorf("connections of %s: %w", a, err)
			}
			for _, m := range msgs {
				var ev conntrack.Event
				if err := ev.Unmarshal(m); err != nil {
					return nil, err
				}
				if ev.Flow == nil {
					continue
				}
				k := [2]uint32{ev.Flow.ID, uint32(ev.Flow.Zone)}
				if seen[k] {
					continue
				}
				seen[k] = true
				out = append(out, *ev.Flow)
			}
		}
	}
	return out, nil
}

// u32 encodes a CTA_FILTER flags word, which the kernel reads in host order.
func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
