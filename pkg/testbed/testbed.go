package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Testbed is a running emulated cluster. Close removes everything it created.
type Testbed struct {
	Spec *Spec
	// Prefix starts the name of every network namespace of this run.
	Prefix string
	// SetupTime is how long New took.
	SetupTime time.Duration

	fabric *space
	nodes  []*space
	// pods[i] is pod i's namespace; for hostNetwork pods it is their node's.
	pods []*space
	sctp sctpMode
	enf  *enforcement

	mu      sync.Mutex
	closers []func() error
	closed  bool
}

// space is one network namespace the testbed made, with a netlink handle inside it.
type space struct {
	name string
	ns   netns.NsHandle
	nl   *netlink.Handle
}

// Path is the namespace's path under /run/netns, as dataplane.Open takes it.
func (s *space) Path() string { return NetnsPath(s.name) }

// New builds the cluster spec describes: namespaces, links, addresses, routes, and
// servers on every pod's ports. On failure, and on SIGINT/SIGTERM/SIGHUP while it is
// open, everything already created is removed. It needs root (CAP_NET_ADMIN and
// CAP_SYS_ADMIN).
func New(ctx context.Context, spec *Spec) (tb *Testbed, err error) {
	start := time.Now()
	spec.Families = families(spec.Families)
	if spec.Mode == "" {
		spec.Mode = Routed
	}
	if err := spec.check(); err != nil {
		return nil, err
	}
	if err := RequireRoot(); err != nil {
		return nil, err
	}
	tb = &Testbed{Spec: spec, Prefix: newRunPrefix()}
	if err := live.add(tb.Prefix); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			tb.Close()
			tb = nil
		}
	}()
	tb.sctp = detectSCTP()
	if err := tb.build(ctx); err != nil {
		return nil, err
	}
	if err := tb.serve(); err != nil {
		return nil, err
	}
	if err := tb.waitLinksUp(ctx, 10*time.Second); err != nil {
		return nil, err
	}
	tb.SetupTime = time.Since(start)
	return tb, nil
}

// RequireRoot returns an error saying what is missing when the process cannot create
// network namespaces.
func RequireRoot() error {
	if euid := os.Geteuid(); euid != 0 {
		return fmt.Errorf("the testbed needs root (it creates network namespaces, links and nftables tables); running as uid %d", euid)
	}
	return nil
}

// NodeNetns returns the path of node i's network namespace.
func (tb *Testbed) NodeNetns(i int) string { return tb.nodes[i].Path() }

// PodNetns returns the path of pod i's network namespace (its node's for hostNetwork pods).
func (tb *Testbed) PodNetns(i int) string { return tb.pods[i].Path() }

// SCTP says how SCTP is served and probed on this kernel.
func (tb *Testbed) SCTP() string { return tb.sctp.String() }

// ResetConntrack forgets every tracked connection on every node, so that the next probes
// are decided by the rules in force rather than by entries earlier probes left.
func (tb *Testbed) ResetConntrack() error {
	var errs []error
	for _, n := range tb.nodes {
		if err := flushConntrack(n.ns); err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", n.name, err))
		}
	}
	return errors.Join(errs...)
}

// onClose registers f to run at Close, before the namespaces are deleted (closers run in
// reverse order of registration).
func (tb *Testbed) onClose(f func() error) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.closers = append(tb.closers, f)
}

// Close stops the servers and removes every namespace of the run (and with them every
// link, route and nftables table in them). It is safe to call more than once.
func (tb *Testbed) Close() error {
	tb.mu.Lock()
	if tb.closed {
		tb.mu.Unlock()
		return nil
	}
	tb.closed = true
	closers := tb.closers
	tb.closers = nil
	tb.mu.Unlock()

	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		if err := closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range tb.allSpaces() {
		if s.nl != nil {
			s.nl.Close()
		}
		if s.ns.IsOpen() {
			s.ns.Close()
		}
	}
	if _, err := Cleanup(tb.Prefix); err != nil {
		errs = append(errs, err)
	}
	live.remove(tb.Prefix)
	return errors.Join(errs...)
}

func (tb *Testbed) allSpaces() []*space {
	var out []*space
	if tb.fabric != nil {
		out = append(out, tb.fabric)
	}
	out = append(out, tb.nodes...)
	for i, p := range tb.pods {
		if p != nil && !tb.Spec.Pods[i].HostNetwork {
			out = append(out, p)
		}
	}
	return out
}

// InPod runs f on an OS thread inside pod i's network namespace (its node's for a
// hostNetwork pod): sockets f creates live there. Benchmarks use it to make many
// connections without switching namespaces for each.
func (tb *Testbed) InPod(i int, f func() error) error { return inNetns(tb.pods[i].ns, f) }
