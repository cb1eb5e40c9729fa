package agent

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/netwarden/netwarden/pkg/dataplane"
)

// CounterSource is what the per-rule metrics need of a dataplane: the kernel's counters,
// and the program in force, whose accounts say what each counter counts.
type CounterSource interface {
	Counters() (map[string]dataplane.Counts, error)
	Current() *dataplane.Program
}

// RuleDetail chooses how finely the per-rule counters are exported.
type RuleDetail string

const (
	// RuleDetailRule: a series per policy rule (and per isolated namespace) that has
	// decided a packet on this node.
	RuleDetailRule RuleDetail = "rule"
	// RuleDetailPolicy: the rules of a policy summed, a series per policy.
	RuleDetailPolicy RuleDetail = "policy"
	// RuleDetailOff: no per-rule series.
	RuleDetailOff RuleDetail = "off"
)

// ParseRuleDetail checks a --rule-metrics value.
func ParseRuleDetail(s string) (RuleDetail, error) {
	switch d := RuleDetail(s); d {
	case RuleDetailRule, RuleDetailPolicy, RuleDetailOff:
		return d, nil
	}
	return "", fmt.Errorf("%q: want rule, policy or off", s)
}

// ruleCollector exports the kernel's per-rule counters at scrape time. Its cardinality
// is bounded by the policies, never by pods or addresses: no label names a pod or an
// address, and a series appears only once its rule has decided a packet on this node
// (rules of policies that select no local pod are not in this node's program at all).
//
// A counter object starts from zero when the table is rewritten whole or a rule is
// recreated; the collector adds what each reading grew by, so the exported totals only
// ever grow, as Prometheus counters must, and a reset costs at most the packets counted
// between the last scrape and the rewrite.
type ruleCollector struct {
	src     CounterSource
	detail  RuleDetail
	packets *prometheus.Desc
	bytes   *prometheus.Desc
	errors  prometheus.Counter

	mu    sync.Mutex
	last  map[string]dataplane.Counts // the kernel's reading, by account
	total map[string]dataplane.Counts // what was exported, by account
}

func newRuleCollector(src CounterSource, detail RuleDetail) *ruleCollector {
	labels := []string{"tier", "direction", "verdict", "kind", "namespace", "policy"}
	if detail == RuleDetailRule {
		labels = append(labels, "rule", "rule_name")
	}
	return &ruleCollector{
		src:    src,
		detail: detail,
		packets: prometheus.NewDesc(metricsNamespace+"_rule_packets_total",
			"Packets a policy rule decided on this node (the first packet of each connection, and every packet of one never "+
				"established). rule=\"isolation\" counts what an isolated pod's NetworkPolicies did not allow.", labels, nil),
		bytes: prometheus.NewDesc(metricsNamespace+"_rule_bytes_total",
			"Bytes of the packets in netwarden_agent_rule_packets_total.", labels, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "rule_counter_read_errors_total",
			Help: "Scrapes that could not read the kernel's rule counters."}),
		last:  map[string]dataplane.Counts{},
		total: map[string]dataplane.Counts{},
	}
}

func (c *ruleCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.packets
	ch <- c.bytes
	c.errors.Describe(ch)
}

func (c *ruleCollector) Collect(ch chan<- prometheus.Metric) {
	defer c.errors.Collect(ch)
	p := c.src.Current()
	if p == nil {
		return // nothing programmed yet
	}
	counts, err := c.src.Counters()
	if err != nil {
		c.errors.Inc()
		return
	}
	type series struct {
		labels []string
		n      dataplane.Counts
	}
	var order []string
	out := map[string]*series{}
	for _, name := range c.advance(p, counts) {
		acct, _ := p.Account(name)
		n := c.total[name]
		if n.Packets == 0 {
			continue
		}
		labels := accountLabels(acct, c.detail)
		key := fmt.Sprint(labels)
		s := out[key]
		if s == nil {
			s = &series{labels: labels}
			out[key] = s
			order = append(order, key)
		}
		s.n.Packets += n.Packets
		s.n.Bytes += n.Bytes
	}
	for _, k := range order {
		s := out[k]
		ch <- prometheus.MustNewConstMetric(c.packets, prometheus.CounterValue, float64(s.n.Packets), s.labels...)
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(s.n.Bytes), s.labels...)
	}
}

// advance folds a reading into the totals and returns the accounts of the program, in
// its order. Accounts gone from the program are forgotten: their series end.
func (c *ruleCollector) advance(p *dataplane.Program, counts map[string]dataplane.Counts) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := make([]string, 0, len(p.Accounts))
	seen := make(map[string]bool, len(p.Accounts))
	for _, a := range p.Accounts {
		seen[a.Name] = true
		names = append(names, a.Name)
		cur, ok := counts[a.Name]
		if !ok {
			// Not in the kernel yet, or missed by a dump another write interrupted:
			// the total stands as it was.
			continue
		}
		prev := c.last[a.Name]
		t := c.total[a.Name]
		if cur.Packets < prev.Packets || cur.Bytes < prev.Bytes {
			prev = dataplane.Counts{} // the object was recreated: it counted from zero
		}
		t.Packets += cur.Packets - prev.Packets
		t.Bytes += cur.Bytes - prev.Bytes
		c.total[a.Name] = t
		c.last[a.Name] = cur
	}
	for name := range c.total {
		if !seen[name] {
			delete(c.total, name)
			delete(c.last, name)
		}
	}
	return names
}

// accountLabels are an account's label values, in the order of newRuleCollector.
func accountLabels(a dataplane.Account, detail RuleDetail) []string {
	kind, policy := a.Policy.Kind, a.Policy.Name
	labels := []string{strings.ToLower(a.Tier.String()), a.Direction.String(), a.Verdict.String(), kind, a.Namespace, policy}
	if detail != RuleDetailRule {
		return labels
	}
	rule := strconv.Itoa(a.Rule)
	if a.Kind == dataplane.AccountIsolation {
		rule = "isolation"
	}
	return append(labels, rule, a.RuleName)
}
