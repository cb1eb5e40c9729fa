//go:build !linux

package flowlog

import (
	"context"
	"errors"
)

// Reader receives NFLOG packets; only Linux has them.
type Reader struct{}

// ReaderStats count what a Reader saw.
type ReaderStats struct {
	Received, Overflows, Lost, Invalid uint64
}

var errNotLinux = errors.New("NFLOG flow logs need Linux")

// Listen fails outside Linux.
func Listen(netnsPath string, group uint16) (*Reader, error) { return nil, errNotLinux }

// Run fails outside Linux.
func (r *Reader) Run(ctx context.Context, fn func(Message)) error { return errNotLinux }

// Stats is zero outside Linux.
func (r *Reader) Stats() ReaderStats { return ReaderStats{} }

// Close does nothing outside Linux.
func (r *Reader) Close() error { return nil }
