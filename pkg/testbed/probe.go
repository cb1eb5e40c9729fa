package testbed

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/netwarden/netwarden/pkg/policy"
)

// Outcome is what a probe saw.
type Outcome uint8

const (
	// Connected: the TCP or SCTP handshake completed, or the UDP datagram was echoed.
	Connected Outcome = iota
	// Refused: a reset, an ABORT or an ICMP port unreachable came back; something on
	// the path answered, but nothing served the port, or a rule rejected.
	Refused
	// Unreachable: an ICMP error (host or network unreachable, administratively
	// prohibited) came back.
	Unreachable
	// Timeout: no answer within the timeout: dropped.
	Timeout
	// Failed: the probe could not be made (a local error).
	Failed
	// Skipped: the probe was not made (SCTP on a kernel that cannot speak it).
	Skipped
)

func (o Outcome) String() string {
	switch o {
	case Connected:
		return "connected"
	case Refused:
		return "refused"
	case Unreachable:
		return "unreachable"
	case Timeout:
		return "timeout"
	case Skipped:
		return "skipped"
	}
	return "failed"
}

// Reached reports whether the probe got through.
func (o Outcome) Reached() bool { return o == Connected }

// Probe is one connection attempt: from pod From to pod To (indices into Spec.Pods) on
// Port, over IP family Family (4 or 6; 0 for the spec's first family).
type Probe struct {
	From, To int
	Port     policy.Port
	Family   int
}

// Observation is a probe's result.
type Observation struct {
	Probe
	Outcome Outcome
	// Err is the error behind Refused, Unreachable, Failed or Skipped, if any.
	Err  error
	Took time.Duration
}

// ProbeOptions tune the prober.
type ProbeOptions struct {
	// Timeout is how long one attempt waits for an answer (default 400ms).
	Timeout time.Duration
	// Tries is how many datagrams a UDP or raw-SCTP probe sends before giving up
	// (default 2: one retry). TCP and kernel SCTP rely on a single handshake.
	Tries int
	// Parallel bounds the probes in flight (default 32).
	Parallel int
}

func (o ProbeOptions) withDefaults() ProbeOptions {
	if o.Timeout <= 0 {
		o.Timeout = 400 * time.Millisecond
	}
	if o.Tries <= 0 {
		o.Tries = 2
	}
	if o.Parallel <= 0 {
		o.Parallel = 32
	}
	return o
}

// Probe runs every probe, at most opts.Parallel at a time, and returns the observations in
// the order of probes. It stops early, marking the rest Skipped, when ctx ends.
func (tb *Testbed) Probe(ctx context.Context, probes []Probe, opts ProbeOptions) []Observation {
	opts = opts.withDefaults()
	out := make([]Observation, len(probes))
	sem := make(chan struct{}, opts.Parallel)
	var wg sync.WaitGroup
	for i, p := range probes {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			out[i] = Observation{Probe: p, Outcome: Skipped, Err: ctx.Err()}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = tb.ProbeOne(ctx, p, opts)
		}()
	}
	wg.Wait()
	return out
}

// ProbeOne makes one probe.
func (tb *Testbed) ProbeOne(ctx context.Context, p Probe, opts ProbeOptions) Observation {
	opts = opts.withDefaults()
	start := time.Now()
	o := Observation{Probe: p}
	o.Outcome, o.Err = tb.probe(ctx, p, opts)
	o.Took = time.Since(start)
	return o
}

func (tb *Testbed) probe(ctx context.Context, p Probe, opts ProbeOptions) (Outcome, error) {
	if p.From < 0 || p.From >= len(tb.Spec.Pods) || p.To < 0 || p.To >= len(tb.Spec.Pods) {
		return Failed, fmt.Errorf("probe between pods %d and %d: no such pod", p.From, p.To)
	}
	family := p.Family
	if family == 0 {
		family = tb.Spec.Families[0]
	}
	dst, ok := addressFor(tb.Spec.Pods[p.To].IPs, family)
	if !ok {
		return Failed, fmt.Errorf("pod %s has no IPv%d address", tb.Spec.Pods[p.To].Key, family)
	}
	src := tb.pods[p.From]
	switch p.Port.Proto {
	case policy.ProtoTCP:
		return probeTCP(ctx, src, dst, p.Port.Num, opts.Timeout)
	case policy.ProtoUDP:
		return probeUDP(ctx, src, dst, p.Port.Num, opts.Timeout, opts.Tries)
	case policy.ProtoSCTP:
		return tb.sctp.probe(ctx, src, dst, p.Port.Num, opts.Timeout, opts.Tries)
	}
	return Skipped, fmt.Errorf("cannot probe %s", p.Port)
}

func probeTCP(ctx context.Context, src *space, dst netip.Addr, port uint16, timeout time.Duration) (Outcome, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var c net.Conn
	var derr error
	// The whole dial runs on the thread in the source namespace: the socket is created
	// there, and it is the only place it could be.
	err := inNetns(src.ns, func() error {
		var d net.Dialer
		c, derr = d.DialContext(ctx, "tcp", netip.AddrPortFrom(dst, port).String())
		return nil
	})
	if err != nil {
		return Failed, err
	}
	if derr != nil {
		return connectFailure(derr), derr
	}
	c.Close()
	return Connected, nil
}

func probeUDP(ctx context.Context, src *space, dst netip.Addr, port uint16, timeout time.Duration, tries int) (Outcome, error) {
	var c net.Conn
	err := inNetns(src.ns, func() (err error) {
		c, err = net.Dial("udp", netip.AddrPortFrom(dst, port).String())
		return err
	})
	if err != nil {
		return Failed, err
	}
	defer c.Close()
	nonce := make([]byte, 16)
	rand.Read(nonce)
	buf := make([]byte, 64)
	for try := 0; try < tries; try++ {
		if _, err := c.Write(nonce); err != nil {
			return sendFailure(err), err
		}
		deadline := time.Now().Add(timeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		c.SetReadDeadline(deadline)
		for {
			n, err := c.Read(buf)
			if err != nil {
				if isTimeout(err) {
					break
				}
				return connectFailure(err), err
			}
			if string(buf[:n]) == string(nonce) {
				return Connected, nil
			}
		}
		if ctx.Err() != nil {
			return Timeout, ctx.Err()
		}
	}
	return Timeout, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// connectFailure classifies why a connection attempt failed.
func connectFailure(err error) Outcome {
	switch {
	case isTimeout(err):
		return Timeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return Refused
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return Unreachable
	}
	return Failed
}

// sendFailure classifies a failed send: EPERM is a local netfilter drop on output.
func sendFailure(err error) Outcome {
	if o := connectFailure(err); o != Failed {
		return o
	}
	return Failed
}

// String prints the probe as "from -> to port/PROTO (IPv4)".
func (tb *Testbed) describe(p Probe) string {
	fam := p.Family
	if fam == 0 {
		fam = tb.Spec.Families[0]
	}
	return tb.Spec.Pods[p.From].Key + " -> " + tb.Spec.Pods[p.To].Key + " " + p.Port.String() + " (IPv" + strconv.Itoa(fam) + ")"
}
