package dataplane

import (
	"errors"
	"fmt"
	"os"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Conn is a kept netlink connection to nftables in one network namespace. It is not safe
// for concurrent use.
type Conn struct {
	nft     *nftables.Conn
	opts    []nftables.ConnOption
	netns   *os.File // nil for the current namespace
	table   string   // the table Uninstall deletes: the last one applied
	applied bool     // whether this connection applied that table
	// replaced counts whole-table transactions (Apply, and Updates that fell back to it).
	replaced int
}

// socketBuffer is the send and receive buffer forced on the netlink socket. A
// transaction goes to the kernel in one message, which must fit the send buffer, and the
// kernel acknowledges each of its parts, which must fit the receive buffer: 100,000
// elements make a transaction of a few megabytes.
const socketBuffer = 64 << 20

// maxBatch is how many elements go in one set-element message; the netlink attribute
// holding them is limited to 64 KiB.
const maxBatch = 1000

// Open connects to nftables in the network namespace at netnsPath (such as
// /var/run/netns/NAME), or in the current one when netnsPath is "". It needs root
// (CAP_NET_ADMIN).
func Open(netnsPath string) (*Conn, error) {
	c := &Conn{table: DefaultTableName}
	c.opts = []nftables.ConnOption{nftables.AsLasting(), nftables.WithSockOptions(forceBuffers)}
	if netnsPath != "" {
		f, err := os.Open(netnsPath)
		if err != nil {
			return nil, fmt.Errorf("open network namespace: %w", err)
		}
		c.netns = f
		c.opts = append(c.opts, nftables.WithNetNSFd(int(f.Fd())))
	}
	nft, err := nftables.New(c.opts...)
	if err != nil {
		c.closeNetns()
		return nil, fmt.Errorf("connect to nftables in %s (root needed): %w", nsName(netnsPath), err)
	}
	c.nft = nft
	return c, nil
}

func nsName(path string) string {
	if path == "" {
		return "the current network namespace"
	}
	return path
}

// discard drops a half-queued transaction: google/nftables only forgets queued messages
// when it sends them, so the connection is replaced.
func (c *Conn) discard(err error) error {
	c.nft.CloseLasting()
	nft, derr := nftables.New(c.opts...)
	if derr != nil {
		return errors.Join(err, fmt.Errorf("reconnect: %w", derr))
	}
	c.nft = nft
	return err
}

func forceBuffers(nl *netlink.Conn) error {
	rc, err := nl.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		for _, opt := range []int{unix.SO_SNDBUFFORCE, unix.SO_RCVBUFFORCE} {
			if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, opt, socketBuffer); e != nil && serr == nil {
				serr = fmt.Errorf("raise netlink socket buffers: %w", e)
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}

func (c *Conn) closeNetns() {
	if c.netns != nil {
		c.netns.Close()
		c.netns = nil
	}
}

// Close closes the connection. The table stays.
func (c *Conn) Close() error {
	var err error
	if c.nft != nil {
		err = c.nft.CloseLasting()
	}
	c.closeNetns()
	return err
}

func table(name string) *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyINet, Name: name}
}

