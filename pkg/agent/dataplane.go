package agent

import (
	"time"

	"github.com/netwarden/netwarden/pkg/policy"
)

// Dataplane makes a node's kernel enforce a compiled engine for the node's pods.
type Dataplane interface {
	// Program makes the kernel enforce e for the pods local (indices into e.Pods). With
	// full it rewrites everything it owns (the periodic reconcile, which must repair any
	// drift); otherwise it may apply only the difference from its last successful
	// Program. It must leave the previous rules in force when it fails.
	Program(e *policy.Engine, local []int32, full bool) (ProgramStats, error)
	// Uninstall removes everything the dataplane put in the kernel.
	Uninstall() error
	Close() error
}

// ProgramStats describe one Program call.
type ProgramStats struct {
	// Compile is the time spent turning the engine into kernel objects, Diff the time
	// spent finding what differs from the last write (zero when the dataplane does not
	// say), Write the time spent writing.
	Compile, Diff, Write time.Duration
	// SetElements is how many set and map elements the programmed rules hold (-1 when
	// the dataplane cannot say).
	SetElements int
	// Written is how many elements the write sent to the kernel: all of them for a full
	// rewrite, the changed ones for a difference.
	Written int
	// Incremental is true when only a difference was written.
	Incremental bool
}
