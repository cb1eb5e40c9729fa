package dataplane

import (
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
)

// Turning a Program's sets, chains and rules into google/nftables objects.

var keyTypes = map[KeyType]nftables.SetDatatype{
	KeyAddr4:  nftables.TypeIPAddr,
	KeyAddr6:  nftables.TypeIP6Addr,
	KeyTuple4: nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService),
	KeyTuple6: nftables.MustConcatSetType(nftables.TypeIP6Addr, nftables.TypeInetProto, nftables.TypeInetService),
	KeyPair4:  nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeIPAddr),
	KeyPair6:  nftables.MustConcatSetType(nftables.TypeIP6Addr, nftables.TypeIP6Addr),
}

func nftSet(t *nftables.Table, s *Set) *nftables.Set {
	ns := &nftables.Set{
		Table:         t,
		Name:          s.Name,
		KeyType:       keyTypes[s.Key],
		Interval:      s.Interval,
		IsMap:         s.Map,
		Concatenation: s.Key.concat(),
		KeyByteOrder:  binaryutil.BigEndian,
	}
	if s.Map {
		ns.DataType = nftables.TypeVerdict
	}
	return ns
}

// nftElements encodes elements for the kernel. Concatenated keys pad every field to 4
// bytes. Interval sets of addresses hold each range as its first address and, flagged as
// an interval end, the address after its last (in a verdict map, the start carries the
// verdict); like nft, a leading end at the zero address closes the space below the first
// range. Concatenated interval sets hold each
// element as its first key and its last key (KeyEnd), as nft sends them.
func nftElements(s *Set, es []Element) []nftables.SetElement {
	out := make([]nftables.SetElement, 0, len(es))
	if s.Interval && !s.Key.concat() {
		for i, e := range es {
			if i == 0 && e.Addr != zeroAddr(e.Addr) {
				out = append(out, nftables.SetElement{Key: zeroAddr(e.Addr).AsSlice(), IntervalEnd: true})
			}
			el := nftables.SetElement{Key: e.Addr.AsSlice()}
			if s.Map {
				el.VerdictData = verdictExpr(e.Verdict)
			}
			out = append(out, el)
			if next := e.Last.Next(); next.IsValid() {
				out = append(out, nftables.SetElement{Key: next.AsSlice(), IntervalEnd: true})
			}
		}
		return out
	}
	for _, e := range es {
		el := nftables.SetElement{Key: elementKey(s.Key, e.Addr, e)}
		if s.Interval {
			last := e
			last.Port = e.PortLast
			el.KeyEnd = elementKey(s.Key, e.Last, last)
		}
		if s.Map {
			el.VerdictData = verdictExpr(e.Verdict)
		}
		out = append(out, el)
	}
	return out
}

// elementKey is the key of an element of a hash set or map, or one end of a
// concatenated interval, with addr as the first field.
func elementKey(k KeyType, addr netip.Addr, e Element) []byte {
	var buf [40]byte
	key := buf[:0]
	key = append(key, addr.AsSlice()...)
	switch k {
	case KeyTuple4, KeyTuple6:
		key = append(key, byte(e.Proto), 0, 0, 0, byte(e.Port>>8), byte(e.Port), 0, 0)
	case KeyPair4, KeyPair6:
		key = append(key, e.Dst.AsSlice()...)
	}
	return append([]byte(nil), key...)
}

func zeroAddr(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

var hooks = map[Hook]*nftables.ChainHook{
	HookForward: nftables.ChainHookForward,
	HookInput:   nftables.ChainHookInput,
	HookOutput:  nftables.ChainHookOutput,
}

func nftChain(t *nftables.Table, c *Chain) *nftables.Chain {
	nc := &nftables.Chain{Table: t, Name: c.Name}
	if c.Hook != "" {
		accept := nftables.ChainPolicyAccept
		nc.Type = nftables.ChainTypeFilter
		nc.Hooknum = hooks[c.Hook]
		nc.Priority = nftables.ChainPriorityFilter
		nc.Policy = &accept
	}
	return nc
}

func nftRule(t *nftables.Table, c *nftables.Chain, r Rule, setID func(string) uint32) *nftables.Rule {
	nr := &nftables.Rule{Table: t, Chain: c, Exprs: r.exprs(setID)}
	if r.comment != "" {
		nr.UserData = userdata.AppendString(nil, userdata.TypeComment, r.comment)
	}
	return nr
}

// nftObject is a stateful object as nft makes it: a counter starting at from (zero for a
// new one), a limit in packets per second.
func nftObject(t *nftables.Table, o Object, from Counts) *nftables.NamedObj {
	if o.Type == ObjLimit {
		return &nftables.NamedObj{Table: t, Name: o.Name, Type: nftables.ObjTypeLimit,
			Obj: &expr.Limit{Type: expr.LimitTypePkts, Rate: uint64(o.Rate), Unit: expr.LimitTimeSecond, Burst: o.Burst}}
	}
	return &nftables.NamedObj{Table: t, Name: o.Name, Type: nftables.ObjTypeCounter, Obj: &expr.Counter{Packets: from.Packets, Bytes: from.Bytes}}
}
