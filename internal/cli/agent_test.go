package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/netwarden/netwarden/internal/kubetest"
)

func TestAgentRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a node name is required", []string{"agent", "--node-name", ""}, "node name is empty"},
		{"the log format is text or json", []string{"agent", "--node-name", "n", "--log-format", "xml"}, "--log-format"},
		{"the log level is a slog level", []string{"agent", "--node-name", "n", "--log-level", "loud"}, "--log-level"},
		{"--keep-running needs --uninstall", []string{"agent", "--node-name", "n", "--keep-running"}, "--keep-running goes with --uninstall"},
		{"the interval fits in the resync period", []string{"agent", "--node-name", "n", "--min-sync-interval", "2m", "--resync-period", "1m"}, "longer than the resync period"},
		{"rule metrics are rule, policy or off", []string{"agent", "--node-name", "n", "--rule-metrics", "pods"}, "--rule-metrics"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(tc.args, strings.NewReader(""), &out, &errb)
			if code != ExitInput || !strings.Contains(errb.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, errb.String(), ExitInput, tc.want)
			}
		})
	}
}

// writeKubeconfig writes a kubeconfig for env and returns its path.
func writeKubeconfig(t *testing.T, env *kubetest.Env) string {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: env.Config.Host, CertificateAuthorityData: env.Config.CAData}
	cfg.AuthInfos["test"] = &clientcmdapi.AuthInfo{Token: env.Config.BearerToken}
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	cfg.CurrentContext = "test"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// testNetns creates a network namespace for the test and deletes it at cleanup.
func testNetns(t *testing.T) (name, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: creating a network namespace and nftables tables needs root")
	}
	name = fmt.Sprintf("nw-cli-agent-%d", os.Getpid())
	_ = exec.Command("ip", "netns", "del", name).Run()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	return name, "/run/netns/" + name
}

func nftTables(t *testing.T, netns string) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", netns, "nft", "list", "tables").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list tables: %v: %s", err, out)
	}
	return string(out)
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestAgentCommand runs `netwarden agent` against a real API server, programming a
// network namespace: it becomes ready, serves metrics, leaves its table in place when
// stopped, and `--uninstall` removes it.
func TestAgentCommand(t *testing.T) {
	netns, path := testNetns(t)
	env := kubetest.Start(t)
	kubeconfig := writeKubeconfig(t, env)
	metrics, health, flows := freeAddr(t), freeAddr(t), freeAddr(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	root := NewRoot(strings.NewReader(""), io.Discard, &stderr)
	root.SetArgs([]string{"agent", "--node-name", "cli-node", "--kubeconfig", kubeconfig, "--netns", path,
		"--table-name", "nwcli", "--metrics-bind-address", metrics, "--health-bind-address", health, "--flows-bind-address", flows, "--log-format", "json",
		"--flow-log", filepath.Join(t.TempDir(), "flows.jsonl")})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	httpGet := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code, _ := httpGet("http://" + health + "/readyz"); code == http.StatusOK {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("agent exited: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 30s\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _ := httpGet("http://" + health + "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	code, body := httpGet("http://" + metrics + "/metrics")
	for _, want := range []string{"netwarden_agent_ready 1", "netwarden_agent_syncs_total", "go_goroutines", "process_resident_memory_bytes",
		"netwarden_agent_flowlog_received_total", "netwarden_agent_rule_counter_read_errors_total 0"} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("/metrics (%d) lacks %q", code, want)
		}
	}
	// The flow log is served on an address of its own, for netwarden flows; not beside
	// the metrics, which are scraped from elsewhere.
	if code, body := httpGet("http://" + flows + "/flows"); code != http.StatusOK {
		t.Errorf("/flows: %d %s", code, body)
	}
	if code, _ := httpGet("http://" + metrics + "/flows"); code != http.StatusNotFound {
		t.Errorf("/flows on the metrics address: %d, want 404", code)
	}
	var flowsOut, flowsErr bytes.Buffer
	if code := Main([]string{"flows", "--agent", flows}, strings.NewReader(""), &flowsOut, &flowsErr); code != ExitOK {
		t.Errorf("netwarden flows --agent %s: exit %d, %s", flows, code, flowsErr.String())
	}
	if tables := nftTables(t, netns); !strings.Contains(tables, "table inet nwcli") {
		t.Fatalf("after ready, tables are %q; want inet nwcli", tables)
	}
	if !strings.Contains(stderr.String(), `"msg":"ready: the kernel enforces the cluster's policies"`) {
		t.Errorf("no JSON ready log line in:\n%s", stderr.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent stopped with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("agent did not stop")
	}
	if tables := nftTables(t, netns); !strings.Contains(tables, "table inet nwcli") {
		t.Fatalf("after a graceful stop, tables are %q; the rules must stay", tables)
	}

	// The DaemonSet's removal mode: uninstall, then stay up and ready until stopped.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	root = NewRoot(strings.NewReader(""), io.Discard, &stderr)
	root.SetArgs([]string{"agent", "--uninstall", "--keep-running", "--netns", path, "--table-name", "nwcli",
		"--health-bind-address", health, "--metrics-bind-address", metrics})
	go func() { done <- root.ExecuteContext(ctx2) }()
	deadline = time.Now().Add(30 * time.Second)
	for {
		if code, _ := httpGet("http://" + health + "/readyz"); code == http.StatusOK {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("agent --uninstall --keep-running exited: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("--uninstall --keep-running not ready after 30s\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if tables := nftTables(t, netns); strings.Contains(tables, "nwcli") {
		t.Errorf("after --uninstall, tables are %q", tables)
	}
	cancel2()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("--uninstall --keep-running stopped with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("--uninstall --keep-running did not stop")
	}
	// Once more without the table: uninstalling twice is fine.
	var out, errb bytes.Buffer
	if code := Main([]string{"agent", "--uninstall", "--netns", path, "--table-name", "nwcli"}, strings.NewReader(""), &out, &errb); code != ExitOK {
		t.Fatalf("agent --uninstall with no table: exit %d: %s", code, errb.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's and the test's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
