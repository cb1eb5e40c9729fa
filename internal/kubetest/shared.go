package kubetest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var shared struct {
	mu      sync.Mutex
	inMain  bool // Run is in progress: it will stop env when the tests end
	env     *Env
	err     error
	started time.Duration
}

// Main runs the package's tests and then stops the environment that Shared
// started, if any. Use it as the whole TestMain:
//
//	func TestMain(m *testing.M) { kubetest.Main(m) }
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain that does more: it returns m.Run's exit code
// after stopping the shared environment.
func Run(m *testing.M) int {
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()
	code := m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.inMain = false
	if shared.env != nil {
		if err := shared.env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "kubetest: stopping shared environment: %v\n", err)
		}
		shared.env = nil
	}
	return code
}

// Shared returns the environment shared by all tests of this test binary,
// starting it on first use (about 5 s). It needs Main or Run in TestMain,
// which stop it after the last test; without them it falls back to Start(t).
//
// Tests that share it see each other's objects: put namespaced objects in
// Namespace(t), and give cluster-scoped ones (nodes, ClusterNetworkPolicies,
// CRDs) unique names or tolerate ones already there. If the start fails,
// every test that asks fails (or skips, for missing binaries) with that error.
func Shared(t testing.TB) *Env {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.inMain {
		t.Logf("kubetest: Shared without kubetest.Main/Run in TestMain; starting a private environment")
		return Start(t)
	}
	if shared.env == nil && shared.err == nil {
		start := time.Now()
		shared.env, shared.err = New(context.Background(), Options{})
		shared.started = time.Since(start).Round(time.Millisecond)
		if shared.err == nil {
			t.Logf("kubetest: shared kube-apiserver %s ready at %s in %v (dir %s)",
				KubeVersion, shared.env.APIServerURL, shared.started, shared.env.Dir)
		}
	}
	if shared.err != nil {
		skipOrFatal(t, shared.err)
	}
	return shared.env
}

// Namespace creates a namespace with a name derived from t.Name() and
// returns its name. Its deletion at cleanup only marks it Terminating, since
// no namespace controller runs; the objects in it stay but do no harm.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	ns, err := e.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: namespacePrefix(t.Name())},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("kubetest: creating namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = e.Client.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})
	return ns.Name
}

// namespacePrefix turns a test name into a DNS-label prefix for GenerateName
// (which appends 5 characters; a label has at most 63).
func namespacePrefix(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			if s := b.String(); len(s) > 0 && s[len(s)-1] != '-' {
				b.WriteByte('-')
			}
		}
	}
	p := strings.Trim(b.String(), "-")
	if len(p) > 50 {
		p = strings.TrimRight(p[:50], "-")
	}
	if p == "" || p[0] < 'a' || p[0] > 'z' {
		p = "t-" + p
	}
	return strings.TrimRight(p, "-") + "-"
}
