package testbed

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/netwarden/netwarden/pkg/policy"
)

// serve starts, in every pod's namespace, a server on each of its ports: TCP and SCTP
// accept and close, UDP echoes. Sockets are created inside the pod's namespace and
// served from ordinary goroutines. Pods sharing a namespace (hostNetwork pods on one
// node) share servers.
func (tb *Testbed) serve() error {
	type key struct {
		space *space
		port  policy.Port
	}
	started := map[key]bool{}
	// Every namespace answers SCTP, if only to abort, as a kernel with SCTP would.
	sctpPorts := map[*space]map[uint16]bool{}
	for i, p := range tb.Spec.Pods {
		s := tb.pods[i]
		if sctpPorts[s] == nil {
			sctpPorts[s] = map[uint16]bool{}
		}
		for _, pt := range p.Ports {
			k := key{s, pt}
			if started[k] || !pt.HasPort() {
				continue
			}
			started[k] = true
			var err error
			switch pt.Proto {
			case policy.ProtoTCP:
				err = tb.serveTCP(s, pt.Num)
			case policy.ProtoUDP:
				err = tb.serveUDP(s, pt.Num)
			case policy.ProtoSCTP:
				sctpPorts[s][pt.Num] = true
			}
			if err != nil {
				return fmt.Errorf("pod %s: serving %s: %w", p.Key, pt, err)
			}
		}
	}
	for s, ports := range sctpPorts {
		if err := tb.sctp.serve(tb, s, ports); err != nil {
			return fmt.Errorf("%s: serving SCTP: %w", s.name, err)
		}
	}
	return nil
}

// listenAddr is every address of both families: one dual-stack socket serves IPv4 and
// IPv6 probes.
func listenAddr(port uint16) string { return ":" + strconv.Itoa(int(port)) }

func (tb *Testbed) serveTCP(s *space, port uint16) error {
	var ln net.Listener
	err := inNetns(s.ns, func() (err error) {
		ln, err = net.Listen("tcp", listenAddr(port))
		return err
	})
	if err != nil {
		return err
	}
	tb.acceptAndClose(ln)
	return nil
}

// acceptAndClose accepts and at once closes every connection on ln (a completed handshake
// is all a probe needs) until the testbed closes, which closes ln and waits for the loop.
func (tb *Testbed) acceptAndClose(ln net.Listener) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			c.Close()
		}
	}()
	tb.onClose(func() error {
		err := ln.Close()
		wg.Wait()
		return err
	})
}

func (tb *Testbed) serveUDP(s *space, port uint16) error {
	var pc net.PacketConn
	err := inNetns(s.ns, func() (err error) {
		pc, err = net.ListenPacket("udp", listenAddr(port))
		return err
	})
	if err != nil {
		return err
	}
	tb.answerPackets(pc, func(pkt []byte, from net.Addr) []byte { return pkt })
	return nil
}

// answerPackets reads every packet on pc and sends back what answer returns for it (nil:
// no reply) until the testbed closes, which closes pc and waits for the loop.
func (tb *Testbed) answerPackets(pc net.PacketConn, answer func(pkt []byte, from net.Addr) []byte) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			if reply := answer(buf[:n], from); reply != nil {
				pc.WriteTo(reply, from)
			}
		}
	}()
	tb.onClose(func() error {
		err := pc.Close()
		wg.Wait()
		return err
	})
}
