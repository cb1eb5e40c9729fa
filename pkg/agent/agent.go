package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netwarden/netwarden/pkg/flowlog"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// Config configures an Agent. Defaults fills in the zero fields.
type Config struct {
	// NodeName is the node whose pods this agent enforces policy for.
	NodeName string
	// ResyncPeriod is how often the whole rule set is rewritten even without events, which
	// repairs drift (a table deleted by hand, a write that failed half-way elsewhere).
	ResyncPeriod time.Duration
	// MinSyncInterval is the least time between the starts of two syncs: events arriving
	// closer together are coalesced into one sync.
	MinSyncInterval time.Duration
	// DiscoveryInterval is how often discovery is polled for the network-policy-api CRDs.
	DiscoveryInterval time.Duration
	Logger            *slog.Logger
	// Registerer receives the agent's metrics (nil: not registered anywhere).
	Registerer prometheus.Registerer
	// OnApplied, if set, is called after every successful sync, from the sync loop.
	OnApplied func(Applied)
	// RuleMetrics chooses how the kernel's per-rule counters are exported (when the
	// dataplane has them, see CounterSource): RuleDetailRule by default.
	RuleMetrics RuleDetail
	// Flows, if set, is the flow log the agent feeds and runs (flows.go); its metrics
	// join the Registerer's.
	Flows *flowlog.Log
}

// Default values of Config.
const (
	DefaultResyncPeriod      = time.Minute
	DefaultMinSyncInterval   = 50 * time.Millisecond
	DefaultDiscoveryInterval = 30 * time.Second
)

// Defaults fills in the zero fields.
func (c *Config) Defaults() {
	if c.ResyncPeriod == 0 {
		c.ResyncPeriod = DefaultResyncPeriod
	}
	if c.MinSyncInterval == 0 {
		c.MinSyncInterval = DefaultMinSyncInterval
	}
	if c.DiscoveryInterval == 0 {
		c.DiscoveryInterval = DefaultDiscoveryInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.RuleMetrics == "" {
		c.RuleMetrics = RuleDetailRule
	}
}

// Validate checks a defaulted Config.
func (c *Config) Validate() error {
	var errs []error
	if c.NodeName == "" {
		errs = append(errs, errors.New("the node name is empty (set --node-name or the NODE_NAME environment variable)"))
	}
	if c.ResyncPeriod < 0 || c.MinSyncInterval < 0 || c.DiscoveryInterval < 0 {
		errs = append(errs, errors.New("periods and intervals must not be negative"))
	}
	if _, err := ParseRuleDetail(string(c.RuleMetrics)); err != nil {
		errs = append(errs, fmt.Errorf("rule metrics %w", err))
	}
	if c.ResyncPeriod > 0 && c.MinSyncInterval > c.ResyncPeriod {
		errs = append(errs, fmt.Errorf("the minimum sync interval (%v) is longer than the resync period (%v)", c.MinSyncInterval, c.ResyncPeriod))
	}
	return errors.Join(errs...)
}

// Applied describes a successful sync: what the kernel enforces from then on.
type Applied struct {
	// Seq counts successful syncs from 1.
	Seq    int
	Reason SyncReason
	// Time is when the kernel write returned.
	Time     time.Time
	Snapshot *Snapshot
	// Engine is the snapshot compiled for this node: without the NetworkPolicies of
	// namespaces that have no pod on it (see nodeScope).
	Engine *policy.Engine
	// Local are the pods programmed as subjects (indices into Engine.Pods).
	Local []int32
	Stats ProgramStats
	// Rejected are the policies left out because they could not be compiled.
	Rejected []error
	// SnapshotTime and PolicyTime are the first two phases of the sync: reading the
	// caches, and compiling the policies (Stats has the dataplane's phases).
	SnapshotTime, PolicyTime time.Duration
	// Duration is the whole sync; Events the number of events it covered, and Oldest
	// when the oldest of them was received (zero without events).
	Duration time.Duration
	Events   int
	Oldest   time.Time
}

// Agent keeps one node's kernel in step with the API server.
type Agent struct {
	cfg   Config
	log   *slog.Logger
	cache *Cache
	dp    Dataplane
	run   *runner
	m     *Metrics

	ready      atomic.Bool
	syncStart  atomic.Int64 // unix nanoseconds of the running sync's start; 0 between syncs
	lastOK     atomic.Int64 // unix nanoseconds of the last successful sync
	mu         sync.Mutex
	last       Applied
	appliedCh  chan struct{} // closed and replaced at every successful sync
	lastLogged string
	// compiled is the last engine compiled, which the next compile reuses the pod work of
	// while the snapshot's pods, namespaces and nodes stay the same (sync loop only).
	compiled *policy.Engine
}

// New builds an agent that programs dp from the objects read with the clients. It does
// not talk to the API server or the kernel until Run.
func New(cfg Config, client kubernetes.Interface, dyn dynamic.Interface, disco discovery.DiscoveryInterface, dp Dataplane) (*Agent, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, log: cfg.Logger.With("node", cfg.NodeName), dp: dp, appliedCh: make(chan struct{})}
	a.m = NewMetrics(cfg.Registerer)
	if cfg.Flows != nil && cfg.Registerer != nil {
		for _, c := range cfg.Flows.Collectors() {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("registering the flow log metrics: %w", err)
			}
		}
	}
	if cs, ok := dp.(CounterSource); ok && cfg.Registerer != nil && cfg.RuleMetrics != RuleDetailOff {
		if err := cfg.Registerer.Register(newRuleCollector(cs, cfg.RuleMetrics)); err != nil {
			return nil, fmt.Errorf("registering the rule metrics: %w", err)
		}
	}
	a.run = newRunner(cfg.MinSyncInterval, cfg.ResyncPeriod)
	if dc, ok := dp.(interface {
		OnConnectionsCut(func(int, time.Duration, error))
	}); ok {
		dc.OnConnectionsCut(a.connectionsCut)
	}
	a.cache = NewCache(client, dyn, disco, CacheOptions{
		Logger:            a.log,
		DiscoveryInterval: cfg.DiscoveryInterval,
		OnEvent: func(kind string, at time.Time) {
			a.m.Events.WithLabelValues(kind).Inc()
			a.run.Event(at)
		},
	})
	return a, nil
}

