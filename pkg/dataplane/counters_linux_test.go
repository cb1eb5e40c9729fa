package dataplane

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// These tests build programs by hand (sets, a dispatch map, a chain per account) to pin
// the kernel side of accounting: statements as nft makes them, counter and limit objects
// in whole and incremental transactions, and reading the counts back. Traffic stays on
// the loopback of a namespace the test creates: each destination address of 127.0.0.0/8
// is dispatched to one account's chain.

// acctText is acctProgram(allow_tcp, deny_tcp, allow_udp, idle) as nft text, written by
// hand: the kernel must list the same table for it as for the netlink form.
const acctText = `table inet netwarden {
	counter acc_allow_tcp {
	}
	counter acc_allow_udp {
	}
	counter acc_deny_tcp {
	}
	counter acc_idle {
	}
	limit log_limit {
		rate 100/second burst 200 packets
	}
	map dispatch4 {
		type ipv4_addr : verdict
		elements = { 127.0.0.11 : goto acct_allow_tcp, 127.0.0.12 : goto acct_deny_tcp,
			127.0.0.13 : goto acct_allow_udp, 127.0.0.14 : goto acct_idle }
	}
	chain output {
		type filter hook output priority filter; policy accept;
		ct state established,related accept
		ip daddr vmap @dispatch4
	}
	chain acct_allow_tcp {
		counter name "acc_allow_tcp" accept
	}
	chain acct_allow_udp {
		counter name "acc_allow_udp" accept
	}
	chain acct_deny_tcp {
		counter name "acc_deny_tcp" limit name "log_limit" log prefix "nw:d:acc_deny_tcp" group 2718 drop
		drop
	}
	chain acct_idle {
		counter name "acc_idle" accept
	}
}
`

// loopbackNetns creates a namespace with its loopback up and returns its name, path and
// a handle for entering it.
func loopbackNetns(t *testing.T) (string, string, netns.NsHandle) {
	t.Helper()
	ns, path := newNetns(t)
	if out, err := exec.Command("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("loopback up: %v: %s", err, out)
	}
	h, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return ns, path, h
}

// inNetns runs f on a thread in ns; sockets f opens belong to ns.
func inNetns(ns netns.NsHandle, f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			done <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		ferr := f()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		done <- ferr
	}()
	return <-done
}

