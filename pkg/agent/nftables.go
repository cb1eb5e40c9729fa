package agent

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netwarden/netwarden/pkg/dataplane"
	"github.com/netwarden/netwarden/pkg/policy"
)

// NFTables is the Dataplane of a real node: one nftables table, written over a kept
// netlink connection. An incremental sync writes only the difference from the last
// program (set elements, and the sets and chains only one of them has) in one atomic
// transaction; a full sync, and any sync after a failure, replaces the whole table
// atomically.
//
// Unless established connections are kept, the connections a new program denies are
// cut by deleting their conntrack entries. That can walk the node's whole conntrack
// table, so it runs beside the sync loop, on its own connection, right after each write:
// new connections meet the new rules as soon as the write returns, and established ones
// lose their entry a moment later (their next packet is then new and meets the rules).
// After an incremental write it reads the table only when the change may deny something
// (dataplane.DenialScope), and judges only the connections of the addresses concerned.
type NFTables struct {
	conn *dataplane.Conn
	opts dataplane.Options
	// last is what the kernel holds, as far as we know; nil after a failure, so the
	// next write replaces the table whole.
	last   *dataplane.Program
	forget *forgetter // nil when established connections are kept

	// current is last, for readers outside the sync loop (metrics, flow logs).
	current atomic.Pointer[dataplane.Program]
	netns   string
	readMu  sync.Mutex
	reader  *dataplane.Conn // for counters, opened on first use: never the writing one
}

var _ Dataplane = (*NFTables)(nil)

// writeMu serializes kernel writes of every NFTables in the process: google/nftables
// v0.3.0 numbers new sets from a package-level counter without a lock, so two
// connections writing at once (several agents in one process, as in the tests) race.
// One agent per process never contends for it.
var writeMu sync.Mutex

// OpenNFTables connects to nftables in the network namespace at netnsPath ("" for the
// agent's own, which with hostNetwork is the node's). It changes nothing in the kernel:
// a table left by an earlier run stays in force until the first Program replaces it.
func OpenNFTables(netnsPath string, opts dataplane.Options) (*NFTables, error) {
	if opts.TableName == "" {
		opts.TableName = dataplane.DefaultTableName
	}
	c, err := dataplane.Open(netnsPath)
	if err != nil {
		return nil, err
	}
	n := &NFTables{conn: c, opts: opts, netns: netnsPath}
	if !opts.KeepEstablished {
		fc, err := dataplane.Open(netnsPath)
		if err != nil {
			c.Close()
			return nil, err
		}
		n.forget = newForgetter(fc)
	}
	return n, nil
}

// Program compiles e for the local pods and writes it.
func (n *NFTables) Program(e *policy.Engine, local []int32, full bool) (ProgramStats, error) {
	var st ProgramStats
	start := time.Now()
	opts := n.opts
	opts.KeepEstablished = true // the forgetter cuts denied connections, off the write path
	p, err := dataplane.Compile(e, local, opts)
	if err != nil {
		return st, fmt.Errorf("compiling nftables rules: %w", err)
	}
	st.Compile = time.Since(start)
	for _, s := range p.Sets {
		st.SetElements += len(s.Elements)
	}
	writeMu.Lock()
	defer writeMu.Unlock()
	start = time.Now()
	old := n.last
	n.last = nil
	st.Written = st.SetElements
	if !full {
		// A union that changed keeps its set's name, so only its difference is written.
		p.Inherit(old)
	}
	d, ok := dataplane.Diff(old, p)
	st.Diff = time.Since(start)
	start = time.Now()
	if ok && !full {
		st.Incremental, st.Written = true, d.Elements(p)
		err = n.conn.ApplyDelta(p, d)
	} else {
		err = n.conn.Apply(p)
	}
	st.Write = time.Since(start)
	if err != nil {
		st.Incremental = false
		return st, err
	}
	n.last = p
	n.current.Store(p)
	if n.forget != nil {
		if st.Incremental {
			n.forget.submit(change{old, p, d})
		} else {
			n.forget.submit(change{new: p})
		}
	}
	return st, nil
}

