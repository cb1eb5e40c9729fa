package flowlog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// readBuffer is the socket receive buffer asked for. The kernel's rate limit keeps the
// flow small, but a burst of 200 lines of ~250 bytes must fit while the reader is busy.
const readBuffer = 4 << 20

// Reader receives the packets logged to one NFLOG group in one network namespace.
type Reader struct {
	conn  *netlink.Conn
	group uint16
	// early holds packets that arrived while the bind was being acknowledged.
	early []netlink.Message

	received, overflows, lost, invalid atomic.Uint64
	// lastSeq is the sequence number of the last message (Run's goroutine only).
	lastSeq   uint32
	seqSeen   bool
	closeOnce sync.Once
	closeErr  error
}

// ReaderStats count what a Reader saw.
type ReaderStats struct {
	// Received counts log messages read.
	Received uint64
	// Overflows counts the times the socket overflowed (ENOBUFS): the kernel dropped
	// one or more messages because the reader fell behind. The sequence numbers of the
	// messages around each overflow tell how many (Lost).
	Overflows uint64
	// Lost counts the messages missing from the sequence the kernel numbered: dropped
	// on overflow (or by the kernel failing to allocate them).
	Lost uint64
	// Invalid counts messages that could not be read (no payload, not IP, truncated).
	Invalid uint64
}

// Listen binds a socket to NFLOG group in the network namespace at netnsPath
// (/var/run/netns/NAME, or "" for the current one), as dataplane.Open does. It needs
// CAP_NET_ADMIN. A group another socket of that namespace holds gives an error.
func Listen(netnsPath string, group uint16) (*Reader, error) {
	cfg := &netlink.Config{}
	if netnsPath != "" {
		f, err := os.Open(netnsPath)
		if err != nil {
			return nil, fmt.Errorf("open network namespace: %w", err)
		}
		defer f.Close() // the socket keeps the namespace once created in it
		cfg.NetNS = int(f.Fd())
	}
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, cfg)
	if err != nil {
		return nil, fmt.Errorf("open netfilter netlink socket in %s (root needed): %w", nsName(netnsPath), err)
	}
	r := &Reader{conn: conn, group: group}
	forceReadBuffer(conn, readBuffer)
	if err := r.bind(); err != nil {
		conn.Close()
		if errors.Is(err, unix.EPERM) && os.Geteuid() == 0 {
			// The kernel answers EPERM when another socket holds the group.
			return nil, fmt.Errorf("bind NFLOG group %d in %s: another program reads that group: %w", group, nsName(netnsPath), err)
		}
		return nil, fmt.Errorf("bind NFLOG group %d in %s: %w", group, nsName(netnsPath), err)
	}
	return r, nil
}

func nsName(path string) string {
	if path == "" {
		return "the current network namespace"
	}
	return path
}

// forceReadBuffer sets the receive buffer past net.core.rmem_max when privileged, and
// as far as allowed otherwise; a smaller buffer only means overflows come sooner.
func forceReadBuffer(conn *netlink.Conn, n int) {
	if rc, err := conn.SyscallConn(); err == nil {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n)
		}); err == nil && serr == nil {
			return
		}
	}
	_ = conn.SetReadBuffer(n)
}

// bind sends the configuration and waits for its acknowledgement. Packets may already
// arrive before it (the instance exists as soon as the bind is done); they are kept.
func (r *Reader) bind() error {
	req, err := r.conn.Send(configMessage(r.group))
	if err != nil {
		return err
	}
	if err := r.conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	defer r.conn.SetReadDeadline(time.Time{})
	for {
		msgs, err := r.conn.Receive()
		if err != nil {
			return err // a refused configuration comes back as an error message
		}
		for _, m := range msgs {
			if m.Header.Type == netlink.Error && m.Header.Sequence == req.Header.Sequence {
				return nil
			}
			if m.Header.Type == logMsgType(msgPacket) {
				r.early = append(r.early, m)
			}
		}
	}
}

// Run reads until ctx is done (then it closes the reader and returns nil) or the socket
// fails. fn is called for every logged packet, on Run's goroutine, in order; it must not
// block for long: while it runs the socket fills, and past its buffer the kernel drops.
// Overflows and unreadable messages are counted (Stats), never fatal.
func (r *Reader) Run(ctx context.Context, fn func(Message)) error {
	stop := context.AfterFunc(ctx, func() { r.Close() })
	defer stop()
	early := r.early
	r.early = nil
	r.deliver(early, time.Now(), fn)
	for {
		msgs, err := r.conn.Receive()
		now := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, unix.ENOBUFS) {
				// The kernel dropped what did not fit; the stream goes on after it.
				r.overflows.Add(1)
				continue
			}
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("read NFLOG group %d: %w", r.group, err)
		}
		r.deliver(msgs, now, fn)
	}
}

func (r *Reader) deliver(msgs []netlink.Message, now time.Time, fn func(Message)) {
	for _, m := range msgs {
		if m.Header.Type != logMsgType(msgPacket) {
			continue
		}
		r.received.Add(1)
		pm, err := parseMessage(m.Data, now)
		if pm.HasSeq {
			if r.seqSeen && pm.Seq-r.lastSeq > 1 && pm.Seq-r.lastSeq < 1<<31 {
				r.lost.Add(uint64(pm.Seq - r.lastSeq - 1))
			}
			r.lastSeq, r.seqSeen = pm.Seq, true
		}
		if err != nil {
			r.invalid.Add(1)
			continue
		}
		fn(pm)
	}
}

// Stats returns the counts so far; safe to call from any goroutine.
func (r *Reader) Stats() ReaderStats {
	return ReaderStats{Received: r.received.Load(), Overflows: r.overflows.Load(), Lost: r.lost.Load(), Invalid: r.invalid.Load()}
}

// Close releases the socket; the kernel drops the log instance with it. It unblocks Run.
func (r *Reader) Close() error {
	r.closeOnce.Do(func() { r.closeErr = r.conn.Close() })
	return r.closeErr
}
