// Package kubetest runs a real kube-apiserver (backed by a real etcd) on
// 127.0.0.1 for tests, from binaries that hack/kube-testbin.sh builds from Go
// modules and caches outside the clone.
//
// Only the API server runs: no kubelet, scheduler or controller-manager. Pods
// never start (set their status with SetPodStatus), namespaces stay
// Terminating after delete, and nothing is garbage collected. Validation,
// defaulting, admission, RBAC and CRD schemas are the real ones.
//
// Use Start for an environment private to one test, or Shared together with
// Main in TestMain to start one per test binary (a start costs about 5 s).
// See docs/testing-apiserver.md.
package kubetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// ServiceClusterIPRange is passed as --service-cluster-ip-range. It is only
// configuration: nothing routes to it.
const ServiceClusterIPRange = "10.96.0.0/16"

const (
	dirPrefix = "netwarden-kubetest-" // of each environment's directory in os.TempDir()
	ownerFile = "owner.pid"           // in it: the pid of the test binary that owns it
)

// Options tune New. The zero value is fine.
type Options struct {
	// Binaries to run; found with FindBinaries when empty.
	Binaries Binaries
	// ReadyTimeout bounds the wait for etcd and for the apiserver's /readyz
	// (default 2 minutes; it is ready in about 5 s on an idle machine).
	ReadyTimeout time.Duration
	// APIServerArgs are appended to the kube-apiserver command line
	// ("--flag=value"); a later flag overrides an earlier one.
	APIServerArgs []string
}

// Env is a running etcd + kube-apiserver pair. Its fields must not be
// modified; it is safe for concurrent use by parallel tests.
type Env struct {
	// Config reaches the apiserver as a member of system:masters (all
	// permissions), over TLS verified against a throwaway CA.
	Config  *rest.Config
	Client  kubernetes.Interface
	Dynamic dynamic.Interface

	// Dir holds etcd's data, the certificates and keys, and the logs
	// (etcd.log, kube-apiserver.log). It is removed by Stop unless
	// NETWARDEN_KUBETEST_KEEP=1, or by a later New if the test binary that
	// made it died first (see owner.pid in it).
	Dir          string
	EtcdURL      string
	APIServerURL string
	Token        string

	etcd, apiserver *process
	stopOnce        sync.Once
	stopErr         error
}

// Start starts a private environment for t and stops it in t.Cleanup. When
// the binaries are missing it skips t, or fails it when
// NETWARDEN_REQUIRE_APISERVER=1.
func Start(t testing.TB) *Env {
	t.Helper()
	return StartWithOptions(t, Options{})
}

// StartWithOptions is Start with Options.
func StartWithOptions(t testing.TB, opts Options) *Env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	env, err := New(ctx, opts)
	if err != nil {
		skipOrFatal(t, err)
	}
	t.Logf("kubetest: kube-apiserver %s ready at %s in %v (dir %s)",
		KubeVersion, env.APIServerURL, time.Since(start).Round(time.Millisecond), env.Dir)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kubetest: test failed; tail of server logs:\n%s", env.LogTail(40))
		}
		if err := env.Stop(); err != nil {
			t.Logf("kubetest: stop: %v", err)
		}
	})
	return env
}

func skipOrFatal(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrNoBinaries) && !envTrue(EnvRequire) {
		t.Skipf("kubetest: %v (set %s=1 to fail instead of skipping)", err, EnvRequire)
	}
	t.Fatalf("kubetest: %v", err)
}

