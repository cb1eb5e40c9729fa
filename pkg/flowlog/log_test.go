package flowlog

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/netwarden/netwarden/pkg/dataplane"
	"github.com/netwarden/netwarden/pkg/policy"
)

func TestLogHandleUsesTheStateInForce(t *testing.T) {
	l := New(Config{Node: "node-a", Buffer: 8})
	m := msg(dataplane.LogDeny, "anp_in", "10.0.3.10", "10.0.1.20", policy.ProtoTCP, 5432)
	l.Handle(m) // before the first sync: no accounts, no engine
	l.SetState(testEngine(t), lookupTestAccount)
	l.Handle(m)
	l.Handle(Message{Prefix: "someone-else", Packet: m.Packet})
	recs := l.Hub().Recent(Filter{}, 0)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	if recs[0].Src.Pod != "" || recs[0].Reason != "denied by account anp_in; the agent has no program in force yet to name it" {
		t.Errorf("before the first sync: %+v", recs[0])
	}
	if recs[1].Stale || recs[1].Src.Pod != "ops/scanner" || recs[1].Reason != "denied by AdminNetworkPolicy deny-scanner rule 0 (block-scanner)" {
		t.Errorf("after SetState: %+v", recs[1])
	}
	if st := l.Stats(); st.Unattributed != 1 || st.Hub.Published != 2 {
		t.Errorf("stats %+v, want 1 unattributed and 2 published", st)
	}
}

func TestLogCollectorsRegister(t *testing.T) {
	l := New(Config{})
	l.Handle(Message{Prefix: "someone-else"})
	reg := prometheus.NewPedanticRegistry()
	for _, c := range l.Collectors() {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
		if mf.GetName() == "netwarden_agent_flowlog_unattributed_total" && mf.GetMetric()[0].GetCounter().GetValue() != 1 {
			t.Errorf("unattributed_total = %v, want 1", mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
	if got := strings.Join(names, " "); !strings.Contains(got, "netwarden_agent_flowlog_lost_total") || len(names) != 7 {
		t.Errorf("metrics: %s", got)
	}
}