// Apply replaces our table with the program in one atomic transaction: packets see the
// old table or the new one, never a mix, and no other table is touched. Unless the
// program keeps established connections, tracked connections it denies are then deleted
// from conntrack, so their next packets meet the new policy.
func (c *Conn) Apply(p *Program) error {
	// A whole rewrite makes the counters anew: they start from the counts of the table
	// they replace, so the periodic rewrite loses at most what is counted between this
	// read and the commit. (No table, no counts.)
	carried := c.carriedCounts(p.Table)
	if c.applied && c.table != p.Table {
		// The table was renamed: the one applied before goes in the same transaction.
		old := table(c.table)
		c.nft.AddTable(old)
		c.nft.DelTable(old)
	}
	t := table(p.Table)
	// Create-then-delete makes the delete succeed whether or not the table exists.
	c.nft.AddTable(t)
	c.nft.DelTable(t)
	c.nft.AddTable(t)
	// Objects first: rules count in them. nft lists them in the order they were made.
	for _, o := range p.Objects() {
		c.nft.AddObj(nftObject(t, o, carried[o.Name]))
	}
	chains := map[string]*nftables.Chain{}
	// Chains first: verdict map elements jump to them.
	for _, ch := range p.Chains {
		chains[ch.Name] = c.nft.AddChain(nftChain(t, ch))
	}
	ids := map[string]uint32{}
	for _, s := range p.Sets {
		ns := nftSet(t, s)
		if err := c.nft.AddSet(ns, nil); err != nil {
			return c.discard(fmt.Errorf("set %s: %w", s.Name, err))
		}
		ids[s.Name] = ns.ID
		if err := c.addElements(ns, nftElements(s, s.Elements)); err != nil {
			return c.discard(err)
		}
	}
	setID := func(name string) uint32 { return ids[name] }
	for _, ch := range p.Chains {
		for _, r := range ch.Rules {
			c.nft.AddRule(nftRule(t, chains[ch.Name], r, setID))
		}
	}
	c.replaced++
	if err := c.nft.Flush(); err != nil {
		return fmt.Errorf("apply table inet %s: %w", p.Table, err)
	}
	c.table, c.applied = p.Table, true
	return c.afterChange(p)
}

// carriedCounts reads the counters a whole rewrite carries over. A dump that another
// table's write interrupts can miss objects (the kernel marks it, google/nftables does
// not look), so two reads are merged: a counter missing from both starts from zero,
// which readers of the counters take for a reset.
func (c *Conn) carriedCounts(table string) map[string]Counts {
	out, _ := c.Counters(table)
	again, _ := c.Counters(table)
	if out == nil {
		return again
	}
	for name, n := range again {
		if n.Packets > out[name].Packets {
			out[name] = n
		}
	}
	return out
}

func (c *Conn) addElements(s *nftables.Set, es []nftables.SetElement) error {
	for len(es) > 0 {
		n := min(len(es), maxBatch)
		if err := c.nft.SetAddElements(s, es[:n]); err != nil {
			return fmt.Errorf("set %s: %w", s.Name, err)
		}
		es = es[n:]
	}
	return nil
}

func (c *Conn) delElements(s *nftables.Set, es []nftables.SetElement) error {
	for len(es) > 0 {
		n := min(len(es), maxBatch)
		if err := c.nft.SetDeleteElements(s, es[:n]); err != nil {
			return fmt.Errorf("set %s: %w", s.Name, err)
		}
		es = es[n:]
	}
	return nil
}

// Uninstall deletes our table (the one last applied, else the default), and with it
// everything netwarden put in the kernel. Nothing else is touched. Deleting a table that
// is not there is not an error.
func (c *Conn) Uninstall() error { return c.UninstallTable(c.table) }

// UninstallTable deletes the named inet table, as Uninstall does.
func (c *Conn) UninstallTable(name string) error {
	t := table(name)
	c.nft.AddTable(t)
	c.nft.DelTable(t)
	if err := c.nft.Flush(); err != nil {
		return fmt.Errorf("delete table inet %s: %w", name, err)
	}
	if name == c.table {
		c.applied = false
	}
	return nil
}

// afterChange deletes the tracked connections the new program denies, unless it keeps
// established connections.
func (c *Conn) afterChange(p *Program) error {
	if p.opts.KeepEstablished {
		return nil
	}
	if _, err := c.ForgetDenied(p); err != nil {
		return fmt.Errorf("table inet %s is applied, but forgetting the connections it denies failed: %w", p.Table, err)
	}
	return nil
}

// Update moves the kernel from old (what was applied) to new in one atomic transaction
// that writes only what differs (see Diff): changed set elements, and the sets and chains
// only one of them has. When Diff cannot express the change, or the kernel's table
// turns out not to be old, it applies new whole.
func (c *Conn) Update(old, new *Program) error {
	d, ok := Diff(old, new)
	if !ok {
		return c.Apply(new)
	}
	return c.applyDelta(old, new, d)
}