// New starts etcd and kube-apiserver and waits until /readyz answers ok. The
// caller must call Stop. ctx bounds only the start, not the servers' life.
func New(ctx context.Context, opts Options) (*Env, error) {
	bins := opts.Binaries
	if bins.APIServer == "" || bins.Etcd == "" {
		var err error
		if bins, err = FindBinaries(); err != nil {
			return nil, err
		}
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 2 * time.Minute
	}
	// Free ports are picked by binding :0 and closing, so another process
	// can take one before the server binds it; retry the whole start then.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		env, err := start(ctx, bins, opts)
		if err == nil {
			return env, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

func start(ctx context.Context, bins Binaries, opts Options) (_ *Env, err error) {
	sweepStale(os.TempDir())
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	env := &Env{Dir: dir}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w\n--- log tail (%s) ---\n%s", err, dir, env.LogTail(25))
			_ = env.Stop()
		}
	}()

	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdClient, etcdPeer, securePort := ports[0], ports[1], ports[2]
	env.EtcdURL = "http://127.0.0.1:" + strconv.Itoa(etcdClient)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(etcdPeer)
	env.APIServerURL = "https://127.0.0.1:" + strconv.Itoa(securePort)

	env.etcd, err = startProcess(dir, "etcd", bins.Etcd,
		"--name=default",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+env.EtcdURL,
		"--advertise-client-urls="+env.EtcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL,
		"--unsafe-no-fsync=true", // throwaway data: no need to hit the disk
		"--log-level=warn",
	)
	if err != nil {
		return nil, err
	}

	ctx, cancel := context.WithTimeout(ctx, opts.ReadyTimeout)
	defer cancel()
	if err := waitReady(ctx, env.etcd, http.DefaultClient, env.EtcdURL+"/health", nil); err != nil {
		return nil, fmt.Errorf("etcd not healthy: %w", err)
	}

	p, err := makePKI(dir)
	if err != nil {
		return nil, fmt.Errorf("generating certificates: %w", err)
	}
	env.Token = randomToken()
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(env.Token+`,kubetest-admin,kubetest-admin,"system:masters"`+"\n"), 0o600); err != nil {
		return nil, err
	}

	args := []string{
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(securePort),
		// With an advertise address on loopback the default reconciler
		// refuses to start; nothing needs the kubernetes endpoints here.
		"--endpoint-reconciler-type=none",
		"--etcd-servers=" + env.EtcdURL,
		"--cert-dir=" + filepath.Join(dir, "certs"),
		"--tls-cert-file=" + p.servingCert,
		"--tls-private-key-file=" + p.servingKey,
		"--token-auth-file=" + tokens,
		"--authorization-mode=RBAC",
		// No controller-manager creates the default service account, so
		// with this plugin on every pod would be refused.
		"--disable-admission-plugins=ServiceAccount",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + p.saPublicKey,
		"--service-account-signing-key-file=" + p.saSigningKey,
		"--service-cluster-ip-range=" + ServiceClusterIPRange,
		"--allow-privileged=true",
		"--profiling=false",
	}
	args = append(args, opts.APIServerArgs...)
	env.apiserver, err = startProcess(dir, "kube-apiserver", bins.APIServer, args...)
	if err != nil {
		return nil, err
	}

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.caPEM)
	hc := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	hdr := http.Header{"Authorization": {"Bearer " + env.Token}}
	if err := waitReady(ctx, env.apiserver, hc, env.APIServerURL+"/readyz", hdr); err != nil {
		return nil, fmt.Errorf("kube-apiserver not ready: %w", err)
	}
	hc.CloseIdleConnections()

	env.Config = &rest.Config{
		Host:            env.APIServerURL,
		BearerToken:     env.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: p.caPEM},
		QPS:             200,
		Burst:           400,
		UserAgent:       "netwarden-kubetest",
	}
	if env.Client, err = kubernetes.NewForConfig(env.Config); err != nil {
		return nil, err
	}
	if env.Dynamic, err = dynamic.NewForConfig(env.Config); err != nil {
		return nil, err
	}
	return env, nil
}

// Stop stops kube-apiserver, then etcd, and removes Dir (unless
// NETWARDEN_KUBETEST_KEEP=1). It is safe to call more than once.
func (e *Env) Stop() error {
	e.stopOnce.Do(func() {
		var errs []error
		for _, p := range []*process{e.apiserver, e.etcd} {
			if p != nil {
				errs = append(errs, p.stop(10*time.Second))
			}
		}
		if e.Dir != "" {
			if envTrue(EnvKeep) {
				fmt.Fprintf(os.Stderr, "kubetest: keeping %s (%s=1)\n", e.Dir, EnvKeep)
			} else {
				errs = append(errs, os.RemoveAll(e.Dir))
			}
		}
		e.stopErr = errors.Join(errs...)
	})
	return e.stopErr
}

// LogTail returns the last n lines of each server's log.
func (e *Env) LogTail(n int) string {
	var b strings.Builder
	for _, p := range []*process{e.etcd, e.apiserver} {
		if p == nil {
			continue
		}
		fmt.Fprintf(&b, "== %s ==\n%s", p.name, tail(p.logPath, n))
	}
	return b.String()
}

// process is one running server whose output goes to <dir>/<name>.log.
type process struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done is closed
}

func startProcess(dir, name, bin string, args ...string) (*process, error) {
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := startCmd(cmd); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, and SIGKILL if the process is still there after grace.
func (p *process) stop(grace time.Duration) error {
	if p.exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// waitReady polls url until it answers 200, p exits, or ctx ends.
func waitReady(ctx context.Context, p *process, hc *http.Client, url string, hdr http.Header) error {
	var last string
	for {
		if p.exited() {
			return fmt.Errorf("%s exited early (%v)", p.name, p.waitErr)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := hc.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(body))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last answer: %s)", url, ctx.Err(), last)
		case <-p.done:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)\n", err)
	}
	lines := strings.SplitAfter(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "") + "\n"
}
