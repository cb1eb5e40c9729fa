package testbed

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netwarden/netwarden/pkg/dataplane"
	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/policy"
)

// The accounting cluster: a client in dev, a server in prod on another node. prod denies
// ingress by default and lets the client in on TCP 80 (rule 0) and UDP 5353 (rule 1); an
// AdminNetworkPolicy denies TCP 2222 into prod before any of that. Whatever else reaches
// the server is denied by prod's isolation.
const accountingCluster = `
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: dev, labels: {app: client}}
spec: {nodeName: node-0, containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: prod, labels: {app: server}}
spec: {nodeName: node-1, containers: [{name: c, image: i}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: prod}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-client, namespace: prod}
spec:
  podSelector: {matchLabels: {app: server}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {}, podSelector: {matchLabels: {app: client}}}]
    ports: [{port: 80, protocol: TCP}]
  - from: [{namespaceSelector: {}, podSelector: {matchLabels: {app: client}}}]
    ports: [{port: 5353, protocol: UDP}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: no-ssh}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: prod}}}
  ingress:
  - name: deny-ssh
    action: Deny
    from: [{namespaces: {}}]
    ports: [{portNumber: {port: 2222, protocol: TCP}}]
`

// acct names an account by what it stands for, so the test does not depend on how
// the compiler names counters.
type acct struct {
	kind      dataplane.AccountKind
	policy    string // the policy's name (AccountRule)
	rule      int
	namespace string // the isolated namespace (AccountIsolation)
}

func (a acct) String() string {
	if a.kind == dataplane.AccountIsolation {
		return "isolation of " + a.namespace
	}
	return fmt.Sprintf("%s ingress[%d]", a.policy, a.rule)
}

func (a acct) is(x dataplane.Account) bool {
	if x.Direction != policy.Ingress || x.Kind != a.kind {
		return false
	}
	if a.kind == dataplane.AccountIsolation {
		return x.Namespace == a.namespace
	}
	return x.Policy.Name == a.policy && x.Rule == a.rule
}

