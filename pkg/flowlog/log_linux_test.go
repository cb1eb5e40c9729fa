package flowlog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netwarden/netwarden/pkg/dataplane"
	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/policy"
)

// lockedBuffer is a Writer the test reads while the log writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLogEndToEnd: a packet the kernel denies and logs in a namespace becomes a record
// naming the isolating policy, in the hub, on GET /flows and in the flow log file.
func TestLogEndToEnd(t *testing.T) {
	const account = "iso_prod_eg"
	prefix := dataplane.LogPrefix(dataplane.LogDeny, account)
	_, path := testNetns(t, fmt.Sprintf(`table inet nwflowtest {
	chain out {
		type filter hook output priority 0; policy accept;
		udp dport 40003 log prefix %q group %d drop
	}
}
`, prefix, testGroup))
	ns := path[strings.LastIndex(path, "/")+1:]
	c, err := loader.LoadBytes("cluster.yaml", []byte(`
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: prod, labels: {app: client}}
spec: {nodeName: node-a, containers: [{name: c, image: c}]}
status: {podIP: 10.77.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: prod, labels: {app: server}}
spec: {nodeName: node-b, containers: [{name: s, image: s}]}
status: {podIP: 10.77.0.9}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: no-egress, namespace: prod}
spec: {podSelector: {matchLabels: {app: client}}, policyTypes: [Egress]}
`), loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := policy.Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	file := &lockedBuffer{}
	l := New(Config{NetNS: path, Group: testGroup, Node: "node-a", Writer: file})
	l.SetState(e, func(name string) (dataplane.Account, bool) {
		return dataplane.Account{Name: account, Kind: dataplane.AccountIsolation, Tier: policy.TierNetworkPolicy, Direction: policy.Egress,
			Verdict: dataplane.AccountDeny, Rule: -1, Namespace: "prod"}, name == account
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	// Run binds asynchronously: send until a record shows up.
	var recs []Record
	for deadline := time.Now().Add(10 * time.Second); len(recs) == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("no record; stats %+v", l.Stats())
		}
		sendUDP(t, ns, 40003, 1)
		time.Sleep(100 * time.Millisecond)
		recs = l.Hub().Recent(Filter{}, 0)
	}
	r := recs[0]
	if got := r.Text(); !strings.Contains(got, "DENY   UDP prod/client -> prod/server:40003 egress   isolated by NetworkPolicy prod/no-egress; nothing allowed it") {
		t.Errorf("record: %s", got)
	}
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	code, body := get(t, srv, "verdict=deny&pod=prod/client")
	var fromHTTP Record
	if code != 200 || json.Unmarshal([]byte(strings.SplitN(body, "\n", 2)[0]), &fromHTTP) != nil || fromHTTP.Reason != r.Reason {
		t.Errorf("GET /flows: %d %q", code, body)
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(file.String(), `"reason":"isolated by NetworkPolicy prod/no-egress; nothing allowed it"`); {
		if time.Now().After(deadline) {
			t.Fatalf("flow log file: %q", file.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := l.Stats(); st.Reader.Received == 0 || st.Hub.Published == 0 {
		t.Errorf("stats %+v", st)
	}
}