// traffic makes n TCP connections (or n UDP exchanges) to addr:port from a fresh socket
// each, in ns, with a server listening on addr (so that it answers from addr). A connect whose SYN
// was dropped gives up before TCP sends it again (the first retry is a second later), so
// each attempt is one packet; a dropped datagram gets no echo.
func traffic(t *testing.T, ns netns.NsHandle, proto string, addr netip.Addr, port uint16, n int) (ok, failed int) {
	t.Helper()
	dst := netip.AddrPortFrom(addr, port).String()
	err := inNetns(ns, func() error {
		switch proto {
		case "tcp":
			ln, err := net.Listen("tcp", dst)
			if err != nil {
				return err
			}
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
			for range n {
				c, err := net.DialTimeout("tcp", dst, 300*time.Millisecond)
				if err != nil {
					var ne net.Error
					if !errors.As(err, &ne) || !ne.Timeout() {
						return err
					}
					failed++
					continue
				}
				ok++
				c.Close()
			}
		case "udp":
			pc, err := net.ListenPacket("udp", dst)
			if err != nil {
				return err
			}
			defer pc.Close()
			go func() {
				buf := make([]byte, 1500)
				for {
					m, from, err := pc.ReadFrom(buf)
					if err != nil {
						return
					}
					pc.WriteTo(buf[:m], from)
				}
			}()
			for range n {
				c, err := net.Dial("udp", dst)
				if err != nil {
					return err
				}
				c.SetDeadline(time.Now().Add(300 * time.Millisecond))
				buf := make([]byte, 64)
				if _, err := c.Write([]byte("ping")); err == nil {
					if _, err := c.Read(buf); err == nil {
						ok++
					} else {
						failed++
					}
				} else {
					failed++
				}
				c.Close()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s to %s: %v", proto, dst, err)
	}
	return ok, failed
}

// countsRe matches the counts of a counter object in nft's listing.
var countsRe = regexp.MustCompile(`packets \d+ bytes \d+`)

func zeroCounts(s string) string { return countsRe.ReplaceAllString(s, "packets 0 bytes 0") }

// TestStatementsAreNftsOwn: a program with counter, limit and log statements loads
// through netlink and lists exactly as the same table written by hand in nft syntax.
func TestStatementsAreNftsOwn(t *testing.T) {
	needRoot(t)
	nsA, pathA := newNetns(t)
	nsB, _ := newNetns(t)
	c := openConn(t, pathA)
	if err := c.Apply(acctProgram(fourAccounts)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	viaNetlink := mustNft(t, nsA, "", "list", "table", "inet", "netwarden")
	mustNft(t, nsB, acctText, "-f", "-")
	viaText := mustNft(t, nsB, "", "list", "table", "inet", "netwarden")
	if viaNetlink != viaText {
		t.Fatalf("the kernel lists different tables for the netlink and the text forms\n--- netlink:\n%s\n--- nft -f:\n%s", viaNetlink, viaText)
	}
	for _, want := range []string{`counter name "acc_deny_tcp" limit name "log_limit" log prefix "nw:d:acc_deny_tcp" group 2718 drop`,
		"limit log_limit {\n\t\trate 100/second burst 200 packets\n\t}", "counter acc_idle {\n\t\tpackets 0 bytes 0\n\t}"} {
		if !strings.Contains(viaNetlink, want) {
			t.Errorf("the listing lacks %q:\n%s", want, viaNetlink)
		}
	}
}

// TestCountersCountWhatTheirRulesDecide: each account's counter counts the first packet
// of every connection its chain decided (allowed or denied), with its bytes, and nothing
// else; established packets never reach the account chains.
func TestCountersCountWhatTheirRulesDecide(t *testing.T) {
	needRoot(t)
	_, path, h := loopbackNetns(t)
	c := openConn(t, path)
	if err := c.Apply(acctProgram(fourAccounts)); err != nil {
		t.Fatal(err)
	}
	got, err := c.Counters(DefaultTableName)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range fourAccounts {
		if got["acc_"+n] != (Counts{}) {
			t.Fatalf("a new counter %s has counts %+v", n, got["acc_"+n])
		}
	}
	if len(got) != len(fourAccounts) {
		t.Fatalf("Counters read %d counters, want %d: %v", len(got), len(fourAccounts), got)
	}

	if ok, failed := traffic(t, h, "tcp", acctAddrs["allow_tcp"], 7001, 5); ok != 5 || failed != 0 {
		t.Fatalf("allowed TCP: %d connected, %d failed", ok, failed)
	}
	if ok, failed := traffic(t, h, "tcp", acctAddrs["deny_tcp"], 7002, 3); ok != 0 || failed != 3 {
		t.Fatalf("denied TCP: %d connected, %d failed", ok, failed)
	}
	if ok, failed := traffic(t, h, "udp", acctAddrs["allow_udp"], 7003, 4); ok != 4 || failed != 0 {
		t.Fatalf("allowed UDP: %d answered, %d not", ok, failed)
	}
	got, err = c.Counters(DefaultTableName)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		acct    string
		packets uint64
	}{
		{"acc_allow_tcp", 5}, // one SYN a connection; the rest is established
		{"acc_deny_tcp", 3},  // one SYN an attempt
		{"acc_allow_udp", 4}, // one datagram a socket; the echo is established
		{"acc_idle", 0},
	} {
		g := got[tc.acct]
		if g.Packets != tc.packets || (tc.packets > 0) != (g.Bytes > 0) {
			t.Errorf("%s counted %d packets, %d bytes; want %d packets and bytes if any", tc.acct, g.Packets, g.Bytes, tc.packets)
		}
	}
	if got["acc_allow_tcp"].Bytes < 5*40 {
		t.Errorf("5 SYNs are at least 200 bytes; counted %d", got["acc_allow_tcp"].Bytes)
	}
}

// TestCountsSurviveUpdates: an incremental update leaves the counters both programs
// have as they are (counts included), makes the new ones from zero, and deletes those
// no rule counts in any more, in the same transaction as the rules that used them; the
// kernel then holds what a fresh Apply would, counts aside.
// countedFourAccounts applies the four-account program in a loopback namespace of its
// own, sends 3 allowed and 2 denied TCP connections, and returns what it made and the
// counts read then.
func countedFourAccounts(t *testing.T) (ns string, h netns.NsHandle, c *Conn, p *Program, counts map[string]Counts) {
	t.Helper()
	needRoot(t)
	ns, path, h := loopbackNetns(t)
	c = openConn(t, path)
	p = acctProgram(fourAccounts)
	if err := c.Apply(p); err != nil {
		t.Fatal(err)
	}
	traffic(t, h, "tcp", acctAddrs["allow_tcp"], 7001, 3)
	traffic(t, h, "tcp", acctAddrs["deny_tcp"], 7002, 2)
	counts, err := c.Counters(DefaultTableName)
	if err != nil {
		t.Fatal(err)
	}
	return ns, h, c, p, counts
}

func TestCountsSurviveUpdates(t *testing.T) {
	ns, h, c, p1, before := countedFourAccounts(t)

	p2 := acctProgram(append(fourAccounts, "new"), netip.MustParseAddr("127.0.0.21"))
	p3 := acctProgram([]string{"allow_tcp", "allow_udp", "idle", "new"}, netip.MustParseAddr("127.0.0.21"))
	for _, step := range []struct {
		name        string
		old, new    *Program
		add, delete []string
	}{
		{"an element and an account come", p1, p2, []string{"acc_new"}, nil},
		{"nothing changes", p2, p2, nil, nil},
		{"an account goes with its chain", p2, p3, nil, []string{"acc_deny_tcp"}},
		{"an account comes back as another goes with its map", p3, p1, []string{"acc_deny_tcp"}, []string{"acc_new"}},
	} {
		d, ok := Diff(step.old, step.new)
		if !ok {
			t.Fatalf("%s: Diff refused", step.name)
		}
		var add, del []string
		for _, o := range d.AddObjects {
			add = append(add, o.Name)
		}
		for _, o := range d.DeleteObjects {
			del = append(del, o.Name)
		}
		if fmt.Sprint(add) != fmt.Sprint(step.add) || fmt.Sprint(del) != fmt.Sprint(step.delete) {
			t.Fatalf("%s: objects added %v, deleted %v; want %v, %v", step.name, add, del, step.add, step.delete)
		}
		replaced := c.replaced
		if err := c.Update(step.old, step.new); err != nil {
			t.Fatalf("%s: Update: %v", step.name, err)
		}
		if c.replaced != replaced {
			t.Fatalf("%s: Update replaced the whole table", step.name)
		}
		got, err := c.Counters(DefaultTableName)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range step.delete {
			delete(before, o) // an account coming back later starts from zero
		}
		for _, a := range step.new.Accounts {
			want := before[a.Name] // zero for a new one
			if got[a.Name] != want {
				t.Errorf("%s: %s counts %+v, want %+v", step.name, a.Name, got[a.Name], want)
			}
		}
		if len(got) != len(step.new.Accounts) {
			t.Errorf("%s: %d counters in the kernel, %d accounts: %v", step.name, len(got), len(step.new.Accounts), got)
		}
		fresh, freshPath := newNetns(t)
		fc := openConn(t, freshPath)
		if err := fc.Apply(step.new); err != nil {
			t.Fatal(err)
		}
		if got, want := zeroCounts(listing(t, ns)), listing(t, fresh); got != want {
			t.Fatalf("%s: after Update the kernel holds\n%s\nwant\n%s", step.name, got, want)
		}
	}
	// The counts go on from where they were.
	traffic(t, h, "tcp", acctAddrs["allow_tcp"], 7001, 2)
	got, err := c.Counters(DefaultTableName)
	if err != nil {
		t.Fatal(err)
	}
	if g := got["acc_allow_tcp"].Packets; g != before["acc_allow_tcp"].Packets+2 {
		t.Errorf("acc_allow_tcp counted %d packets after the updates, want %d", g, before["acc_allow_tcp"].Packets+2)
	}
}

// TestCountersWhileAnotherConnWrites: a second connection reads the counters while the
// first keeps updating the table (objects coming and going) and replacing it; every read
// succeeds and holds the counters every version has.
func TestCountersWhileAnotherConnWrites(t *testing.T) {
	needRoot(t)
	_, path, _ := loopbackNetns(t)
	writer, reader := openConn(t, path), openConn(t, path)
	p1 := acctProgram(fourAccounts)
	p2 := acctProgram(append(fourAccounts, "new"), netip.MustParseAddr("127.0.0.21"))
	if err := writer.Apply(p1); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writeErr error
	writes := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		cur := p1
		for {
			select {
			case <-stop:
				return
			default:
			}
			next := p2
			if cur == p2 {
				next = p1
			}
			var err error
			if writes%5 == 4 {
				err = writer.Apply(next)
			} else {
				err = writer.Update(cur, next)
			}
			if err != nil {
				writeErr = err
				return
			}
			cur = next
			writes++
		}
	}()
	deadline := time.Now().Add(time.Second)
	reads := 0
	for time.Now().Before(deadline) {
		got, err := reader.Counters(DefaultTableName)
		if err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("read %d: %v", reads, err)
		}
		for _, n := range fourAccounts {
			if _, ok := got["acc_"+n]; !ok {
				t.Errorf("read %d lacks acc_%s: %v", reads, n, got)
			}
		}
		reads++
	}
	close(stop)
	wg.Wait()
	if writeErr != nil {
		t.Fatal(writeErr)
	}
	t.Logf("%d reads during %d writes", reads, writes)
	if got, err := reader.Counters("no-such-table"); err != nil || len(got) != 0 {
		t.Errorf("a table that does not exist has counters %v (error %v); want none", got, err)
	}
}
