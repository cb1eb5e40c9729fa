package dataplane

import (
	"fmt"
	"strings"
)

// Stateful objects: a program's table holds a named counter per account, and, when it
// logs, the one limit its log rules share. Rules refer to them by name, so they are made
// before the rules in a transaction and removed after them; an incremental update leaves
// the objects both programs have alone, so their counts survive it.

// ObjectType is the kind of a stateful object.
type ObjectType uint8

const (
	ObjCounter ObjectType = iota + 1
	ObjLimit
)

func (t ObjectType) String() string {
	if t == ObjLimit {
		return "limit"
	}
	return "counter"
}

// Object is one stateful object of a program's table. Rate and Burst are a limit's
// packets per second and burst; 0 for counters.
type Object struct {
	Type        ObjectType
	Name        string
	Rate, Burst uint32
}

// Objects lists the program's stateful objects in the order the table makes them (and
// nft lists them): the counters by name, then the log limit when the program logs.
func (p *Program) Objects() []Object {
	out := make([]Object, 0, len(p.Accounts)+1)
	for _, a := range p.Accounts {
		out = append(out, Object{Type: ObjCounter, Name: a.Name})
	}
	if l := p.logLimit(); l != nil {
		out = append(out, *l)
	}
	return out
}

// logLimit is the limit the program's log rules share, or nil when it does not log.
func (p *Program) logLimit() *Object {
	lo := p.opts.Log
	if lo.Group == 0 {
		return nil
	}
	return &Object{Type: ObjLimit, Name: LogLimitName, Rate: lo.rate(), Burst: lo.burst()}
}

func (o LogOptions) rate() uint32 {
	if o.Rate == 0 {
		return DefaultLogRate
	}
	return o.Rate
}

func (o LogOptions) burst() uint32 {
	if o.Burst == 0 {
		return DefaultLogBurst
	}
	return o.Burst
}

// write prints the object as a block of the table in nft syntax.
func (o Object) write(b *strings.Builder) {
	switch o.Type {
	case ObjLimit:
		fmt.Fprintf(b, "\tlimit %s {\n\t\trate %d/second burst %d packets\n\t}\n", o.Name, o.Rate, o.Burst)
	default:
		fmt.Fprintf(b, "\tcounter %s {\n\t}\n", o.Name)
	}
}
