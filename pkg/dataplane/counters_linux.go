package dataplane

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// Counters reads every named counter object of table, by name, in one dump (a table
// that does not exist has none). It may run on one connection while another writes the
// table: each counter is read whole, and the objects a write adds or removes during the
// dump may or may not be in it.
func (c *Conn) Counters(table string) (map[string]Counts, error) {
	objs, err := c.nft.GetNamedObjects(&nftables.Table{Family: nftables.TableFamilyINet, Name: table})
	if err != nil {
		return nil, fmt.Errorf("read the counters of table inet %s: %w", table, err)
	}
	out := make(map[string]Counts, len(objs))
	for _, o := range objs {
		no, ok := o.(*nftables.NamedObj)
		if !ok || no.Type != nftables.ObjTypeCounter {
			continue
		}
		if ctr, ok := no.Obj.(*expr.Counter); ok {
			out[no.Name] = Counts{Packets: ctr.Packets, Bytes: ctr.Bytes}
		}
	}
	return out, nil
}
