package flowlog

import (
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netwarden/netwarden/pkg/dataplane"
	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

var update = flag.Bool("update", false, "rewrite golden files")

func testEngine(t testing.TB) *policy.Engine {
	t.Helper()
	c, err := loader.Load([]string{filepath.Join("testdata", "cluster.yaml")}, loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := policy.Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// testAccounts stand for the program compiled from testdata/cluster.yaml.
var testAccounts = map[string]dataplane.Account{
	"anp_in": {Name: "anp_in", Kind: dataplane.AccountRule, Tier: policy.TierAdmin, Direction: policy.Ingress, Verdict: dataplane.AccountDeny,
		Policy: model.Ref{Kind: "AdminNetworkPolicy", Name: "deny-scanner"}, Rule: 0, RuleName: "block-scanner"},
	"iso_prod_in": {Name: "iso_prod_in", Kind: dataplane.AccountIsolation, Tier: policy.TierNetworkPolicy, Direction: policy.Ingress,
		Verdict: dataplane.AccountDeny, Rule: -1, Namespace: "prod"},
	"banp_eg": {Name: "banp_eg", Kind: dataplane.AccountRule, Tier: policy.TierBaseline, Direction: policy.Egress, Verdict: dataplane.AccountDeny,
		Policy: model.Ref{Kind: "BaselineAdminNetworkPolicy", Name: "default"}, Rule: 0, RuleName: "no-docs"},
}

func lookupTestAccount(name string) (dataplane.Account, bool) {
	a, ok := testAccounts[name]
	return a, ok
}

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 123e6, time.UTC)

func msg(kind dataplane.LogKind, name, src, dst string, proto policy.Proto, dport uint16) Message {
	h := Header{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Proto: proto}
	if proto == policy.ProtoICMP || proto == policy.ProtoICMPv6 {
		h.ICMPType = 8
	} else {
		h.SrcPort, h.DstPort = 40000, dport
	}
	return Message{Prefix: dataplane.LogPrefix(kind, name), Time: t0, Packet: h}
}

func TestAttribute(t *testing.T) {
	e := testEngine(t)
	const (
		web, db, cache, app, scanner = "10.0.1.10", "10.0.1.20", "10.0.1.30", "10.0.2.10", "10.0.3.10"
		web6, db6, scanner6          = "fd00::1:10", "fd00::1:20", "fd00::3:10"
		nodeA, outside               = "10.0.0.1", "192.0.2.7"
	)
	type want struct {
		verdict, direction, tier, policy string
		rule                             int // -1: none
		ruleName, src, dst, reason       string
		audit, auditReason               string // audit verdict ("" none) and words
		stale                            bool
		isolatedBy                       int
	}
	for _, tc := range []struct {
		name    string
		m       Message
		allowed bool // Options.Allowed
		noState bool // attribute without an engine or accounts
		none    bool // no record
		w       want
	}{
		{name: "an admin deny names the policy, the rule and its name",
			m: msg(dataplane.LogDeny, "anp_in", scanner, db, policy.ProtoTCP, 5432),
			w: want{verdict: "deny", direction: "ingress", tier: "admin", policy: "AdminNetworkPolicy deny-scanner", rule: 0, ruleName: "block-scanner",
				src: "ops/scanner", dst: "prod/db", reason: "denied by AdminNetworkPolicy deny-scanner rule 0 (block-scanner)"}},
		{name: "an admin deny over IPv6 names the same pods",
			m: msg(dataplane.LogDeny, "anp_in", scanner6, web6, policy.ProtoTCP, 80),
			w: want{verdict: "deny", direction: "ingress", tier: "admin", policy: "AdminNetworkPolicy deny-scanner", rule: 0, ruleName: "block-scanner",
				src: "ops/scanner", dst: "prod/web", reason: "denied by AdminNetworkPolicy deny-scanner rule 0 (block-scanner)"}},
		{name: "a baseline deny names the baseline policy; an outside address stays a bare IP",
			m: msg(dataplane.LogDeny, "banp_eg", app, outside, policy.ProtoTCP, 443),
			w: want{verdict: "deny", direction: "egress", tier: "baseline", policy: "BaselineAdminNetworkPolicy default", rule: 0, ruleName: "no-docs",
				src: "staging/app", dst: outside, reason: "denied by BaselineAdminNetworkPolicy default rule 0 (no-docs)"}},
		{name: "ICMP has a type and no port",
			m: msg(dataplane.LogDeny, "banp_eg", app, outside, policy.ProtoICMP, 0),
			w: want{verdict: "deny", direction: "egress", tier: "baseline", policy: "BaselineAdminNetworkPolicy default", rule: 0, ruleName: "no-docs",
				src: "staging/app", dst: outside, reason: "denied by BaselineAdminNetworkPolicy default rule 0 (no-docs)"}},
		{name: "isolation by one policy names it",
			m: msg(dataplane.LogDeny, "iso_prod_in", outside, web, policy.ProtoTCP, 80),
			w: want{verdict: "deny", direction: "ingress", tier: "networkpolicy", policy: "NetworkPolicy prod/default-deny", rule: -1,
				src: outside, dst: "prod/web", reason: "isolated by NetworkPolicy prod/default-deny; nothing allowed it", isolatedBy: 1}},
		{name: "isolation by several policies names the first and counts the others",
			m: msg(dataplane.LogDeny, "iso_prod_in", app, cache, policy.ProtoTCP, 6379),
			w: want{verdict: "deny", direction: "ingress", tier: "networkpolicy", policy: "NetworkPolicy prod/cache-a", rule: -1,
				src: "staging/app", dst: "prod/cache", reason: "isolated by NetworkPolicy prod/cache-a (and 2 more); nothing allowed it", isolatedBy: 3}},
		{name: "a denial an audit policy would allow says so",
			m: msg(dataplane.LogDeny, "iso_prod_in", app, web, policy.ProtoTCP, 80),
			w: want{verdict: "deny", direction: "ingress", tier: "networkpolicy", policy: "NetworkPolicy prod/default-deny", rule: -1,
				src: "staging/app", dst: "prod/web", reason: "isolated by NetworkPolicy prod/default-deny; nothing allowed it", isolatedBy: 1,
				audit: "allow", auditReason: "would be allowed by NetworkPolicy prod/staged-open rule 0"}},
		{name: "an allowed connection names the allowing rule (named port resolved on the destination)",
			m: msg(dataplane.LogAllow, "ingress", web, db, policy.ProtoTCP, 5432),
			w: want{verdict: "allow", direction: "ingress", tier: "networkpolicy", policy: "NetworkPolicy prod/db-from-web", rule: 0,
				src: "prod/web", dst: "prod/db", reason: "allowed by NetworkPolicy prod/db-from-web rule 0"}},
		{name: "an allowed IPv6 connection names the same rule",
			m: msg(dataplane.LogAllow, "ingress", web6, db6, policy.ProtoTCP, 5432),
			w: want{verdict: "allow", direction: "ingress", tier: "networkpolicy", policy: "NetworkPolicy prod/db-from-web", rule: 0,
				src: "prod/web", dst: "prod/db", reason: "allowed by NetworkPolicy prod/db-from-web rule 0"}},
		{name: "a node address is named as the node; pods always accept their own node",
			m: msg(dataplane.LogAllow, "ingress", nodeA, web, policy.ProtoTCP, 8080),
			w: want{verdict: "allow", direction: "ingress", tier: "default", rule: -1,
				src: "node/node-a", dst: "prod/web", reason: "traffic between prod/web and its own node is always allowed"}},
		{name: "an allowed connection an audit policy would deny carries the audit part",
			m: msg(dataplane.LogAllow, "egress", db, outside, policy.ProtoUDP, 53),
			w: want{verdict: "allow", direction: "egress", tier: "default", rule: -1, src: "prod/db", dst: outside,
				reason: "no policy decided the egress of prod/db; the Kubernetes default allows it",
				audit:  "deny", auditReason: "would be isolated by NetworkPolicy prod/staged-lockdown; nothing would allow it"}},
		{name: "an audit line the audit policies would deny is a record: allowed, would deny",
			m: msg(dataplane.LogAudit, "egress", db, outside, policy.ProtoUDP, 53),
			w: want{verdict: "allow", direction: "egress", tier: "default", rule: -1, src: "prod/db", dst: outside,
				reason: "no policy decided the egress of prod/db; the Kubernetes default allows it",
				audit:  "deny", auditReason: "would be isolated by NetworkPolicy prod/staged-lockdown; nothing would allow it"}},
		{name: "an audit line the audit policies would allow is no record when allowed lines are off",
			m: msg(dataplane.LogAudit, "ingress", nodeA, web, policy.ProtoTCP, 8080), none: true},
		{name: "an audit line the audit policies would allow is a plain allowed record when allowed lines are on",
			m: msg(dataplane.LogAudit, "ingress", nodeA, web, policy.ProtoTCP, 8080), allowed: true,
			w: want{verdict: "allow", direction: "ingress", tier: "default", rule: -1,
				src: "node/node-a", dst: "prod/web", reason: "traffic between prod/web and its own node is always allowed"}},
		{name: "the kernel's verdict stands when the policies now decide otherwise (stale)",
			m: msg(dataplane.LogDeny, "iso_prod_in", web, db, policy.ProtoTCP, 5432),
			w: want{verdict: "deny", direction: "ingress", tier: "networkpolicy", policy: "NetworkPolicy prod/db-from-web", rule: -1,
				src: "prod/web", dst: "prod/db", reason: "isolated by NetworkPolicy prod/db-from-web (and 1 more); nothing allowed it", isolatedBy: 2, stale: true}},
		{name: "an account the program no longer has is stale; the engine gives the direction",
			m: msg(dataplane.LogDeny, "gone", scanner, db, policy.ProtoTCP, 5432),
			w: want{verdict: "deny", direction: "ingress", rule: -1, src: "ops/scanner", dst: "prod/db",
				reason: "denied by gone, which the program in force no longer has", stale: true}},
		{name: "before the first sync the account alone speaks and addresses stay bare",
			m: msg(dataplane.LogDeny, "anp_in", scanner, db, policy.ProtoTCP, 5432), noState: true,
			w: want{verdict: "deny", direction: "ingress", tier: "admin", policy: "AdminNetworkPolicy deny-scanner", rule: 0, ruleName: "block-scanner",
				src: scanner, dst: db, reason: "denied by AdminNetworkPolicy deny-scanner rule 0 (block-scanner)"}},
		{name: "a prefix netwarden did not write is no record",
			m: Message{Prefix: "other:d:x", Packet: Header{Src: netip.MustParseAddr(web), Dst: netip.MustParseAddr(db), Proto: policy.ProtoTCP}}, none: true},
		{name: "an allow prefix naming no direction is no record",
			m: msg(dataplane.LogAllow, "sideways", web, db, policy.ProtoTCP, 5432), none: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAttributor(Options{Node: "node-a", Allowed: tc.allowed}, e, lookupTestAccount)
			if tc.noState {
				a = NewAttributor(Options{Node: "node-a"}, nil, lookupTestAccount)
			}
			rec, ok := a.Attribute(tc.m)
			if tc.none {
				if ok {
					t.Fatalf("got a record, want none: %+v", rec)
				}
				return
			}
			if !ok {
				t.Fatal("no record")
			}
			w := tc.w
			got := want{verdict: rec.Verdict, direction: rec.Direction, tier: rec.Tier, rule: -1, ruleName: rec.RuleName,
				src: rec.Src.String(), dst: rec.Dst.String(), reason: rec.Reason, stale: rec.Stale, isolatedBy: len(rec.IsolatedBy)}
			if rec.Policy != nil {
				got.policy = rec.Policy.String()
			}
			if rec.Rule != nil {
				got.rule = *rec.Rule
			}
			if rec.Audit != nil {
				got.audit, got.auditReason = rec.Audit.Verdict, rec.Audit.Reason
			}
			if !strings.Contains(got.reason, w.reason) {
				t.Errorf("reason %q lacks %q", got.reason, w.reason)
			}
			if !strings.Contains(got.auditReason, w.auditReason) {
				t.Errorf("audit reason %q lacks %q", got.auditReason, w.auditReason)
			}
			got.reason, got.auditReason, w.reason, w.auditReason = "", "", "", ""
			if got != w {
				t.Errorf("got  %+v\nwant %+v", got, w)
			}
			if rec.Node != "node-a" || !rec.Time.Equal(t0) {
				t.Errorf("node %q time %v", rec.Node, rec.Time)
			}
			if h := tc.m.Packet; h.Proto == policy.ProtoICMP {
				if rec.Port != 0 || rec.ICMP == nil || rec.ICMP.Type != 8 || rec.Protocol != "ICMP" {
					t.Errorf("ICMP record: protocol %q port %d icmp %+v", rec.Protocol, rec.Port, rec.ICMP)
				}
			} else if rec.Port != h.DstPort || rec.ICMP != nil {
				t.Errorf("port %d icmp %+v, want %d", rec.Port, rec.ICMP, h.DstPort)
			}
		})
	}
}

// TestRecordJSON pins the JSON shape, an interface: scripts read these lines.
func TestRecordJSON(t *testing.T) {
	e := testEngine(t)
	a := NewAttributor(Options{Node: "node-a"}, e, lookupTestAccount)
	var b strings.Builder
	for _, m := range []Message{
		msg(dataplane.LogDeny, "anp_in", "10.0.3.10", "10.0.1.20", policy.ProtoTCP, 5432),
		msg(dataplane.LogDeny, "iso_prod_in", "10.0.2.10", "10.0.1.10", policy.ProtoTCP, 80),
		msg(dataplane.LogDeny, "banp_eg", "10.0.2.10", "192.0.2.7", policy.ProtoICMP, 0),
		msg(dataplane.LogAudit, "egress", "fd00::1:20", "2001:db8::53", policy.ProtoUDP, 53),
		msg(dataplane.LogAllow, "ingress", "10.0.0.1", "10.0.1.10", policy.ProtoTCP, 8080),
	} {
		rec, ok := a.Attribute(m)
		if !ok {
			t.Fatalf("no record for %+v", m)
		}
		line, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	golden := filepath.Join("testdata", "records.golden.jsonl")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("records differ from %s (go test -update rewrites it):\n%s", golden, b.String())
	}
}
