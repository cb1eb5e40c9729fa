package testbed

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// SCTP has no support in Go's standard library, and kernels built without CONFIG_IP_SCTP
// (as many VM and container kernels are) have no SCTP sockets at all, while their
// nftables and conntrack still match and track SCTP. So the testbed speaks SCTP one of
// two ways:
//
//   - kernel: real SOCK_STREAM/IPPROTO_SCTP sockets made with raw syscalls.
//   - raw: without kernel SCTP, each serving namespace holds a raw IPPROTO_SCTP socket
//     that answers an INIT with an INIT-ACK (or an ABORT on a port nobody serves), and
//     the prober sends the INIT and waits for the answer on a raw socket of its own.
//     That is the SCTP association setup as the network sees it: the same packets, with
//     correct CRC32c checksums, so the dataplane's sctp port matches and conntrack's SCTP
//     state machine see real SCTP.
type sctpMode interface {
	String() string
	serve(tb *Testbed, s *space, ports map[uint16]bool) error
	probe(ctx context.Context, src *space, dst netip.Addr, port uint16, timeout time.Duration, tries int) (Outcome, error)
}

// SCTPSupport describes how this kernel lets the testbed speak SCTP, or why it cannot.
func SCTPSupport() string { return detectSCTP().String() }

func detectSCTP() sctpMode {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_SCTP)
	if err == nil {
		unix.Close(fd)
		return kernelSCTP{}
	}
	rfd, rerr := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_SCTP)
	if rerr == nil {
		unix.Close(rfd)
		return rawSCTP{kernelErr: err}
	}
	return noSCTP{fmt.Errorf("no SCTP sockets (%v) and no raw sockets (%v)", err, rerr)}
}

// ErrNoSCTP is returned for SCTP probes when the kernel allows neither SCTP nor raw
// sockets.
var ErrNoSCTP = errors.New("SCTP cannot be probed on this kernel")

type noSCTP struct{ err error }

func (n noSCTP) String() string { return "unavailable: " + n.err.Error() }
func (n noSCTP) serve(*Testbed, *space, map[uint16]bool) error {
	return nil
}
func (n noSCTP) probe(context.Context, *space, netip.Addr, uint16, time.Duration, int) (Outcome, error) {
	return Skipped, fmt.Errorf("%w: %v", ErrNoSCTP, n.err)
}

// --- raw emulation ---

type rawSCTP struct{ kernelErr error }

