package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/netwarden/netwarden/pkg/agent"
	"github.com/netwarden/netwarden/pkg/dataplane"
	"github.com/netwarden/netwarden/pkg/flowlog"
)

func init() { register(newAgent) }

var klogOnce sync.Once

// agentFlags are netwarden agent's flags.
type agentFlags struct {
	nodeName          string
	kubeconfig        string
	metricsAddr       string
	flowsAddr         string
	healthAddr        string
	keepEstablished   bool
	logLevel          string
	logFormat         string
	resyncPeriod      time.Duration
	minSyncInterval   time.Duration
	discoveryInterval time.Duration
	tableName         string
	netns             string
	uninstall         bool
	keepRunning       bool
	ruleMetrics       string
	log               logFlags
	flowLog           string
}

func newAgent() *cobra.Command {
	var f agentFlags
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Enforce the cluster's network policies on this node (run as a DaemonSet)",
		Long: `agent keeps this node's kernel in step with the API server: it watches Pods,
Namespaces, Nodes, NetworkPolicies and, when their CRDs are served, ClusterNetworkPolicies,
AdminNetworkPolicies and BaselineAdminNetworkPolicies, and programs one nftables table
(inet family, --table-name) that enforces ingress and egress for the pods on this node,
with peer sets covering the pods of every node. It works beside any CNI that leaves
policy to others.

Changes are coalesced (at most one sync per --min-sync-interval) and the whole table is
rewritten every --resync-period, which repairs drift. /readyz succeeds once the first
complete snapshot is in the kernel. Stopping or crashing leaves the last rules in force;
a restart adopts and replaces them atomically; an API server outage keeps the last known
state enforced. Only --uninstall removes the table.

It needs CAP_NET_ADMIN in the node's network namespace (hostNetwork in a pod). See
docs/agent.md for the DaemonSet in deploy/.

Exit codes: 0 stopped by a signal (or --uninstall done); 3 bad flags; 4 the environment
failed (no cluster configuration, kernel refused).`,
		Example: `  netwarden agent --node-name "$NODE_NAME"
  netwarden agent --kubeconfig ~/.kube/config --node-name worker-1 --log-format json
  netwarden agent --uninstall`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAgent(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.nodeName, "node-name", os.Getenv("NODE_NAME"), "node whose pods to enforce (default $NODE_NAME, which the DaemonSet sets from spec.nodeName)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: the in-cluster service account, else $KUBECONFIG)")
	fl.StringVar(&f.metricsAddr, "metrics-bind-address", ":9808", `address serving Prometheus metrics on /metrics ("0" to disable)`)
	fl.StringVar(&f.flowsAddr, "flows-bind-address", defaultFlowsAddr, `address serving the flow log on /flows for netwarden flows ("0" to disable); it tells who talks to whom, so by default only the node itself can reach it`)
	fl.StringVar(&f.healthAddr, "health-bind-address", ":9809", `address serving /healthz and /readyz ("0" to disable)`)
	fl.BoolVar(&f.keepEstablished, "keep-established", false, "let connections that were allowed when they started outlive a policy change that denies them (default: they are cut)")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.DurationVar(&f.resyncPeriod, "resync-period", agent.DefaultResyncPeriod, "rewrite the whole table this often, even without changes (repairs drift)")
	fl.DurationVar(&f.minSyncInterval, "min-sync-interval", agent.DefaultMinSyncInterval, "least time between two syncs; changes closer together are coalesced")
	fl.DurationVar(&f.discoveryInterval, "discovery-interval", agent.DefaultDiscoveryInterval, "how often to look for the policy.networking.k8s.io CRDs being installed or removed")
	fl.StringVar(&f.tableName, "table-name", dataplane.DefaultTableName, "the inet nftables table the agent owns")
	fl.StringVar(&f.netns, "netns", "", "network namespace to program, as a path such as /run/netns/NAME (default: the agent's own)")
	fl.BoolVar(&f.uninstall, "uninstall", false, "remove the table (every rule the agent made) and exit")
	fl.StringVar(&f.ruleMetrics, "rule-metrics", string(agent.RuleDetailRule), "per-rule counters on /metrics: rule (a series per policy rule that decided a packet here), policy (rules of a policy summed) or off")
	f.log.add(fl)
	fl.StringVar(&f.flowLog, "flow-log", "", `also write flow records as JSON lines to this file ("-" for standard output); they are always served on /flows`)
	fl.BoolVar(&f.keepRunning, "keep-running", false, "with --uninstall: then stay up (ready on /readyz) until stopped, so a DaemonSet can roll the removal out (deploy/uninstall)")
	return cmd
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// restConfig is the in-cluster configuration, or the kubeconfig named by the flag or,
// outside a cluster, by $KUBECONFIG.
func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		cfg, err := rest.InClusterConfig()
		if err == nil {
			return cfg, nil
		}
		if kubeconfig = os.Getenv("KUBECONFIG"); kubeconfig == "" {
			return nil, fmt.Errorf("not running in a cluster (%w), and neither --kubeconfig nor $KUBECONFIG is set", err)
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	return cfg, nil
}

func runAgent(cmd *cobra.Command, f agentFlags) error {
	log, err := newLogger(cmd.ErrOrStderr(), f.logLevel, f.logFormat)
	if err != nil {
		return inputErr(err)
	}
	opts := dataplane.Options{TableName: f.tableName, KeepEstablished: f.keepEstablished}
	opts.Log = f.log.options()
	detail, err := agent.ParseRuleDetail(f.ruleMetrics)
	if err != nil {
		return inputErr(fmt.Errorf("--rule-metrics %w", err))
	}

	if f.uninstall {
		dp, err := agent.OpenNFTables(f.netns, opts)
		if err != nil {
			return runtimeErr(err)
		}
		defer dp.Close()
		if err := dp.Uninstall(); err != nil {
			return runtimeErr(err)
		}
		log.Info("removed the nftables table", "table", f.tableName)
		if !f.keepRunning {
			return nil
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok: uninstalled") })
		servers, err := serveAgent(f, ok, nil, nil, log)
		if err != nil {
			return runtimeErr(err)
		}
		defer shutdown(servers)
		log.Info("staying up until stopped (--keep-running)")
		<-ctx.Done()
		return nil
	}
	if f.keepRunning {
		return inputErr(errors.New("--keep-running goes with --uninstall"))
	}

	// client-go logs through klog, which is process-wide and not safe to reconfigure
	// while informers run: the first agent of the process decides.
	klogOnce.Do(func() { klog.SetSlogLogger(log.With("component", "client-go")) })
	setGCPercent(log)

	cfg := agent.Config{
		NodeName:          f.nodeName,
		ResyncPeriod:      f.resyncPeriod,
		MinSyncInterval:   f.minSyncInterval,
		DiscoveryInterval: f.discoveryInterval,
		Logger:            log,
		RuleMetrics:       detail,
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return inputErr(err)
	}
	rc, err := restConfig(f.kubeconfig)
	if err != nil {
		return runtimeErr(err)
	}
	rc.UserAgent = "netwarden-agent/" + f.nodeName
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return runtimeErr(err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return runtimeErr(err)
	}
	dp, err := agent.OpenNFTables(f.netns, opts)
	if err != nil {
		return runtimeErr(err)
	}
	defer dp.Close() // never Uninstall: the rules must outlive the process
	if opts.Log.Group != 0 {
		flows, closeFlows, err := newFlowLog(f, opts.Log, cmd.OutOrStdout())
		if err != nil {
			return inputErr(err)
		}
		defer closeFlows()
		cfg.Flows = flows
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg.Registerer = reg
	a, err := agent.New(cfg, cs, dyn, cs.Discovery(), dp)
	if err != nil {
		return inputErr(err)
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var flowsHandler http.Handler
	if cfg.Flows != nil {
		flowsHandler = cfg.Flows.Handler()
	}
	servers, err := serveAgent(f, a.HealthHandler(), reg, flowsHandler, log)
	if err != nil {
		return runtimeErr(err)
	}
	defer shutdown(servers)
	if cfg.Flows != nil {
		// Followers of /flows stream until the hub closes: close it before the servers
		// wait for their connections to end.
		for _, s := range servers {
			s.RegisterOnShutdown(cfg.Flows.Hub().Close)
		}
	}
	if err := a.Run(ctx); err != nil && ctx.Err() == nil {
		return runtimeErr(err)
	}
	return nil
}

// AgentGCPercent is the agent's default GOGC. Each sync rebuilds the cluster's compiled
// form, about 1 MB of short-lived garbage per thousand pods; collecting less often cuts
// the CPU of a sync at 10k pods by 9-13% on an idle machine, more under contention
// (BenchmarkSyncCPU), for a larger heap, which GOMEMLIMIT (set from the container's
// memory limit in deploy/) keeps bounded.
const AgentGCPercent = 400

func setGCPercent(log *slog.Logger) {
	if os.Getenv("GOGC") != "" {
		return // the operator's choice
	}
	debug.SetGCPercent(AgentGCPercent)
	log.Debug("GOGC set", "percent", AgentGCPercent)
}

func shutdown(servers []*http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(ctx)
	}
}

// newFlowLog makes the flow log of the logging options; with --flow-log its records also
// go to that file (appended) or, for "-", to stdout.
func newFlowLog(f agentFlags, lo dataplane.LogOptions, stdout io.Writer) (*flowlog.Log, func(), error) {
	cfg := flowlog.Config{NetNS: f.netns, Group: lo.Group, Node: f.nodeName, Allowed: lo.Allowed}
	closer := func() {}
	switch f.flowLog {
	case "":
	case "-":
		cfg.Writer = stdout
	default:
		file, err := os.OpenFile(f.flowLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("--flow-log: %w", err)
		}
		cfg.Writer = file
		closer = func() { file.Close() }
	}
	return flowlog.New(cfg), closer, nil
}

// defaultFlowsAddr is where the agent serves its flow log unless told otherwise: the
// node's loopback (the agent shares the node's network), where netwarden flows run on
// the node, in the agent's pod or through a port-forward finds it.
const defaultFlowsAddr = "127.0.0.1:9810"

// serveAgent starts the metrics, flow log and health servers (one server per distinct
// address); reg nil serves no metrics, flows nil no flow log. Listening happens here, so
// a taken port is an error at start.
func serveAgent(f agentFlags, health http.Handler, reg *prometheus.Registry, flows http.Handler, log *slog.Logger) ([]*http.Server, error) {
	muxes := map[string]*http.ServeMux{}
	var order []string
	mux := func(addr string) *http.ServeMux {
		if m, ok := muxes[addr]; ok {
			return m
		}
		m := http.NewServeMux()
		muxes[addr] = m
		order = append(order, addr)
		return m
	}
	if f.metricsAddr != "0" && f.metricsAddr != "" && reg != nil {
		mux(f.metricsAddr).Handle("/metrics", agent.MetricsHandler(reg))
	}
	if f.flowsAddr != "0" && f.flowsAddr != "" && flows != nil {
		mux(f.flowsAddr).Handle(flowlog.FlowsPath, flows)
	}
	if f.healthAddr != "0" && f.healthAddr != "" {
		m := mux(f.healthAddr)
		m.Handle("/healthz", health)
		m.Handle("/readyz", health)
	}
	var servers []*http.Server
	for _, addr := range order {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, s := range servers {
				s.Close()
			}
			return nil, fmt.Errorf("listening on %s: %w", addr, err)
		}
		s := &http.Server{Handler: muxes[addr], ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, s)
		log.Info("serving", "address", ln.Addr().String(), "paths", servedPaths(f, addr))
		go func() {
			if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("http server stopped", "address", addr, "err", err)
			}
		}()
	}
	return servers, nil
}

func servedPaths(f agentFlags, addr string) string {
	var p []string
	if addr == f.metricsAddr && !f.uninstall {
		p = append(p, "/metrics")
	}
	if addr == f.flowsAddr && !f.uninstall && f.log.options().Group != 0 {
		p = append(p, flowlog.FlowsPath)
	}
	if addr == f.healthAddr {
		p = append(p, "/healthz", "/readyz")
	}
	return strings.Join(p, " ")
}
