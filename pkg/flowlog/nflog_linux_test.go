package flowlog

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netwarden/netwarden/pkg/dataplane"
	"github.com/netwarden/netwarden/pkg/policy"
)

// testNetns creates a network namespace with a veth pair (one end 10.77.0.1/24) and
// loads the nftables ruleset into it; all of it goes when the test ends, failed or not.
func testNetns(t *testing.T, ruleset string) (name, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace and an nftables table")
	}
	name = fmt.Sprintf("nwflow-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	sh(t, "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	sh(t, "ip", "-n", name, "link", "set", "lo", "up")
	// A veth pair with both ends in the namespace (this kernel may lack the dummy
	// driver): a datagram to 10.77.0.9 goes out nwa to nwb, which is in the namespace too
	// and has no address, so nothing ever leaves it.
	sh(t, "ip", "-n", name, "link", "add", "nwa", "type", "veth", "peer", "name", "nwb")
	sh(t, "ip", "-n", name, "addr", "add", "10.77.0.1/24", "dev", "nwa")
	sh(t, "ip", "-n", name, "link", "set", "nwa", "up")
	sh(t, "ip", "-n", name, "link", "set", "nwb", "up")
	f := filepath.Join(t.TempDir(), "rules.nft")
	if err := os.WriteFile(f, []byte(ruleset), 0o644); err != nil {
		t.Fatal(err)
	}
	// The table lives in the namespace and goes with it.
	sh(t, "ip", "netns", "exec", name, "nft", "-f", f)
	return name, "/var/run/netns/" + name
}

func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// sendUDP sends n datagrams from inside the namespace to 10.77.0.9, out of the veth
// pair's first end (the test's rulesets drop them on output anyway).
func sendUDP(t *testing.T, ns string, port, n int) {
	t.Helper()
	script := fmt.Sprintf(`for i in $(seq %d); do echo x 2>/dev/null >/dev/udp/10.77.0.9/%d; done; true`, n, port)
	sh(t, "ip", "netns", "exec", ns, "bash", "-c", script)
}

// collect runs a reader until want messages arrived or the wait is over.
type collector struct {
	mu   sync.Mutex
	msgs []Message
}

func (c *collector) add(m Message) { c.mu.Lock(); c.msgs = append(c.msgs, m); c.mu.Unlock() }
func (c *collector) get() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.msgs...)
}

func runReader(t *testing.T, r *Reader) (*collector, func()) {
	c := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, c.add) }()
	return c, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run after cancel: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after its context was cancelled")
		}
	}
}

func waitFor(c *collector, n int, d time.Duration) []Message {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && len(c.get()) < n {
		time.Sleep(20 * time.Millisecond)
	}
	return c.get()
}

const testGroup = 27

func TestReaderReadsLoggedPacket(t *testing.T) {
	prefix := dataplane.LogPrefix(dataplane.LogDeny, "acct_x")
	ns, path := testNetns(t, fmt.Sprintf(`table inet nwflowtest {
	chain out {
		type filter hook output priority 0; policy accept;
		udp dport 40000 log prefix %q group %d drop
	}
}
`, prefix, testGroup))
	r, err := Listen(path, testGroup)
	if err != nil {
		t.Fatal(err)
	}
	c, stop := runReader(t, r)
	sendUDP(t, ns, 40000, 1)
	msgs := waitFor(c, 1, 5*time.Second)
	stop()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1 (stats %+v)", len(msgs), r.Stats())
	}
	m := msgs[0]
	h := m.Packet
	if m.Prefix != prefix || m.Group != testGroup || !m.HasSeq {
		t.Errorf("prefix %q group %d seq %v, want %q %d with a sequence number", m.Prefix, m.Group, m.HasSeq, prefix, testGroup)
	}
	if k, name, ok := dataplane.ParseLogPrefix(m.Prefix); !ok || k != dataplane.LogDeny || name != "acct_x" {
		t.Errorf("ParseLogPrefix(%q) = %c %q %v", m.Prefix, k, name, ok)
	}
	if h.Src != netip.MustParseAddr("10.77.0.1") || h.Dst != netip.MustParseAddr("10.77.0.9") || h.Proto != policy.ProtoUDP || h.DstPort != 40000 || h.SrcPort == 0 {
		t.Errorf("packet %+v, want UDP 10.77.0.1:* -> 10.77.0.9:40000", h)
	}
	if time.Since(m.Time) > time.Minute || m.Time.After(time.Now()) {
		t.Errorf("time %v is not now", m.Time)
	}
}

func TestReaderSeesTheRateLimit(t *testing.T) {
	prefix := dataplane.LogPrefix(dataplane.LogDeny, "acct_limited")
	ns, path := testNetns(t, fmt.Sprintf(`table inet nwflowtest {
	chain out {
		type filter hook output priority 0; policy accept;
		udp dport 40001 limit rate 5/second log prefix %q group %d drop
		udp dport 40001 drop
	}
}
`, prefix, testGroup))
	r, err := Listen(path, testGroup)
	if err != nil {
		t.Fatal(err)
	}
	c, stop := runReader(t, r)
	start := time.Now()
	sendUDP(t, ns, 40001, 100)
	took := time.Since(start)
	time.Sleep(500 * time.Millisecond) // the last batch flushes after 50 ms
	stop()
	n := len(c.get())
	// 5 per second with a burst of 5: the burst plus what the rate refills while sending.
	bound := 5 + 5*int(took/time.Second+1) + 1
	t.Logf("%d of 100 datagrams logged in %v (bound %d)", n, took, bound)
	if n < 1 || n > bound {
		t.Errorf("%d lines logged from a burst of 100 at 5/second, want 1..%d", n, bound)
	}
}

func TestReaderCountsOverflowAndGoesOn(t *testing.T) {
	prefix := dataplane.LogPrefix(dataplane.LogDeny, "acct_flood")
	ns, path := testNetns(t, fmt.Sprintf(`table inet nwflowtest {
	chain out {
		type filter hook output priority 0; policy accept;
		udp dport 40002 log prefix %q group %d drop
	}
}
`, prefix, testGroup))
	r, err := Listen(path, testGroup)
	if err != nil {
		t.Fatal(err)
	}
	// A tiny buffer, and nobody reading while the flood comes: the socket overflows.
	forceReadBuffer(r.conn, 4096)
	sendUDP(t, ns, 40002, 400)
	c, stop := runReader(t, r)
	waitFor(c, 1, 2*time.Second)
	sendUDP(t, ns, 40002, 1) // the stream goes on after the overflow
	time.Sleep(300 * time.Millisecond)
	stop()
	st := r.Stats()
	t.Logf("stats after a flood of 400 into a 4 KiB buffer: %+v; %d delivered", st, len(c.get()))
	if st.Overflows == 0 {
		t.Errorf("no overflow counted: %+v", st)
	}
	if st.Lost == 0 {
		t.Errorf("no lost messages counted from the sequence numbers: %+v", st)
	}
	if len(c.get()) == 0 || uint64(len(c.get())) >= 401 {
		t.Errorf("%d delivered, want some but not all of 401", len(c.get()))
	}
}

func TestListenRefusesABoundGroup(t *testing.T) {
	_, path := testNetns(t, "table inet nwflowtest {}\n")
	r, err := Listen(path, testGroup)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r2, err := Listen(path, testGroup); err == nil {
		r2.Close()
		t.Fatal("a second reader bound the same group")
	} else if !strings.Contains(err.Error(), "another program") {
		t.Errorf("error %q does not say the group is taken", err)
	}
}
