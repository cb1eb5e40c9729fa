package dataplane

import "errors"

// Counters reads every named counter of the table last applied, by name.
func (c *Conn) Counters() (map[string]Counts, error) {
	return nil, errors.New("counters: not implemented yet")
}
