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
func (c *Conn) ForgetDenied(p *Program) (int, error) {
	cfg := &netlink.Config{}
	if c.netns != nil {
		cfg.NetNS = int(c.netns.Fd())
	}
	ct, err := conntrack.Dial(cfg)
	if err != nil {
		return 0, fmt.Errorf("connect to conntrack: %w", err)
	}
	defer ct.Close()
	flows, err := ct.Dump(nil)
	if err != nil {
		return 0, fmt.Errorf("list conntrack: %w", err)
	}
	var errs error
	n := 0
	for _, f := range flows {
		src := f.TupleOrig.IP.SourceAddress
		dst := f.TupleReply.IP.SourceAddress
		port, ok := flowPort(f)
		if !ok || p.Allows(src, dst, port) {
			continue
		}
		if err := ct.Delete(f); err != nil {
			errs = errors.Join(errs, fmt.Errorf("delete conntrack entry %s -> %s %s: %w", src, dst, port, err))
			continue
		}
		n++
	}
	return n, errs
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
