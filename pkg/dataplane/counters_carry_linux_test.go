package dataplane

import (
	"net/netip"
	"testing"
)

// TestCountsSurviveAWholeRewrite: the agent's periodic resync replaces the whole table;
// the counters of accounts both tables have go on from their counts, a new account
// starts from zero.
func TestCountsSurviveAWholeRewrite(t *testing.T) {
	_, h, c, _, before := countedFourAccounts(t)
	if before["acc_allow_tcp"].Packets != 3 || before["acc_deny_tcp"].Packets == 0 {
		t.Fatalf("before the rewrite: %+v", before)
	}
	p2 := acctProgram(append(fourAccounts, "new"), netip.MustParseAddr("127.0.0.21"))
	replaced := c.replaced
	if err := c.Apply(p2); err != nil {
		t.Fatal(err)
	}
	if c.replaced != replaced+1 {
		t.Fatal("Apply did not replace the table")
	}
	got, err := c.Counters(DefaultTableName)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range p2.Accounts {
		if got[a.Name] != before[a.Name] {
			t.Errorf("%s counts %+v after the rewrite, want %+v", a.Name, got[a.Name], before[a.Name])
		}
	}
	traffic(t, h, "tcp", acctAddrs["allow_tcp"], 7001, 1)
	if got, _ := c.Counters(DefaultTableName); got["acc_allow_tcp"].Packets != 4 {
		t.Errorf("acc_allow_tcp counted %d packets after one more connection, want 4", got["acc_allow_tcp"].Packets)
	}
}
