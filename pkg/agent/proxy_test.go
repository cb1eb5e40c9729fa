package agent

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/netwarden/netwarden/internal/kubetest"
	"github.com/netwarden/netwarden/pkg/model"
)

// outageProxy stands between an agent and the API server on loopback, so a test can cut
// the agent off (every connection closed, new ones refused, as when the API server is
// down) while the test itself keeps writing to the server, and then restore the link.
type outageProxy struct {
	t      testing.TB
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newOutageProxy(t testing.TB, target string) *outageProxy {
	p := &outageProxy{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.Down)
	return p
}

// config returns cfg pointed at the proxy. The server certificate names 127.0.0.1, which
// the proxy's address is too.
func (p *outageProxy) config(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Host = "https://" + p.addr
	return c
}

func (p *outageProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				dst.Close()
				src.Close()
			}
			go pipe(up, c)
			go pipe(c, up)
		}
	}()
}

// Down closes the listener and every proxied connection.
func (p *outageProxy) Down() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
	p.mu.Unlock()
	p.wg.Wait()
}

// Up listens again on the same address.
func (p *outageProxy) Up() {
	var ln net.Listener
	var err error
	for range 50 { // the port was ours a moment ago; the kernel may need a moment
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy: listening again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

func hostPort(t testing.TB, rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// TestAPIServerOutageKeepsEnforcing: cut off from the API server, the agent keeps
// programming the last state it knew (resyncs included); once the server is back, the
// informers relist and the changes made meanwhile are enforced.
func TestAPIServerOutageKeepsEnforcing(t *testing.T) {
	env := kubetest.Shared(t)
	ctx := ctxFor(t)
	ns := env.Namespace(t)
	node := ns + "-node"
	if _, err := kubetest.CreatePod(ctx, env.Client, ns, "db-0", node, map[string]string{"app": "db"}, "10.6.0.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.NetworkingV1().NetworkPolicies(ns).Create(ctx, allowFromWeb("before", 5432), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	px := newOutageProxy(t, hostPort(t, env.APIServerURL))
	dp := &fakeDataplane{}
	ra := startAgent(t, px.config(env.Config), Config{NodeName: node, MinSyncInterval: 10 * time.Millisecond, ResyncPeriod: 200 * time.Millisecond}, dp)
	ra.wait(t, "initial state", func(ap Applied) bool {
		return isLocal(ap, ns+"/db-0") && hasPolicy(ap, model.KindNetworkPolicy, ns, "before") != nil
	})

	px.Down()
	if _, err := env.Client.NetworkingV1().NetworkPolicies(ns).Create(ctx, allowFromWeb("during", 5432), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.NetworkingV1().NetworkPolicies(ns).Delete(ctx, "before", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	calls, _ := dp.counts()
	outage := ra.Applied().Seq
	time.Sleep(time.Second)
	ap := ra.Applied()
	if ap.Seq < outage+2 {
		t.Errorf("%d syncs in 1s of outage with a 200ms resync; want the last state rewritten", ap.Seq-outage)
	}
	if hasPolicy(ap, model.KindNetworkPolicy, ns, "before") == nil || !isLocal(ap, ns+"/db-0") {
		t.Errorf("the last known state was dropped during the outage")
	}
	if now, _ := dp.counts(); now <= calls {
		t.Errorf("nothing written to the kernel during the outage")
	}
	if !ra.Ready() {
		t.Errorf("not ready during an API server outage; it still enforces the last state")
	}

	px.Up()
	ra.wait(t, "caught up after the outage", func(ap Applied) bool {
		return hasPolicy(ap, model.KindNetworkPolicy, ns, "during") != nil && hasPolicy(ap, model.KindNetworkPolicy, ns, "before") == nil
	})
}
