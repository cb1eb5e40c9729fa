package agent

import (
	"fmt"
	"sync"
	"time"

	"github.com/netwarden/netwarden/pkg/dataplane"
	"github.com/netwarden/netwarden/pkg/policy"
)

// NFTables is the Dataplane of a real node: one nftables table, written over a kept
// netlink connection. Syncs after the first change only set elements when the rules'
// structure is unchanged (pods coming and going); anything else, and every full sync,
// replaces the table in one atomic transaction.
type NFTables struct {
	conn *dataplane.Conn
	opts dataplane.Options
	// last is what the kernel holds, as far as we know; nil after a failure, so the
	// next write replaces the table whole.
	last *dataplane.Program
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
	return &NFTables{conn: c, opts: opts}, nil
}

// Program compiles e for the local pods and writes it.
func (n *NFTables) Program(e *policy.Engine, local []int32, full bool) (ProgramStats, error) {
	var st ProgramStats
	start := time.Now()
	p, err := dataplane.Compile(e, local, n.opts)
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
	if full || old == nil {
		err = n.conn.Apply(p)
	} else {
		_, st.Incremental = dataplane.Diff(old, p)
		err = n.conn.Update(old, p)
	}
	st.Write = time.Since(start)
	if err != nil {
		st.Incremental = false
		return st, err
	}
	n.last = p
	return st, nil
}

// Uninstall deletes the table, and with it every rule the agent made.
func (n *NFTables) Uninstall() error {
	writeMu.Lock()
	defer writeMu.Unlock()
	n.last = nil
	return n.conn.UninstallTable(n.opts.TableName)
}

// Close closes the netlink connection; the table stays.
func (n *NFTables) Close() error { return n.conn.Close() }
