package flowlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/netwarden/netwarden/pkg/dataplane"
	"github.com/netwarden/netwarden/pkg/policy"
)

// Config is the flow log of one node's agent.
type Config struct {
	// NetNS is the network namespace the dataplane's table is in ("" for the agent's
	// own, else /var/run/netns/NAME), as given to dataplane.Open.
	NetNS string
	// Group is the NFLOG group of the program's log rules (dataplane.LogOptions.Group);
	// dataplane.DefaultLogGroup when 0.
	Group uint16
	// Node names the node in records.
	Node string
	// Allowed: the program logs allowed connections too (LogOptions.Allowed).
	Allowed bool
	// Buffer is how many recent records GET /flows can show (DefaultBuffer when 0).
	Buffer int
	// Writer, when set, gets every record as a JSON line (the agent's --flow-log file).
	Writer io.Writer
}

// Log is the flow log pipeline of a node: the NFLOG reader, attribution against the
// state in force, the hub of recent records and its HTTP handler. The agent makes one
// with New, calls SetState after every sync, runs Run on a goroutine and mounts
// Handler at FlowsPath.
type Log struct {
	cfg   Config
	hub   *Hub
	state atomic.Pointer[Attributor]

	mu     sync.Mutex
	reader *Reader

	unattributed atomic.Uint64
}

// New makes a flow log; nothing is read until Run.
func New(cfg Config) *Log {
	if cfg.Group == 0 {
		cfg.Group = dataplane.DefaultLogGroup
	}
	l := &Log{cfg: cfg, hub: NewHub(cfg.Buffer)}
	l.state.Store(NewAttributor(l.options(), nil, nil))
	return l
}

func (l *Log) options() Options { return Options{Node: l.cfg.Node, Allowed: l.cfg.Allowed} }

// SetState gives the engine and the accounts of the program now in force (after the
// kernel has it): packets logged from then on are attributed against them. Safe to
// call from any goroutine.
func (l *Log) SetState(e *policy.Engine, accounts Accounts) {
	l.state.Store(NewAttributor(l.options(), e, accounts))
}

// Handle attributes one logged packet and publishes its record. Run calls it for
// every packet read; tests and other sources may call it too.
func (l *Log) Handle(m Message) {
	rec, ok := l.state.Load().Attribute(m)
	if !ok {
		l.unattributed.Add(1)
		return
	}
	l.hub.Publish(rec)
}

// Run reads the NFLOG group in the namespace until ctx is done (then it returns nil),
// or fails to start (the group is taken, no privileges) or to read. It also writes
// records to Config.Writer while it runs.
func (l *Log) Run(ctx context.Context) error {
	r, err := Listen(l.cfg.NetNS, l.cfg.Group)
	if err != nil {
		return err
	}
	defer r.Close()
	l.mu.Lock()
	l.reader = r
	l.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var werr error
	if l.cfg.Writer != nil {
		sub := l.hub.writer()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sub.write(ctx, l.cfg.Writer); err != nil {
				werr = fmt.Errorf("write flow log: %w", err)
				cancel()
			}
		}()
	}
	err = r.Run(ctx, l.Handle)
	cancel()
	wg.Wait()
	return errors.Join(err, werr)
}

// Hub is the log's hub of records.
func (l *Log) Hub() *Hub { return l.hub }

// Handler serves GET /flows (Hub.Handler).
func (l *Log) Handler() http.Handler { return l.hub.Handler() }

// Stats are the flow log's counts.
type Stats struct {
	Reader ReaderStats
	Hub    HubStats
	// Unattributed counts logged packets that made no record: a prefix netwarden did
	// not write, or an audit line the audit policies would allow.
	Unattributed uint64
}

// Stats returns the counts so far.
func (l *Log) Stats() Stats {
	s := Stats{Hub: l.hub.Stats(), Unattributed: l.unattributed.Load()}
	l.mu.Lock()
	if l.reader != nil {
		s.Reader = l.reader.Stats()
	}
	l.mu.Unlock()
	return s
}

// Collectors are the flow log's Prometheus metrics, for the agent's registry.
func (l *Log) Collectors() []prometheus.Collector {
	counter := func(name, help string, v func(Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "netwarden_agent", Subsystem: "flowlog", Name: name, Help: help},
			func() float64 { return float64(v(l.Stats())) })
	}
	return []prometheus.Collector{
		counter("received_total", "NFLOG messages read.", func(s Stats) uint64 { return s.Reader.Received }),
		counter("lost_total", "NFLOG messages the kernel dropped because the reader fell behind (gaps in their sequence).", func(s Stats) uint64 { return s.Reader.Lost }),
		counter("overflows_total", "Times the NFLOG socket overflowed (ENOBUFS).", func(s Stats) uint64 { return s.Reader.Overflows }),
		counter("invalid_total", "NFLOG messages that could not be read.", func(s Stats) uint64 { return s.Reader.Invalid }),
		counter("unattributed_total", "Logged packets that made no record (foreign prefix, or audit lines the audit policies would allow).", func(s Stats) uint64 { return s.Unattributed }),
		counter("records_total", "Flow records published.", func(s Stats) uint64 { return s.Hub.Published }),
		counter("subscriber_drops_total", "Flow records live followers (and the flow log file) lost by falling behind.", func(s Stats) uint64 { return s.Hub.Dropped }),
	}
}
