package agent

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const metricsNamespace = "netwarden_agent"

// Metrics are the agent's Prometheus metrics. Each agent has its own set, registered
// with the registerer it is given, so tests can run several agents in one process.
type Metrics struct {
	Syncs          *prometheus.CounterVec
	SyncErrors     *prometheus.CounterVec
	SyncDuration   *prometheus.HistogramVec
	PhaseDuration  *prometheus.HistogramVec
	EventToKernel  prometheus.Histogram
	Events         *prometheus.CounterVec
	SyncedEvents   prometheus.Counter
	LocalPods      prometheus.Gauge
	ClusterPods    prometheus.Gauge
	Policies       prometheus.Gauge
	SetElements    prometheus.Gauge
	Written        prometheus.Counter
	RejectedPolicy prometheus.Gauge
	UnknownNS      prometheus.Gauge
	LastSuccess    prometheus.Gauge
	Ready          prometheus.Gauge
	Watched        *prometheus.GaugeVec
	ConnsCut       prometheus.Counter
	CutErrors      prometheus.Counter
	CutDuration    prometheus.Histogram
}

// syncBuckets span 1 ms to ~16 s: a sync at 10k pods takes tens of milliseconds, and an
// event waits at most the coalescing interval (or a retry) more.
var syncBuckets = prometheus.ExponentialBuckets(0.001, 2, 15)

// NewMetrics creates the metrics and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Syncs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "syncs_total",
			Help: "Syncs of the kernel with the API server, by reason (initial, event, resync, retry) and result (success, error)."},
			[]string{"reason", "result"}),
		SyncErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "sync_errors_total",
			Help: "Failed syncs by the phase that failed (snapshot, policy, dataplane)."}, []string{"phase"}),
		SyncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metricsNamespace, Name: "sync_duration_seconds",
			Help: "Duration of a whole sync: snapshot, policy compile, dataplane compile and kernel write.", Buckets: syncBuckets},
			[]string{"reason"}),
		PhaseDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metricsNamespace, Name: "sync_phase_duration_seconds",
			Help: "Duration of each phase of a sync (snapshot, policy, compile, diff, write).", Buckets: syncBuckets}, []string{"phase"}),
		EventToKernel: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metricsNamespace, Name: "event_to_kernel_seconds",
			Help: "Time from receiving an API event to the kernel enforcing it, for the oldest event each sync covers.", Buckets: syncBuckets}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "events_total",
			Help: "API events that can change a decision, by kind (updates that cannot, such as pod condition changes, are not counted)."},
			[]string{"kind"}),
		SyncedEvents: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "synced_events_total",
			Help: "Events covered by successful syncs; with syncs_total it shows how much coalescing saves."}),
		LocalPods: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "programmed_local_pods",
			Help: "Pods on this node whose traffic the kernel currently polices."}),
		ClusterPods: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "programmed_cluster_pods",
			Help: "Pods of the whole cluster in the last programmed snapshot (peers of the local pods)."}),
		Policies: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "programmed_policies",
			Help: "Policy objects of every kind in the last programmed snapshot."}),
		SetElements: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "programmed_set_elements",
			Help: "Elements of the nftables sets and maps last programmed (-1 when the dataplane cannot say)."}),
		Written: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "written_elements_total",
			Help: "Set and map elements sent to the kernel: all of them on a full rewrite, the changed ones on an incremental sync."}),
		RejectedPolicy: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "rejected_policies",
			Help: "Policy objects left out of the last sync because they could not be compiled (each is logged)."}),
		UnknownNS: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "unknown_namespaces",
			Help: "Namespaces holding pods whose Namespace object is not known yet; their pods are isolated until it is."}),
		LastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "last_sync_success_timestamp_seconds",
			Help: "Unix time of the last successful sync."}),
		Ready: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "ready",
			Help: "1 once the first snapshot is enforced by the kernel."}),
		Watched: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "policy_api_watched",
			Help: "1 for each network-policy-api kind and version being watched."}, []string{"kind", "version"}),
		ConnsCut: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "connections_cut_total",
			Help: "Established connections cut (their conntrack entries deleted) because a new program denies them."}),
		CutErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "connection_cut_errors_total",
			Help: "Conntrack cleanups that failed (each is logged)."}),
		CutDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metricsNamespace, Name: "connection_cut_duration_seconds",
			Help: "Duration of a conntrack cleanup after a write (it walks the node's conntrack table).", Buckets: syncBuckets}),
	}
	if reg != nil {
		reg.MustRegister(m.Syncs, m.SyncErrors, m.SyncDuration, m.PhaseDuration, m.EventToKernel, m.Events, m.SyncedEvents,
			m.LocalPods, m.ClusterPods, m.Policies, m.SetElements, m.Written, m.RejectedPolicy, m.UnknownNS, m.LastSuccess, m.Ready, m.Watched,
			m.ConnsCut, m.CutErrors, m.CutDuration)
	}
	return m
}

// MetricsHandler serves the metrics gathered from g in the Prometheus text format.
func MetricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
