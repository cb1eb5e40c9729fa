package dataplane

import (
	"encoding/binary"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The only place kernel expressions are built: one function per match type of rule.go,
// each emitting what nft 1.0.6 emits for the same text.

// exprs renders the rule as kernel expressions. setID gives the transaction ID of each
// named set (0 for sets that already exist in the kernel).
func (r Rule) exprs(setID func(string) uint32) []expr.Any {
	x := &exprBuf{setID: setID}
	for _, m := range r.matches {
		switch m := m.(type) {
		case ctStateMatch:
			x.ctState(m)
		case addrMatch:
			x.addrInSet(m)
		case portMatch:
			x.port(m)
		case tupleMatch:
			x.tupleInSet(m)
		case pairMatch:
			x.pairInSet(m)
		case icmpv6TypeMatch:
			x.icmpv6Type(m)
		default:
			panic("dataplane: match without expressions: " + m.text())
		}
	}
	for _, s := range r.stmts {
		x.stmt(s)
	}
	switch r.verdict.Kind {
	case Continue:
	case VMap:
		if r.verdict.Ports {
			x.loadTuple(r.verdict.Field, r.verdict.Family)
		} else {
			x.loadAddr(r.verdict.Field, r.verdict.Family, 1)
		}
		x.add(&expr.Lookup{SourceRegister: 1, IsDestRegSet: true, DestRegister: 0,
			SetName: r.verdict.Target, SetID: setID(r.verdict.Target)})
	default:
		x.add(verdictExpr(r.verdict))
	}
	return x.out
}

func verdictExpr(v Verdict) *expr.Verdict {
	switch v.Kind {
	case Accept:
		return &expr.Verdict{Kind: expr.VerdictAccept}
	case Drop:
		return &expr.Verdict{Kind: expr.VerdictDrop}
	case Return:
		return &expr.Verdict{Kind: expr.VerdictReturn}
	case Jump:
		return &expr.Verdict{Kind: expr.VerdictJump, Chain: v.Target}
	case Goto:
		return &expr.Verdict{Kind: expr.VerdictGoto, Chain: v.Target}
	}
	panic("dataplane: no expression for verdict " + v.String())
}

// exprBuf accumulates one rule's expressions. Like nft, it checks the network protocol
// once per rule, before the first read of an IP header.
type exprBuf struct {
	out     []expr.Any
	nfproto Family
	setID   func(string) uint32
}

func (x *exprBuf) add(e ...expr.Any) { x.out = append(x.out, e...) }

func (x *exprBuf) cmpEq(reg uint32, data []byte) {
	x.add(&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: data})
}

// family checks the network protocol, as nft does before ip, ip6 and icmpv6 matches in
// an inet table (once per rule).
func (x *exprBuf) family(fam Family) {
	if x.nfproto == fam {
		return
	}
	proto := byte(unix.NFPROTO_IPV4)
	if fam == IPv6 {
		proto = unix.NFPROTO_IPV6
	}
	x.add(&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1})
	x.cmpEq(1, []byte{proto})
	x.nfproto = fam
}

// loadAddr loads the packet's address into reg.
func (x *exprBuf) loadAddr(f Field, fam Family, reg uint32) {
	x.family(fam)
	off, n := uint32(12), uint32(4) // IPv4 source address
	if fam == IPv6 {
		off, n = 8, 16
	}
	if f == Daddr {
		off += n
	}
	x.add(&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n})
}

func (x *exprBuf) loadL4Proto(reg uint32) {
	x.add(&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg})
}

// loadDport reads the transport header's destination port (the same offset for TCP, UDP
// and SCTP).
func (x *exprBuf) loadDport(reg uint32) {
	x.add(&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2})
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// concatReg is the register nft uses for a concatenation field starting `words` 32-bit
// words into the key: a 128-bit register number when aligned, else a 32-bit one.
func concatReg(words uint32) uint32 {
	if words%4 == 0 {
		return words/4 + 1
	}
	return unix.NFT_REG32_00 + words
}

// ct state established,related
func (x *exprBuf) ctState(m ctStateMatch) {
	x.add(
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binary.NativeEndian.AppendUint32(nil, m.bits), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	)
}

// ip saddr @set
func (x *exprBuf) addrInSet(m addrMatch) {
	x.loadAddr(m.f, m.fam, 1)
	x.add(&expr.Lookup{SourceRegister: 1, SetName: m.set, SetID: x.setID(m.set)})
}

// tcp dport 80 | tcp dport 8000-9000 | meta l4proto tcp
func (x *exprBuf) port(m portMatch) {
	x.loadL4Proto(1)
	x.cmpEq(1, []byte{byte(m.proto)})
	if m.allPorts() {
		return
	}
	x.loadDport(1)
	if m.lo == m.hi {
		x.cmpEq(1, be16(m.lo))
		return
	}
	x.add(
		&expr.Cmp{Op: expr.CmpOpGte, Register: 1, Data: be16(m.lo)},
		&expr.Cmp{Op: expr.CmpOpLte, Register: 1, Data: be16(m.hi)},
	)
}

// ip daddr . meta l4proto . th dport @set
func (x *exprBuf) tupleInSet(m tupleMatch) {
	x.loadTuple(m.f, m.fam)
	x.add(&expr.Lookup{SourceRegister: 1, SetName: m.set, SetID: x.setID(m.set)})
}

// loadTuple loads (address . protocol . destination port) from register 1 on.
func (x *exprBuf) loadTuple(f Field, fam Family) {
	words := uint32(1) // the address, in 32-bit words
	if fam == IPv6 {
		words = 4
	}
	x.loadAddr(f, fam, 1)
	x.loadL4Proto(concatReg(words))
	x.loadDport(concatReg(words + 1))
}

// ip saddr . ip daddr @set
func (x *exprBuf) pairInSet(m pairMatch) {
	words := uint32(1)
	if m.fam == IPv6 {
		words = 4
	}
	x.loadAddr(Saddr, m.fam, 1)
	x.loadAddr(Daddr, m.fam, concatReg(words))
	x.add(&expr.Lookup{SourceRegister: 1, SetName: m.set, SetID: x.setID(m.set)})
}

// icmpv6 type 133-136
func (x *exprBuf) icmpv6Type(m icmpv6TypeMatch) {
	x.family(IPv6)
	x.loadL4Proto(1)
	x.cmpEq(1, []byte{unix.IPPROTO_ICMPV6})
	x.add(&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1})
	if m.lo == m.hi {
		x.cmpEq(1, []byte{m.lo})
		return
	}
	x.add(
		&expr.Cmp{Op: expr.CmpOpGte, Register: 1, Data: []byte{m.lo}},
		&expr.Cmp{Op: expr.CmpOpLte, Register: 1, Data: []byte{m.hi}},
	)
}
