package agent

import (
	"context"
	"time"

	"github.com/netwarden/netwarden/pkg/dataplane"
	"github.com/netwarden/netwarden/pkg/flowlog"
)

// The flow log: the agent hands every state it programs to a flowlog.Log (Config.Flows),
// which reads the packets the kernel logs through NFLOG (the program's log rules,
// dataplane.LogOptions) and names what decided each one from that state.

// programSource is a dataplane that can say which program the kernel has; the flow log
// needs its accounts to name the rules in log prefixes.
type programSource interface {
	Current() *dataplane.Program
}

// flowState gives the flow log the state just programmed. Packets logged before it are
// still attributed against the previous one, which the kernel enforced until now.
func (a *Agent) flowState(ap Applied) {
	if a.cfg.Flows == nil {
		return
	}
	var accounts flowlog.Accounts
	if ps, ok := a.dp.(programSource); ok {
		if p := ps.Current(); p != nil {
			accounts = p.Account
		}
	}
	a.cfg.Flows.SetState(ap.Engine, accounts)
}

// flowRetry is how long the flow log waits before trying again to read the kernel's log.
const flowRetry = 5 * time.Second

// runFlows reads the kernel's log until ctx ends. A reader that cannot start or stops is
// logged and retried: flow records are for people, and enforcement never waits for them.
func (a *Agent) runFlows(ctx context.Context) {
	for {
		a.log.Info("flow log: reading the kernel's log")
		err := a.cfg.Flows.Run(ctx)
		if ctx.Err() != nil {
			return
		}
		a.log.Error("flow log: cannot read the kernel's log; retrying", "err", err, "in", flowRetry)
		select {
		case <-ctx.Done():
			return
		case <-time.After(flowRetry):
		}
	}
}