func (a *Agent) connectionsCut(n int, took time.Duration, err error) {
	a.m.ConnsCut.Add(float64(n))
	a.m.CutDuration.Observe(took.Seconds())
	if err != nil {
		a.m.CutErrors.Inc()
		a.log.Error("cutting connections the new rules deny", "err", err, "cut", n)
	} else if n > 0 {
		a.log.Info("cut connections the new rules deny", "connections", n, "took", took.Round(time.Microsecond))
	}
}

// Cache returns the agent's object cache.
func (a *Agent) Cache() *Cache { return a.cache }

// Metrics returns the agent's metrics.
func (a *Agent) Metrics() *Metrics { return a.m }

// Run starts the informers, waits for their first list, programs the kernel and keeps it
// in step until ctx ends. It never removes the rules: on return the last programmed rules
// stay in force. It returns an error only when ctx ends before the first list.
func (a *Agent) Run(ctx context.Context) error {
	a.log.Info("starting", "resyncPeriod", a.cfg.ResyncPeriod, "minSyncInterval", a.cfg.MinSyncInterval)
	a.cache.Start(ctx)
	if err := a.cache.WaitForSync(ctx); err != nil {
		return err
	}
	a.log.Info("caches synced", "policyAPI", a.cache.Watched())
	if a.cfg.Flows != nil {
		done := make(chan struct{})
		defer func() { <-done }()
		go func() { defer close(done); a.runFlows(ctx) }()
	}
	a.run.loop(ctx, a.sync)
	a.log.Info("stopped; the last programmed rules stay in the kernel")
	return nil
}

// Ready reports whether the kernel enforces a complete snapshot (the first sync has
// succeeded).
func (a *Agent) Ready() bool { return a.ready.Load() }