// Current returns the program the kernel was last given (nil before the first write). A
// failed write leaves the rules of the one before in force, and Current keeps naming it.
func (n *NFTables) Current() *dataplane.Program { return n.current.Load() }

// Counters reads the table's counters from the kernel, on a connection of its own so
// that a scrape never waits for a write.
func (n *NFTables) Counters() (map[string]dataplane.Counts, error) {
	n.readMu.Lock()
	defer n.readMu.Unlock()
	if n.reader == nil {
		c, err := dataplane.Open(n.netns)
		if err != nil {
			return nil, err
		}
		n.reader = c
	}
	counts, err := n.reader.Counters(n.opts.TableName)
	if err != nil {
		n.reader.Close() // a fresh connection next time
		n.reader = nil
	}
	return counts, err
}

// OnConnectionsCut sets a function called after each conntrack cleanup with the number
// of connections cut, the time it took and its error.
func (n *NFTables) OnConnectionsCut(f func(cut int, took time.Duration, err error)) {
	if n.forget != nil {
		n.forget.mu.Lock()
		n.forget.hook = f
		n.forget.mu.Unlock()
	}
}

// Uninstall deletes the table, and with it every rule the agent made.
func (n *NFTables) Uninstall() error {
	writeMu.Lock()
	defer writeMu.Unlock()
	n.last = nil
	return n.conn.UninstallTable(n.opts.TableName)
}

// Close stops the conntrack cleanup and closes the netlink connections; the table stays.
func (n *NFTables) Close() error {
	if n.forget != nil {
		n.forget.close()
	}
	n.readMu.Lock()
	if n.reader != nil {
		n.reader.Close()
	}
	n.readMu.Unlock()
	return n.conn.Close()
}

// forgetter deletes the conntrack entries of connections the latest program denies.
// Changes submitted while it works are taken together next: the newest program (the one
// in the kernel) judges the connections any of them may deny, since a connection could
// have started under any program in between.
type forgetter struct {
	conn *dataplane.Conn
	kick chan struct{}
	done chan struct{}

	mu      sync.Mutex
	pending []change
	hook    func(int, time.Duration, error)
	// trace, if set (by tests), is told each cleanup's time to find the scope and whole.
	trace func(scope, total time.Duration)
	stop  bool
	// failed: the last cleanup may have left connections it should have cut, so the
	// next one judges every connection.
	failed bool
}

// change is one write: from old to new by d, or (old nil) the table replaced whole.
type change struct {
	old, new *dataplane.Program
	d        dataplane.Delta
}

func newForgetter(c *dataplane.Conn) *forgetter {
	f := &forgetter{conn: c, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go f.loop()
	return f
}

func (f *forgetter) submit(c change) {
	f.mu.Lock()
	if c.old == nil {
		f.pending = nil // everything is judged anyway
	}
	f.pending = append(f.pending, c)
	f.mu.Unlock()
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

func (f *forgetter) loop() {
	defer close(f.done)
	for range f.kick {
		f.mu.Lock()
		pending, hook, trace, stop := f.pending, f.hook, f.trace, f.stop
		f.pending = nil
		f.mu.Unlock()
		if stop {
			return
		}
		if len(pending) == 0 {
			continue
		}
		start := time.Now()
		var scope dataplane.DenyScope
		if f.failed {
			scope = dataplane.DenyAll()
		}
		for _, c := range pending {
			scope = scope.Union(dataplane.DenialScope(c.old, c.new, c.d))
		}
		scoped := time.Since(start)
		st, err := f.conn.ForgetDeniedIn(pending[len(pending)-1].new, scope)
		f.failed = err != nil
		if hook != nil {
			hook(st.Deleted, time.Since(start), err)
		}
		if trace != nil {
			trace(scoped, time.Since(start))
		}
	}
}

func (f *forgetter) close() {
	f.mu.Lock()
	f.stop = true
	f.mu.Unlock()
	select {
	case f.kick <- struct{}{}:
	default:
	}
	<-f.done
	f.conn.Close()
}
