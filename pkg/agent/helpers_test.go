package agent

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/netwarden/netwarden/internal/kubetest"
	"github.com/netwarden/netwarden/pkg/policy"
)

// One apiserver for the package's tests; kubetest.Main stops it at the end. client-go's
// own logs (watches ending as agents stop) go to stderr only with -v.
func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		klog.SetSlogLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	kubetest.Main(m)
}

// fakeDataplane records what it is asked to program. Calls block while gate is closed
// (nil gate: never), and fail while err is set.
type fakeDataplane struct {
	mu          sync.Mutex
	calls       int
	full        int
	err         error
	gate        chan struct{}
	engine      *policy.Engine
	local       []int32
	uninstalled bool
}

func (f *fakeDataplane) Program(e *policy.Engine, local []int32, full bool) (ProgramStats, error) {
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if full {
		f.full++
	}
	if f.err != nil {
		return ProgramStats{}, f.err
	}
	f.engine, f.local = e, slices.Clone(local)
	return ProgramStats{SetElements: len(e.Pods)}, nil
}

func (f *fakeDataplane) Uninstall() error {
	f.mu.Lock()
	f.uninstalled = true
	f.mu.Unlock()
	return nil
}
func (f *fakeDataplane) Close() error { return nil }

func (f *fakeDataplane) setErr(err error) { f.mu.Lock(); f.err = err; f.mu.Unlock() }

func (f *fakeDataplane) counts() (calls, full int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, f.full
}

// testLogger writes to the test log when -v is given, and nowhere otherwise.
func testLogger(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
}

// clients builds the three clients an agent needs from a rest config.
func clients(t testing.TB, cfg *rest.Config) (kubernetes.Interface, dynamic.Interface, discovery.DiscoveryInterface) {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs, dyn, cs.Discovery()
}

// runningAgent is an agent run by a test, stopped at cleanup (or earlier by stop).
type runningAgent struct {
	*Agent
	reg  *prometheus.Registry
	stop func()
	done chan error
}

func startAgent(t testing.TB, rc *rest.Config, cfg Config, dp Dataplane) *runningAgent {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	cs, dyn, disco := clients(t, rc)
	a, err := New(cfg, cs, dyn, disco, dp)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ra := &runningAgent{Agent: a, reg: reg, done: make(chan error, 1)}
	go func() { ra.done <- a.Run(ctx) }()
	var once sync.Once
	ra.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-ra.done:
			case <-time.After(30 * time.Second):
				t.Errorf("agent %s did not stop", cfg.NodeName)
			}
		})
	}
	t.Cleanup(ra.stop)
	return ra
}

// wait waits (up to 30 s) for a sync whose result satisfies cond.
func (ra *runningAgent) wait(t testing.TB, what string, cond func(Applied) bool) Applied {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ap, err := ra.WaitApplied(ctx, cond)
	if err != nil {
		t.Fatalf("%s: %v (last sync #%d)", what, err, ap.Seq)
	}
	return ap
}

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// podIn returns the engine's pod "ns/name", or nil.
func podIn(ap Applied, key string) *policy.PodInfo {
	if ap.Engine == nil {
		return nil
	}
	i, ok := ap.Engine.PodByKey(key)
	if !ok {
		return nil
	}
	return &ap.Engine.Pods[i]
}

// hasPolicy reports whether the last sync compiled a policy with that kind, namespace and
// name.
func hasPolicy(ap Applied, kind, ns, name string) *policy.Policy {
	for _, p := range ap.Engine.Policies {
		if p.Ref.Kind == kind && p.Ref.Namespace == ns && p.Ref.Name == name {
			return p
		}
	}
	return nil
}

func ptrIntStr(p int32) *intstr.IntOrString { v := intstr.FromInt32(p); return &v }
