package dataplane

import "errors"

// Counters reads every named counter object of table, by name, in one dump. It may run
// on one connection while another writes.
func (c *Conn) Counters(table string) (map[string]Counts, error) {
	return nil, errors.New("counters: not implemented yet")
}