func (r rawSCTP) String() string {
	return "raw: this kernel has no SCTP sockets (" + r.kernelErr.Error() + "); SCTP association setup (INIT, INIT-ACK/ABORT) is spoken over raw sockets"
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SCTP chunk types used here.
const (
	chunkInit    = 1
	chunkInitAck = 2
	chunkAbort   = 6
)

// sctpPacket builds a packet: the common header and the chunks, with the CRC32c checksum
// (stored little-endian, as the kernel computes it).
func sctpPacket(srcPort, dstPort uint16, vtag uint32, chunks ...[]byte) []byte {
	b := make([]byte, 12, 64)
	binary.BigEndian.PutUint16(b[0:], srcPort)
	binary.BigEndian.PutUint16(b[2:], dstPort)
	binary.BigEndian.PutUint32(b[4:], vtag)
	for _, c := range chunks {
		b = append(b, c...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b, castagnoli))
	return b
}

// initChunk is an INIT (or, with the State Cookie parameter, an INIT-ACK) chunk.
func initChunk(typ byte, tag, tsn uint32, cookie []byte) []byte {
	n := 20
	if cookie != nil {
		n += 4 + len(cookie)
	}
	c := make([]byte, n)
	c[0] = typ
	binary.BigEndian.PutUint16(c[2:], uint16(n))
	binary.BigEndian.PutUint32(c[4:], tag)
	binary.BigEndian.PutUint32(c[8:], 1<<16) // advertised receiver window
	binary.BigEndian.PutUint16(c[12:], 1)    // outbound streams
	binary.BigEndian.PutUint16(c[14:], 1)    // inbound streams
	binary.BigEndian.PutUint32(c[16:], tsn)
	if cookie != nil {
		binary.BigEndian.PutUint16(c[20:], 7) // State Cookie
		binary.BigEndian.PutUint16(c[22:], uint16(4+len(cookie)))
		copy(c[24:], cookie)
	}
	return c
}

// sctpHeader is what the testbed reads of a received packet.
type sctpHeader struct {
	src, dst uint16
	vtag     uint32
	chunk    byte
	initTag  uint32 // INIT and INIT-ACK only
}

func parseSCTP(b []byte) (sctpHeader, bool) {
	if len(b) < 16 {
		return sctpHeader{}, false
	}
	h := sctpHeader{
		src:   binary.BigEndian.Uint16(b[0:]),
		dst:   binary.BigEndian.Uint16(b[2:]),
		vtag:  binary.BigEndian.Uint32(b[4:]),
		chunk: b[12],
	}
	if (h.chunk == chunkInit || h.chunk == chunkInitAck) && len(b) >= 20 {
		h.initTag = binary.BigEndian.Uint32(b[16:])
	}
	return h, true
}

func random32() uint32 {
	var b [4]byte
	rand.Read(b[:])
	v := binary.BigEndian.Uint32(b[:])
	if v == 0 {
		v = 1
	}
	return v
}

func rawNetwork(family int) string {
	if family == 6 {
		return "ip6:132"
	}
	return "ip4:132"
}

func (r rawSCTP) serve(tb *Testbed, s *space, ports map[uint16]bool) error {
	for _, f := range tb.Spec.Families {
		var conn *net.IPConn
		err := inNetns(s.ns, func() (err error) {
			conn, err = net.ListenIP(rawNetwork(f), nil)
			return err
		})
		if err != nil {
			return err
		}
		tb.answerPackets(conn, func(pkt []byte, _ net.Addr) []byte {
			h, ok := parseSCTP(pkt)
			if !ok || h.chunk != chunkInit || h.vtag != 0 || h.initTag == 0 {
				return nil
			}
			if ports[h.dst] {
				return sctpPacket(h.dst, h.src, h.initTag, initChunk(chunkInitAck, random32(), random32(), []byte("netwarden-testbed")))
			}
			// Nothing serves the port: abort, as a kernel would (RFC 9260 8.4).
			return sctpPacket(h.dst, h.src, h.initTag, []byte{chunkAbort, 0, 0, 4})
		})
	}
	return nil
}

func (r rawSCTP) probe(ctx context.Context, src *space, dst netip.Addr, port uint16, timeout time.Duration, tries int) (Outcome, error) {
	family := 4
	if dst.Is6() {
		family = 6
	}
	var conn *net.IPConn
	err := inNetns(src.ns, func() (err error) {
		conn, err = net.ListenIP(rawNetwork(family), nil)
		return err
	})
	if err != nil {
		return Failed, err
	}
	defer conn.Close()
	sport := uint16(49152 + random32()%16384)
	tag := random32()
	pkt := sctpPacket(sport, port, 0, initChunk(chunkInit, tag, random32(), nil))
	to := &net.IPAddr{IP: dst.AsSlice()}
	buf := make([]byte, 2048)
	for try := 0; try < max(tries, 1); try++ {
		if _, err := conn.WriteToIP(pkt, to); err != nil {
			return sendFailure(err), err
		}
		deadline := time.Now().Add(timeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		conn.SetReadDeadline(deadline)
		for {
			n, from, err := conn.ReadFromIP(buf)
			if err != nil {
				if isTimeout(err) {
					break
				}
				return Failed, err
			}
			fromAddr, _ := netip.AddrFromSlice(from.IP)
			h, ok := parseSCTP(buf[:n])
			if !ok || fromAddr.Unmap() != dst || h.src != port || h.dst != sport || h.vtag != tag {
				continue
			}
			switch h.chunk {
			case chunkInitAck:
				return Connected, nil
			case chunkAbort:
				return Refused, nil
			}
		}
		if ctx.Err() != nil {
			return Timeout, ctx.Err()
		}
	}
	return Timeout, nil
}

// --- kernel SCTP sockets ---

type kernelSCTP struct{}

func (kernelSCTP) String() string { return "kernel: real SCTP sockets" }

func (kernelSCTP) serve(tb *Testbed, s *space, ports map[uint16]bool) error {
	for port := range ports {
		var ln net.Listener
		err := inNetns(s.ns, func() error {
			fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_SCTP)
			if err != nil {
				return fmt.Errorf("SCTP socket: %w", err)
			}
			f := os.NewFile(uintptr(fd), "sctp")
			defer f.Close()
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			if err := unix.Bind(fd, &unix.SockaddrInet6{Port: int(port)}); err != nil {
				return fmt.Errorf("binding SCTP port %d: %w", port, err)
			}
			if err := unix.Listen(fd, 128); err != nil {
				return fmt.Errorf("listening on SCTP port %d: %w", port, err)
			}
			ln, err = net.FileListener(f)
			return err
		})
		if err != nil {
			return err
		}
		tb.acceptAndClose(ln)
	}
	return nil
}

func (kernelSCTP) probe(ctx context.Context, src *space, dst netip.Addr, port uint16, timeout time.Duration, _ int) (Outcome, error) {
	var fd int
	err := inNetns(src.ns, func() (err error) {
		family := unix.AF_INET
		if dst.Is6() {
			family = unix.AF_INET6
		}
		fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_SCTP)
		return err
	})
	if err != nil {
		return Failed, err
	}
	defer unix.Close(fd)
	var sa unix.Sockaddr
	if dst.Is4() {
		sa = &unix.SockaddrInet4{Port: int(port), Addr: dst.As4()}
	} else {
		sa = &unix.SockaddrInet6{Port: int(port), Addr: dst.As16()}
	}
	if err := unix.Connect(fd, sa); err != nil && !errors.Is(err, unix.EINPROGRESS) {
		return connectFailure(err), err
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	for {
		wait := time.Until(deadline)
		if wait <= 0 {
			return Timeout, nil
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(pfd, int(wait.Milliseconds())+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return Failed, err
		}
		if n == 0 {
			return Timeout, nil
		}
		soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			return Failed, err
		}
		if soerr != 0 {
			e := unix.Errno(soerr)
			return connectFailure(e), e
		}
		return Connected, nil
	}
}