// ApplyDelta writes d, which Diff computed from the program the kernel holds to new, in
// one atomic transaction, as Update does. It lets a caller that already has the delta
// (to count or log it) not compute it twice.
func (c *Conn) ApplyDelta(new *Program, d Delta) error { return c.applyDelta(nil, new, d) }

// applyDelta writes d; knowing old (when not nil) lets the conntrack cleanup judge only
// the connections the change may deny (DenialScope) instead of every tracked one.
func (c *Conn) applyDelta(old, new *Program, d Delta) error {
	if c.applied && c.table != new.Table {
		return c.Apply(new)
	}
	if d.Empty() {
		return nil
	}
	if err := c.queueDelta(new, d); err != nil {
		return c.discard(err)
	}
	if err := c.nft.Flush(); err != nil {
		// The kernel's table is not what old describes (changed behind our back, or an
		// earlier update failed): replace it.
		return c.Apply(new)
	}
	c.table, c.applied = new.Table, true
	if old != nil && !new.opts.KeepEstablished {
		if _, err := c.ForgetDeniedAfter(old, new, d); err != nil {
			return fmt.Errorf("table inet %s is updated, but forgetting the connections it denies failed: %w", new.Table, err)
		}
		return nil
	}
	return c.afterChange(new)
}

// queueDelta queues the transaction that turns old into new. The order matters to the
// kernel's reference counts: what is new exists before anything refers to it, and what
// goes is unreferenced before it is deleted.
func (c *Conn) queueDelta(new *Program, d Delta) error {
	t := table(new.Table)
	for _, o := range d.AddObjects {
		c.nft.AddObj(nftObject(t, o, Counts{}))
	}
	// Chains before sets: the elements of new verdict maps jump to new chains.
	chains := map[string]*nftables.Chain{}
	for _, name := range d.AddChains {
		chains[name] = c.nft.AddChain(nftChain(t, new.Chain(name)))
	}
	ids := map[string]uint32{}
	for _, name := range d.AddSets {
		s := new.Set(name)
		ns := nftSet(t, s)
		if err := c.nft.AddSet(ns, nil); err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
		ids[name] = ns.ID
		if err := c.addElements(ns, nftElements(s, s.Elements)); err != nil {
			return err
		}
	}
	setID := func(name string) uint32 { return ids[name] } // 0: an existing set, by name
	for _, name := range d.AddChains {
		for _, r := range new.Chain(name).Rules {
			c.nft.AddRule(nftRule(t, chains[name], r, setID))
		}
	}
	for _, name := range sortedKeys(d.Delete) {
		s := new.Set(name)
		if err := c.delElements(nftSet(t, s), nftElements(s, d.Delete[name])); err != nil {
			return err
		}
	}
	for _, name := range d.Refill {
		s := new.Set(name)
		ns := nftSet(t, s)
		c.nft.FlushSet(ns)
		if err := c.addElements(ns, nftElements(s, s.Elements)); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(d.Add) {
		s := new.Set(name)
		if err := c.addElements(nftSet(t, s), nftElements(s, d.Add[name])); err != nil {
			return err
		}
	}
	// Rules first (a rule refers to the sets it looks up and the chains it goes to),
	// then the sets (a verdict map's elements refer to chains), then the chains, then
	// the objects the rules counted in.
	for _, name := range d.DeleteChains {
		c.nft.FlushChain(&nftables.Chain{Table: t, Name: name})
	}
	for _, name := range d.DeleteSets {
		c.nft.DelSet(&nftables.Set{Table: t, Name: name})
	}
	for _, name := range d.DeleteChains {
		c.nft.DelChain(&nftables.Chain{Table: t, Name: name})
	}
	// Last, the objects only the deleted rules counted in.
	for _, o := range d.DeleteObjects {
		c.nft.DeleteObject(nftObject(t, o, Counts{}))
	}
	return nil
}
