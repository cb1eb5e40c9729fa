//go:build !linux

package dataplane

import "errors"

var errNotLinux = errors.New("the nftables dataplane needs Linux")

// Conn is a kept netlink connection to nftables; only on Linux.
type Conn struct{}

// Open connects to nftables; it fails on this platform.
func Open(netnsPath string) (*Conn, error) { return nil, errNotLinux }

func (c *Conn) Apply(p *Program) error                 { return errNotLinux }
func (c *Conn) Update(old, new *Program) error         { return errNotLinux }
func (c *Conn) ApplyDelta(new *Program, d Delta) error { return errNotLinux }
func (c *Conn) Uninstall() error                       { return errNotLinux }
func (c *Conn) UninstallTable(name string) error       { return errNotLinux }
func (c *Conn) ForgetDenied(p *Program) (int, error)   { return 0, errNotLinux }
func (c *Conn) Close() error                           { return nil }

func (c *Conn) Counters(table string) (map[string]Counts, error) { return nil, errNotLinux }
