package agent

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/netwarden/netwarden/pkg/dataplane"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// countersAt is a CounterSource whose readings the test sets.
type countersAt struct {
	p      *dataplane.Program
	counts map[string]dataplane.Counts
}

func (c *countersAt) Counters() (map[string]dataplane.Counts, error) { return c.counts, nil }
func (c *countersAt) Current() *dataplane.Program                    { return c.p }

func testAccounts() []dataplane.Account {
	db := model.Ref{Kind: "NetworkPolicy", Namespace: "prod", Name: "db"}
	return []dataplane.Account{
		{Name: "acct_anp_deny_in0", Kind: dataplane.AccountRule, Tier: policy.TierAdmin, Direction: policy.Ingress,
			Verdict: dataplane.AccountDeny, Policy: model.Ref{Kind: "AdminNetworkPolicy", Name: "deny"}, Rule: 0, RuleName: "block"},
		{Name: "acct_iso_prod_in", Kind: dataplane.AccountIsolation, Tier: policy.TierNetworkPolicy, Direction: policy.Ingress,
			Verdict: dataplane.AccountDeny, Rule: -1, Namespace: "prod"},
		{Name: "acct_np_prod_db_in0", Kind: dataplane.AccountRule, Tier: policy.TierNetworkPolicy, Direction: policy.Ingress,
			Verdict: dataplane.AccountAllow, Policy: db, Rule: 0, Namespace: "prod"},
		{Name: "acct_np_prod_db_in1", Kind: dataplane.AccountRule, Tier: policy.TierNetworkPolicy, Direction: policy.Ingress,
			Verdict: dataplane.AccountAllow, Policy: db, Rule: 1, Namespace: "prod"},
	}
}

