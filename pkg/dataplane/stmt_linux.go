package dataplane

import (
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The kernel expressions of statements (stmt.go), as nft 1.0.6 emits them.

func (x *exprBuf) stmt(s stmt) {
	switch s := s.(type) {
	case counterRef:
		// counter name "c": a reference to the counter object, not a counter of the rule.
		x.add(&expr.Objref{Type: unix.NFT_OBJECT_COUNTER, Name: s.name})
	case limitRef:
		// limit name "l": the packet goes on while the object has room.
		x.add(&expr.Objref{Type: unix.NFT_OBJECT_LIMIT, Name: s.name})
	case logStmt:
		// log prefix "p" group N: nft sends the prefix and the group only; the kernel
		// then logs through nfnetlink_log, and snaplen and queue threshold keep their
		// defaults.
		x.add(&expr.Log{Key: 1<<unix.NFTA_LOG_PREFIX | 1<<unix.NFTA_LOG_GROUP, Data: []byte(s.prefix), Group: s.group})
	default:
		panic("dataplane: statement without expressions: " + s.text())
	}
}
