package dataplane

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/netwarden/netwarden/pkg/policy"
)

const acctGroup = 2718

// acctAddr is the loopback address whose packets the account chain acct_<name> decides.
var acctAddrs = map[string]netip.Addr{
	"allow_tcp": netip.MustParseAddr("127.0.0.11"),
	"deny_tcp":  netip.MustParseAddr("127.0.0.12"),
	"allow_udp": netip.MustParseAddr("127.0.0.13"),
	"idle":      netip.MustParseAddr("127.0.0.14"),
	"new":       netip.MustParseAddr("127.0.0.15"),
}

// acctProgram is a table whose output chain dispatches new connections by destination
// address to one chain per account: allowing ones count and accept, denying ones count,
// log (within the shared limit) and drop. extra are more addresses dispatched to
// allow_tcp (an unrelated change of elements).
func acctProgram(names []string, extra ...netip.Addr) *Program {
	o := LogOptions{Group: acctGroup, Denied: true}
	p := &Program{Table: DefaultTableName, opts: Options{KeepEstablished: true, Log: o}}
	var els []Element
	var chains []*Chain
	for _, n := range names {
		acct := "acc_" + n
		p.Accounts = append(p.Accounts, Account{Name: acct, Kind: AccountRule, Direction: policy.Egress, Rule: 0})
		c := &Chain{Name: "acct_" + n}
		if strings.HasPrefix(n, "deny") {
			p.Accounts[len(p.Accounts)-1].Verdict = AccountDeny
			// Over the log limit the first rule ends before its verdict: the second drops.
			c.Rules = []Rule{rule().count(acct).log(o, LogDeny, acct).drop(), rule().drop()}
		} else {
			c.Rules = []Rule{rule().count(acct).accept()}
		}
		chains = append(chains, c)
		if n == "new" {
			// Through a map and a chain of its own, which come and go with it: new
			// chains are there before a new map's elements go to them, and a map goes
			// before the chains its elements go to.
			p.Sets = append(p.Sets, &Set{Name: "dispatch_new4", Key: KeyAddr4, Map: true,
				Elements: []Element{{Addr: acctAddrs[n], Verdict: Verdict{Kind: Goto, Target: c.Name}}}})
			chains = append(chains, &Chain{Name: "sub_new", Rules: []Rule{rule().vmap(Daddr, IPv4, "dispatch_new4")}})
			els = append(els, Element{Addr: acctAddrs[n], Verdict: Verdict{Kind: Goto, Target: "sub_new"}})
			continue
		}
		els = append(els, Element{Addr: acctAddrs[n], Verdict: Verdict{Kind: Goto, Target: c.Name}})
	}
	for _, a := range extra {
		els = append(els, Element{Addr: a, Verdict: Verdict{Kind: Goto, Target: "acct_allow_tcp"}})
	}
	p.Sets = append([]*Set{{Name: "dispatch4", Key: KeyAddr4, Map: true, Elements: sortElements(els)}}, p.Sets...)
	out := &Chain{Name: "output", Hook: HookOutput, Rules: []Rule{
		rule().ctState(ctEstablished | ctRelated).accept(),
		rule().vmap(Daddr, IPv4, "dispatch4"),
	}}
	p.Chains = append([]*Chain{out}, chains...)
	return p
}

var fourAccounts = []string{"allow_tcp", "allow_udp", "deny_tcp", "idle"}

// TestDiffObjects: counters come and go with accounts and the log limit with logging;
// objects both programs have are left alone; a rule whose statements changed is a
// changed rule; a log limit with another rate can only be replaced with the table.
func TestDiffObjects(t *testing.T) {
	names := func(os []Object) []string {
		var out []string
		for _, o := range os {
			out = append(out, o.Type.String()+" "+o.Name)
		}
		return out
	}
	base := acctProgram(fourAccounts)
	// Only the options differ (the chains log either way): the objects are what is
	// compared here.
	noLog := acctProgram(fourAccounts)
	noLog.opts.Log = LogOptions{}
	for _, tc := range []struct {
		name        string
		old, new    *Program
		ok          bool
		add, delete []string
	}{
		{"a program against itself changes nothing", base, base, true, nil, nil},
		{"a new account adds its counter", base, acctProgram(append(fourAccounts, "new")), true, []string{"counter acc_new"}, nil},
		{"an account gone deletes its counter", base, acctProgram([]string{"allow_tcp", "allow_udp", "idle"}), true, nil, []string{"counter acc_deny_tcp"}},
		{"logging on adds the limit", noLog, base, true, []string{"limit log_limit"}, nil},
		{"logging off deletes the limit", base, noLog, true, nil, []string{"limit log_limit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, ok := Diff(tc.old, tc.new)
			if ok != tc.ok {
				t.Fatalf("ok = %v", ok)
			}
			if got := names(d.AddObjects); !slices.Equal(got, tc.add) {
				t.Errorf("added %v, want %v", got, tc.add)
			}
			if got := names(d.DeleteObjects); !slices.Equal(got, tc.delete) {
				t.Errorf("deleted %v, want %v", got, tc.delete)
			}
			if d.Empty() != (len(tc.add)+len(tc.delete) == 0 && tc.old == tc.new) {
				t.Errorf("Empty() = %v", d.Empty())
			}
		})
	}

	faster := acctProgram(fourAccounts)
	faster.opts.Log.Rate = 1000
	if _, ok := Diff(base, faster); ok {
		t.Error("a log limit with another rate was taken for an incremental change")
	}
	// The same chain whose rule counts in another counter is another chain: Diff cannot
	// swap a rule, so it refuses.
	other := acctProgram(fourAccounts)
	other.Chains[1] = &Chain{Name: other.Chains[1].Name, Rules: []Rule{rule().count("acc_idle").accept()}}
	if _, ok := Diff(base, other); ok {
		t.Error("a rule counting in another counter was taken for the same rule")
	}
}
