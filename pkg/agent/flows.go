package agent

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/netwarden/netwarden/pkg/dataplane"
	"github.com/netwarden/netwarden/pkg/flowlog"
)

// FlowConfig turns on the flow log: the agent reads the packets the kernel logs through
// NFLOG (the program's log rules, dataplane.LogOptions) and names what decided each one
// from the state it programmed.
type FlowConfig struct {
	// Netns is the network namespace whose kernel logs ("" for the agent's own), the
	// one the dataplane programs.
	Netns string
	// Group is the NFLOG group of the program's log rules.
	Group uint16
	// Allowed: the program logs allowed connections too, and they are wanted.
	Allowed bool
	// OnRecord receives every record, from one goroutine, in the order logged.
	OnRecord func(flowlog.Record)
}

// Current is what the dataplane last programmed; the flow log needs its accounts.
type programSource interface {
	Current() *dataplane.Program
}

// runFlows reads the kernel's log until ctx ends. A reader that cannot start is logged
// and retried: flow records are for people, enforcement never waits for them.
func (a *Agent) runFlows(ctx context.Context) {
	fc := a.cfg.Flows
	var r *flowlog.Reader
	for {
		var err error
		r, err = flowlog.Listen(fc.Netns, fc.Group)
		if err == nil {
			break
		}
		a.log.Error("flow log: cannot read the kernel's log; retrying", "group", fc.Group, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
	}
	defer r.Close()
	if a.cfg.Registerer != nil {
		lost := prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "flow_log_lost_total",
			Help: "Logged packets the agent did not receive (its socket overflowed, or sequence numbers skipped)."},
			func() float64 { return float64(r.Stats().Lost) })
		if err := a.cfg.Registerer.Register(lost); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				a.log.Error("flow log: registering its metrics", "err", err)
			}
		}
	}
	a.log.Info("flow log: reading the kernel's log", "group", fc.Group)

	var seq int
	var attr *flowlog.Attributor
	err := r.Run(ctx, func(m flowlog.Message) {
		ap := a.Applied()
		if attr == nil || ap.Seq != seq {
			// A new state: name packets with what the kernel enforces from now on.
			seq = ap.Seq
			var accounts flowlog.Accounts
			if ps, ok := a.dp.(programSource); ok {
				if p := ps.Current(); p != nil {
					accounts = p.Account
				}
			}
			attr = flowlog.NewAttributor(flowlog.Options{Node: a.cfg.NodeName, Allowed: fc.Allowed}, ap.Engine, accounts)
		}
		rec, ok := attr.Attribute(m)
		if !ok {
			return
		}
		a.m.FlowRecords.WithLabelValues(rec.Verdict, auditLabel(rec)).Inc()
		if fc.OnRecord != nil {
			fc.OnRecord(rec)
		}
	})
	if err != nil && ctx.Err() == nil {
		a.log.Error("flow log: reading stopped", "err", err)
	}
}

func auditLabel(rec flowlog.Record) string {
	if rec.Audit == nil {
		return ""
	}
	return rec.Audit.Verdict
}