// Applied returns the last successful sync (Seq 0 before the first).
func (a *Agent) Applied() Applied {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// WaitApplied waits until the last successful sync satisfies cond, and returns it.
func (a *Agent) WaitApplied(ctx context.Context, cond func(Applied) bool) (Applied, error) {
	for {
		a.mu.Lock()
		last, ch := a.last, a.appliedCh
		a.mu.Unlock()
		if last.Seq > 0 && cond(last) {
			return last, nil
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("waiting for a sync: %w", context.Cause(ctx))
		case <-ch:
		}
	}
}

func (a *Agent) sync(req syncRequest) error {
	start := time.Now()
	a.syncStart.Store(start.UnixNano())
	defer a.syncStart.Store(0)
	err := a.syncOnce(req, start)
	result := "success"
	if err != nil {
		result = "error"
		if errors.Is(err, errPending) {
			a.log.Debug("sync deferred", "reason", req.reason, "err", err)
		} else {
			a.log.Error("sync failed; the previous rules stay in force", "reason", req.reason, "err", err)
		}
	}
	a.m.Syncs.WithLabelValues(string(req.reason), result).Inc()
	return err
}

func (a *Agent) syncOnce(req syncRequest, start time.Time) error {
	snap, err := a.cache.Snapshot()
	if err != nil {
		a.m.SyncErrors.WithLabelValues("snapshot").Inc()
		return err
	}
	tSnap := time.Now()
	eng, rejected, err := compileTolerant(a.compiled, nodeScope(snap.Cluster, a.cfg.NodeName))
	if err != nil {
		a.m.SyncErrors.WithLabelValues("policy").Inc()
		return fmt.Errorf("compiling policies: %w", err)
	}
	a.compiled = eng
	tPolicy := time.Now()
	local := LocalPods(eng, a.cfg.NodeName)
	stats, err := a.dp.Program(eng, local, req.full)
	if err != nil {
		a.m.SyncErrors.WithLabelValues("dataplane").Inc()
		return fmt.Errorf("programming the kernel: %w", err)
	}
	end := time.Now()

	a.m.PhaseDuration.WithLabelValues("snapshot").Observe(tSnap.Sub(start).Seconds())
	a.m.PhaseDuration.WithLabelValues("policy").Observe(tPolicy.Sub(tSnap).Seconds())
	a.m.PhaseDuration.WithLabelValues("compile").Observe(stats.Compile.Seconds())
	a.m.PhaseDuration.WithLabelValues("diff").Observe(stats.Diff.Seconds())
	a.m.PhaseDuration.WithLabelValues("write").Observe(stats.Write.Seconds())
	a.m.SyncDuration.WithLabelValues(string(req.reason)).Observe(end.Sub(start).Seconds())
	if !req.oldest.IsZero() {
		a.m.EventToKernel.Observe(end.Sub(req.oldest).Seconds())
	}
	a.m.SyncedEvents.Add(float64(req.events))
	a.m.LocalPods.Set(float64(len(local)))
	a.m.ClusterPods.Set(float64(len(eng.Pods)))
	a.m.Policies.Set(float64(len(eng.Policies)))
	a.m.SetElements.Set(float64(stats.SetElements))
	a.m.Written.Add(float64(stats.Written))
	a.m.RejectedPolicy.Set(float64(len(rejected)))
	a.m.UnknownNS.Set(float64(len(snap.UnknownNamespaces)))
	a.m.LastSuccess.Set(float64(end.UnixNano()) / 1e9)
	a.m.Watched.Reset()
	for _, kv := range a.cache.Watched() {
		kind, version, _ := strings.Cut(kv, "/")
		a.m.Watched.WithLabelValues(kind, version).Set(1)
	}
	a.lastOK.Store(end.UnixNano())

	applied := Applied{Reason: req.reason, Time: end, Snapshot: snap, Engine: eng, Local: local, Stats: stats,
		Rejected: rejected, Duration: end.Sub(start), Events: req.events, Oldest: req.oldest,
		SnapshotTime: tSnap.Sub(start), PolicyTime: tPolicy.Sub(tSnap)}
	// Ready before published: whoever sees this sync sees the agent ready.
	first := !a.ready.Swap(true)
	a.flowState(applied)
	a.publish(applied)
	a.logSync(applied)
	if first {
		a.m.Ready.Set(1)
		a.log.Info("ready: the kernel enforces the cluster's policies", "localPods", len(local), "pods", len(eng.Pods),
			"policies", len(eng.Policies), "took", end.Sub(start).Round(time.Microsecond))
	}
	if a.cfg.OnApplied != nil {
		a.cfg.OnApplied(applied)
	}
	return nil
}

func (a *Agent) publish(ap Applied) {
	a.mu.Lock()
	ap.Seq = a.last.Seq + 1
	a.last = ap
	close(a.appliedCh)
	a.appliedCh = make(chan struct{})
	a.mu.Unlock()
}

// logSync logs every sync at debug level, and at info level when what is enforced
// changes in size or a problem appears or goes away, so the default log stays quiet
// under pod churn.
func (a *Agent) logSync(ap Applied) {
	attrs := []any{"reason", ap.Reason, "localPods", len(ap.Local), "pods", len(ap.Engine.Pods), "policies", len(ap.Engine.Policies),
		"setElements", ap.Stats.SetElements, "written", ap.Stats.Written, "incremental", ap.Stats.Incremental, "events", ap.Events,
		"took", ap.Duration.Round(time.Microsecond)}
	for _, err := range ap.Rejected {
		a.log.Error("policy left out: it cannot be compiled", "err", err)
	}
	if len(ap.Snapshot.UnknownNamespaces) > 0 {
		a.log.Warn("pods in namespaces not known yet are isolated until their Namespace object arrives",
			"namespaces", ap.Snapshot.UnknownNamespaces)
	}
	summary := fmt.Sprint(len(ap.Local), len(ap.Engine.Policies), len(ap.Rejected), len(ap.Snapshot.UnknownNamespaces))
	if summary != a.lastLogged || ap.Reason == ReasonInitial {
		a.lastLogged = summary
		a.log.Info("synced", attrs...)
		return
	}
	a.log.Debug("synced", attrs...)
}

// LocalPods lists the pods a node enforces policy for: on the node, not hostNetwork
// (those are the node itself), and with an address (before it has one a pod cannot
// send or receive).
func LocalPods(e *policy.Engine, node string) []int32 {
	var out []int32
	for i := range e.Pods {
		p := &e.Pods[i]
		if p.Pod.Spec.NodeName == node && !p.HostNetwork && len(p.IPs) > 0 {
			out = append(out, int32(i))
		}
	}
	return out
}

// compileTolerant compiles the cluster, leaving out each policy that cannot be compiled
// (only objects the API server did not validate, such as those of a CRD newer than
// netwarden, can fail) rather than freezing the whole node on the last good rules. It
// reuses prev's work on pods, namespaces and nodes when c has the same ones.
func compileTolerant(prev *policy.Engine, c *model.Cluster) (*policy.Engine, []error, error) {
	var rejected []error
	for {
		e, err := policy.CompileReusing(prev, c)
		if err == nil {
			return e, rejected, nil
		}
		var ce *policy.CompileError
		if !errors.As(err, &ce) {
			return nil, rejected, err
		}
		note, found := removePolicy(c, ce.Policy)
		if !found {
			return nil, rejected, err
		}
		if note != "" {
			err = fmt.Errorf("%w (the object could not be decoded: %s)", err, note)
		}
		rejected = append(rejected, err)
	}
}

// removePolicy drops the policy ref from c's slices, which the snapshot owns (the
// objects themselves are not touched), and returns the object's decode error, if any.
func removePolicy(c *model.Cluster, ref model.Ref) (decodeErr string, found bool) {
	drop := func(o metav1.Object) bool {
		if o.GetNamespace() != ref.Namespace || o.GetName() != ref.Name {
			return false
		}
		found = true
		decodeErr = o.GetAnnotations()[decodeErrorAnnotation]
		return true
	}
	switch ref.Kind {
	case model.KindNetworkPolicy:
		c.NetworkPolicies = slices.DeleteFunc(c.NetworkPolicies, func(o *networkingv1.NetworkPolicy) bool { return drop(o) })
	case model.KindAdminNetworkPolicy:
		c.AdminNetworkPolicies = slices.DeleteFunc(c.AdminNetworkPolicies, func(o *v1alpha1.AdminNetworkPolicy) bool { return drop(o) })
	case model.KindBaselineAdminNetworkPolicy:
		c.BaselineAdminNetworkPolicies = slices.DeleteFunc(c.BaselineAdminNetworkPolicies, func(o *v1alpha1.BaselineAdminNetworkPolicy) bool { return drop(o) })
	case model.KindClusterNetworkPolicy:
		c.ClusterNetworkPolicies = slices.DeleteFunc(c.ClusterNetworkPolicies, func(o *v1beta1.ClusterNetworkPolicy) bool { return drop(o) })
	}
	return decodeErr, found
}