func TestRuleMetrics(t *testing.T) {
	src := &countersAt{p: &dataplane.Program{Accounts: testAccounts()}}
	steps := []struct {
		name   string
		counts map[string]dataplane.Counts
		// program, when set, is the program in force from this step on.
		program *dataplane.Program
		want    string
	}{
		{
			name:   "rules that decided nothing have no series",
			counts: map[string]dataplane.Counts{"acct_np_prod_db_in0": {Packets: 3, Bytes: 180}, "acct_anp_deny_in0": {}},
			want: `netwarden_agent_rule_packets_total{direction="ingress",kind="NetworkPolicy",namespace="prod",policy="db",rule="0",rule_name="",tier="networkpolicy",verdict="allow"} 3
`,
		},
		{
			name: "every rule, isolation and admin rules with their names are labelled",
			counts: map[string]dataplane.Counts{"acct_np_prod_db_in0": {Packets: 5, Bytes: 300}, "acct_np_prod_db_in1": {Packets: 1, Bytes: 60},
				"acct_iso_prod_in": {Packets: 2, Bytes: 120}, "acct_anp_deny_in0": {Packets: 4, Bytes: 240}},
			want: `netwarden_agent_rule_packets_total{direction="ingress",kind="",namespace="prod",policy="",rule="isolation",rule_name="",tier="networkpolicy",verdict="deny"} 2
netwarden_agent_rule_packets_total{direction="ingress",kind="AdminNetworkPolicy",namespace="",policy="deny",rule="0",rule_name="block",tier="admin",verdict="deny"} 4
netwarden_agent_rule_packets_total{direction="ingress",kind="NetworkPolicy",namespace="prod",policy="db",rule="0",rule_name="",tier="networkpolicy",verdict="allow"} 5
netwarden_agent_rule_packets_total{direction="ingress",kind="NetworkPolicy",namespace="prod",policy="db",rule="1",rule_name="",tier="networkpolicy",verdict="allow"} 1
`,
		},
		{
			name: "a counter missing from one reading (an interrupted dump) keeps its series",
			counts: map[string]dataplane.Counts{"acct_np_prod_db_in0": {Packets: 5, Bytes: 300}, "acct_np_prod_db_in1": {Packets: 1, Bytes: 60},
				"acct_anp_deny_in0": {Packets: 4, Bytes: 240}},
			want: `netwarden_agent_rule_packets_total{direction="ingress",kind="",namespace="prod",policy="",rule="isolation",rule_name="",tier="networkpolicy",verdict="deny"} 2
netwarden_agent_rule_packets_total{direction="ingress",kind="AdminNetworkPolicy",namespace="",policy="deny",rule="0",rule_name="block",tier="admin",verdict="deny"} 4
netwarden_agent_rule_packets_total{direction="ingress",kind="NetworkPolicy",namespace="prod",policy="db",rule="0",rule_name="",tier="networkpolicy",verdict="allow"} 5
netwarden_agent_rule_packets_total{direction="ingress",kind="NetworkPolicy",namespace="prod",policy="db",rule="1",rule_name="",tier="networkpolicy",verdict="allow"} 1
`,
		},
		{
			name: "a counter recreated from zero (a whole rewrite) keeps the total growing",
			counts: map[string]dataplane.Counts{"acct_np_prod_db_in0": {Packets: 2, Bytes: 120}, "acct_np_prod_db_in1": {Packets: 1, Bytes: 60},
				"acct_iso_prod_in": {Packets: 2, Bytes: 120}, "acct_anp_deny_in0": {Packets: 4, Bytes: 240}},
			want: `netwarden_agent_rule_packets_total{direction="ingress",kind="",namespace="prod",policy="",rule="isolation",rule_name="",tier="networkpolicy",verdict="deny"} 2
netwarden_agent_rule_packets_total{direction="ingress",kind="AdminNetworkPolicy",namespace="",policy="deny",rule="0",rule_name="block",tier="admin",verdict="deny"} 4
netwarden_agent_rule_packets_total{direction="ingress",kind="NetworkPolicy",namespace="prod",policy="db",rule="0",rule_name="",tier="networkpolicy",verdict="allow"} 7
netwarden_agent_rule_packets_total{direction="ingress",kind="NetworkPolicy",namespace="prod",policy="db",rule="1",rule_name="",tier="networkpolicy",verdict="allow"} 1
`,
		},
		{
			name:    "a rule gone from the program ends its series",
			counts:  map[string]dataplane.Counts{"acct_np_prod_db_in0": {Packets: 2, Bytes: 120}},
			program: &dataplane.Program{Accounts: testAccounts()[2:3]},
			want: `netwarden_agent_rule_packets_total{direction="ingress",kind="NetworkPolicy",namespace="prod",policy="db",rule="0",rule_name="",tier="networkpolicy",verdict="allow"} 7
`,
		},
	}
	c := newRuleCollector(src, RuleDetailRule)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			src.counts = s.counts
			if s.program != nil {
				src.p = s.program
			}
			if got := gathered(t, reg, "netwarden_agent_rule_packets_total"); got != s.want {
				t.Errorf("got\n%swant\n%s", got, s.want)
			}
		})
	}
}

func TestRuleMetricsPerPolicySumsTheRules(t *testing.T) {
	src := &countersAt{p: &dataplane.Program{Accounts: testAccounts()}, counts: map[string]dataplane.Counts{
		"acct_np_prod_db_in0": {Packets: 5, Bytes: 300}, "acct_np_prod_db_in1": {Packets: 1, Bytes: 60}}}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(newRuleCollector(src, RuleDetailPolicy))
	want := `netwarden_agent_rule_bytes_total{direction="ingress",kind="NetworkPolicy",namespace="prod",policy="db",tier="networkpolicy",verdict="allow"} 360
`
	if got := gathered(t, reg, "netwarden_agent_rule_bytes_total"); got != want {
		t.Errorf("got\n%swant\n%s", got, want)
	}
}

func TestRuleMetricsBeforeTheFirstWriteAreEmpty(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(newRuleCollector(&countersAt{}, RuleDetailRule))
	if got := gathered(t, reg, "netwarden_agent_rule_packets_total"); got != "" {
		t.Errorf("got series before anything was programmed:\n%s", got)
	}
}

// gathered prints the counters of one family as `name{label="value",...} value` lines,
// labels sorted by name and lines sorted.
func gathered(t *testing.T, g prometheus.Gatherer, name string) string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			slices.Sort(ls)
			lines = append(lines, fmt.Sprintf("%s{%s} %g\n", name, strings.Join(ls, ","), m.GetCounter().GetValue()))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "")
}
