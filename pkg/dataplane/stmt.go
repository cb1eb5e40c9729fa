package dataplane

import (
	"fmt"
	"strconv"
)

// Statements do something to a packet a rule matched without deciding its verdict:
// count it, check a rate limit (a packet over the limit ends the rule there, like a
// match that fails), log it. They run in order, after the matches, before the verdict.
type stmt interface {
	text() string
}

// counterRef adds the packet to the named counter object of the table.
type counterRef struct{ name string }

func (s counterRef) text() string { return "counter name " + strconv.Quote(s.name) }

// limitRef passes the packet on while the named limit object has room, and ends the
// rule otherwise.
type limitRef struct{ name string }

func (s limitRef) text() string { return "limit name " + strconv.Quote(s.name) }

// logStmt sends the packet to NFLOG group with prefix.
type logStmt struct {
	prefix string
	group  uint16
}

func (s logStmt) text() string { return fmt.Sprintf("log prefix %q group %d", s.prefix, s.group) }

// LogLimitName is the limit object every log rule of a table shares.
const LogLimitName = "log_limit"

func (r Rule) then(s stmt) Rule {
	r.stmts = append(r.stmts[:len(r.stmts):len(r.stmts)], s)
	return r
}

// count adds the rule's packets to the named counter object.
func (r Rule) count(name string) Rule { return r.then(counterRef{name}) }

// log sends the rule's packets to NFLOG, within the table's shared rate limit.
func (r Rule) log(o LogOptions, k LogKind, name string) Rule {
	return r.then(limitRef{LogLimitName}).then(logStmt{LogPrefix(k, name), o.Group})
}