// TestCountersCountRealConnections enforces compiled programs with denied packets
// logged on an emulated cluster, sends allowed and denied TCP and UDP connections, and
// checks that exactly the accounts that decided them counted them: the allowing rule of
// each port, the admin deny rule, the namespace's isolation; every other counter stays
// at 0. Each connection counts once (its first packet, or each denied attempt); the
// deny accounts log through NFLOG under their own name.
func TestCountersCountRealConnections(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("skipping: the nft command is missing (apt-get install nftables); the test reads the table's listing")
	}
	f := filepath.Join(t.TempDir(), "cluster.yaml")
	if err := os.WriteFile(f, []byte(accountingCluster), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := loader.Load([]string{f}, loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := Plan(c, PlanOptions{Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	client, server := podByKey(t, spec, "dev/client"), podByKey(t, spec, "prod/server")
	tcp := func(n uint16) policy.Port { return policy.Port{Proto: policy.ProtoTCP, Num: n} }
	udp := func(n uint16) policy.Port { return policy.Port{Proto: policy.ProtoUDP, Num: n} }
	spec.Pods[server].Ports = []policy.Port{tcp(80), tcp(8080), tcp(2222), udp(5353), udp(9999)}
	e, err := policy.Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := New(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()

	logOpts := dataplane.LogOptions{Group: dataplane.DefaultLogGroup, Denied: true}
	programs := make([]*dataplane.Program, len(spec.Nodes))
	conns := make([]*dataplane.Conn, len(spec.Nodes))
	for i := range spec.Nodes {
		var local []int32
		for j, p := range spec.Pods {
			if p.Node == i {
				local = append(local, int32(j))
			}
		}
		p, err := dataplane.Compile(e, local, dataplane.Options{TableName: TableName, Log: logOpts})
		if err != nil {
			t.Fatal(err)
		}
		conn, err := dataplane.Open(tb.NodeNetns(i))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := conn.Apply(p); err != nil {
			t.Fatalf("node %s: %v", spec.Nodes[i].Name, err)
		}
		programs[i], conns[i] = p, conn
	}
	sp := programs[spec.Pods[server].Node]
	if len(sp.Accounts) == 0 {
		t.Fatal("the server's node program has no accounts")
	}

	allowTCP := acct{kind: dataplane.AccountRule, policy: "allow-client", rule: 0}
	allowUDP := acct{kind: dataplane.AccountRule, policy: "allow-client", rule: 1}
	denySSH := acct{kind: dataplane.AccountRule, policy: "no-ssh", rule: 0}
	isolation := acct{kind: dataplane.AccountIsolation, namespace: "prod"}
	cases := []struct {
		port    policy.Port
		n       int
		reached bool
		acct    acct
	}{
		{tcp(80), 4, true, allowTCP},
		{udp(5353), 3, true, allowUDP},
		{tcp(2222), 2, false, denySSH},
		{tcp(8080), 3, false, isolation},
		{udp(9999), 2, false, isolation},
	}
	// One try per probe, shorter than TCP's first retransmission (1 s): each attempt is
	// one packet on the server's node.
	opts := ProbeOptions{Timeout: 300 * time.Millisecond, Tries: 1}
	want := map[acct]uint64{}
	for _, tc := range cases {
		for range tc.n {
			o := tb.ProbeOne(context.Background(), Probe{From: client, To: server, Port: tc.port}, opts)
			if o.Outcome.Reached() != tc.reached {
				t.Fatalf("client -> server %s: %s (%v), want reached = %v", tc.port, o.Outcome, o.Err, tc.reached)
			}
		}
		want[tc.acct] += uint64(tc.n)
	}

	// Sum each account over the nodes (only the server's node decides its ingress).
	got := map[acct]dataplane.Counts{}
	others := map[string]dataplane.Counts{}
	for i, p := range programs {
		counts, err := conns[i].Counters(p.Table)
		if err != nil {
			t.Fatal(err)
		}
		if len(counts) != len(p.Accounts) {
			t.Errorf("node %s: %d counters in the kernel for %d accounts", spec.Nodes[i].Name, len(counts), len(p.Accounts))
		}
	accounts:
		for _, a := range p.Accounts {
			k := counts[a.Name]
			for w := range want {
				if w.is(a) {
					g := got[w]
					g.Packets, g.Bytes = g.Packets+k.Packets, g.Bytes+k.Bytes
					got[w] = g
					continue accounts
				}
			}
			if k != (dataplane.Counts{}) {
				others[spec.Nodes[i].Name+" "+a.Name] = k
			}
		}
	}
	for w, n := range want {
		if g := got[w]; g.Packets != n || g.Bytes == 0 {
			t.Errorf("%s counted %d packets (%d bytes), want %d", w, g.Packets, g.Bytes, n)
		}
	}
	for name, k := range others {
		t.Errorf("%s counted %d packets, yet no connection was decided by it", name, k.Packets)
	}

	// The deny accounts log under their own name, within the shared limit.
	out, err := exec.Command("ip", "netns", "exec", filepath.Base(tb.NodeNetns(spec.Pods[server].Node)),
		"nft", "list", "table", "inet", TableName).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list: %v: %s", err, out)
	}
	for _, a := range sp.Accounts {
		if a.Verdict != dataplane.AccountDeny || !(denySSH.is(a) || isolation.is(a)) {
			continue
		}
		line := fmt.Sprintf(`limit name %q log prefix %q group %d`, dataplane.LogLimitName, dataplane.LogPrefix(dataplane.LogDeny, a.Name), logOpts.Group)
		if !strings.Contains(string(out), line) {
			t.Errorf("the server's node table has no %q:\n%s", line, out)
		}
	}
	if !strings.Contains(string(out), "limit "+dataplane.LogLimitName+" {") {
		t.Errorf("the server's node table has no limit %s:\n%s", dataplane.LogLimitName, out)
	}
}

func podByKey(t *testing.T, s *Spec, key string) int {
	t.Helper()
	for i, p := range s.Pods {
		if p.Key == key {
			return i
		}
	}
	t.Fatalf("no pod %s", key)
	return -1
}
