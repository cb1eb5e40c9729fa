package dataplane

import (
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"

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
// scope costs nothing: the conntrack table is not even read. The library and the kernel
// filter dumps by family, mark, status and zone only, not by address, so a narrow scope
// saves the judging (a set lookup instead of walking the program's chains) but not the
// listing.
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
	flows, err := ct.Dump(nil)
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
