package testbed

import (
	"fmt"
	"net/netip"

	"github.com/netwarden/netwarden/pkg/dataplane"
	"github.com/netwarden/netwarden/pkg/policy"
)

// TableName is the nftables table the testbed installs in every node.
const TableName = "netwarden"

// enforcement is the dataplane state of a testbed: a kept connection and the program
// applied, per node.
type enforcement struct {
	conns    []*dataplane.Conn
	programs []*dataplane.Program
}

// Enforce compiles e for every node, with that node's pods as the local ones, and applies
// each program to its node's namespace (replacing what an earlier call applied). The
// engine's pods must be the testbed's, in the same order: compile the cluster Plan wrote
// into.
func (tb *Testbed) Enforce(e *policy.Engine) error {
	if err := tb.samePodsAs(e); err != nil {
		return err
	}
	if tb.enf == nil {
		tb.enf = &enforcement{conns: make([]*dataplane.Conn, len(tb.nodes)), programs: make([]*dataplane.Program, len(tb.nodes))}
		tb.onClose(tb.closeEnforcement)
	}
	local := make([][]int32, len(tb.nodes))
	for i, p := range tb.Spec.Pods {
		local[p.Node] = append(local[p.Node], int32(i))
	}
	for i := range tb.nodes {
		prog, err := dataplane.Compile(e, local[i], dataplane.Options{TableName: TableName})
		if err != nil {
			return fmt.Errorf("compiling the dataplane for node %s: %w", tb.Spec.Nodes[i].Name, err)
		}
		if tb.enf.conns[i] == nil {
			c, err := dataplane.Open(tb.nodes[i].Path())
			if err != nil {
				return fmt.Errorf("node %s: %w", tb.Spec.Nodes[i].Name, err)
			}
			tb.enf.conns[i] = c
		}
		if err := tb.enf.conns[i].Apply(prog); err != nil {
			return fmt.Errorf("node %s: %w", tb.Spec.Nodes[i].Name, err)
		}
		tb.enf.programs[i] = prog
	}
	return nil
}

// Program returns the program applied to node i, or nil.
func (tb *Testbed) Program(i int) *dataplane.Program {
	if tb.enf == nil {
		return nil
	}
	return tb.enf.programs[i]
}

// programAllows is what the applied programs' own model says of a connection between two
// pods: the source node's forward chain and, across nodes, the destination's. It tells a
// compiler bug (the model disagrees with the engine) from a kernel-side one (the model
// agrees, the packets do not). ok is false when nothing was applied.
func (tb *Testbed) programAllows(from, to int, src, dst netip.Addr, port policy.Port) (allowed, ok bool) {
	if !tb.enforced() {
		return false, false
	}
	a, b := tb.Spec.Pods[from].Node, tb.Spec.Pods[to].Node
	allowed = tb.enf.programs[a].Allows(src, dst, port)
	if b != a {
		allowed = allowed && tb.enf.programs[b].Allows(src, dst, port)
	}
	return allowed, true
}

// enforced reports whether a program is applied to the nodes.
func (tb *Testbed) enforced() bool {
	return tb.enf != nil && len(tb.enf.programs) > 0 && tb.enf.programs[0] != nil
}

func (tb *Testbed) closeEnforcement() error {
	var first error
	for _, c := range tb.enf.conns {
		if c == nil {
			continue
		}
		if err := c.Uninstall(); err != nil && first == nil {
			first = err
		}
		c.Close()
	}
	return first
}

// samePodsAs checks that the engine's pods are the testbed's, index for index.
func (tb *Testbed) samePodsAs(e *policy.Engine) error {
	if len(e.Pods) != len(tb.Spec.Pods) {
		return fmt.Errorf("testbed: the engine has %d pods, the testbed %d: compile the cluster the testbed was planned from", len(e.Pods), len(tb.Spec.Pods))
	}
	for i, p := range e.Pods {
		if p.Key != tb.Spec.Pods[i].Key {
			return fmt.Errorf("testbed: pod %d is %s in the engine but %s in the testbed", i, p.Key, tb.Spec.Pods[i].Key)
		}
		for _, f := range tb.Spec.Families {
			want, _ := addressFor(tb.Spec.Pods[i].IPs, f)
			if got := e.PodEndpoint(int32(i), f).IP; got != want {
				return fmt.Errorf("testbed: pod %s has IPv%d address %v in the engine but %v in the testbed", p.Key, f, got, want)
			}
		}
	}
	return nil
}

// Unenforce removes the dataplane's table from every node, leaving the plain network;
// the next Enforce installs it again.
func (tb *Testbed) Unenforce() error {
	if tb.enf == nil {
		return nil
	}
	for i, c := range tb.enf.conns {
		if c == nil {
			continue
		}
		if err := c.Uninstall(); err != nil {
			return fmt.Errorf("node %s: %w", tb.Spec.Nodes[i].Name, err)
		}
		tb.enf.programs[i] = nil
	}
	return nil
}
