package dataplane

import (
	"fmt"
	"os"
	"testing"

	"github.com/netwarden/netwarden/pkg/policy"
)

// BenchmarkApplyAccounting applies the server's node program of policyCluster whole,
// as compiled (a counter object per account, each account chain counting in it; with
// denied packets logged, the limit and log statements too) and with the accounting
// taken out (no objects, no statements; the same chains, maps and elements): the
// difference is what the counters cost a transaction. Root only.
func BenchmarkApplyAccounting(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("skipped: applying tables needs root")
	}
	for _, n := range []int{1000, 10000} {
		e, err := policy.Compile(policyCluster(n, 10000))
		if err != nil {
			b.Fatal(err)
		}
		logged, err := Compile(e, []int32{0}, Options{Log: LogOptions{Group: DefaultLogGroup, Denied: true}})
		if err != nil {
			b.Fatal(err)
		}
		counted, err := Compile(e, []int32{0}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		for _, v := range []struct {
			name string
			p    *Program
		}{{"uncounted", uncounted(counted)}, {"counted", counted}, {"counted+logged", logged}} {
			b.Run(fmt.Sprintf("policies=%d/%s", n, v.name), func(b *testing.B) {
				_, path := newNetns(b)
				c, err := Open(path)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				for b.Loop() {
					if err := c.Apply(v.p); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(v.p.Objects())), "objects")
			})
		}
	}
}

// uncounted is p without its accounting: no accounts (so no objects), and no
// statements in its rules; rules left with nothing to do are dropped.
func uncounted(p *Program) *Program {
	q := &Program{Table: p.Table, Sets: p.Sets, opts: p.opts}
	q.opts.Log = LogOptions{}
	for _, c := range p.Chains {
		nc := &Chain{Name: c.Name, Hook: c.Hook}
		for _, r := range c.Rules {
			r.stmts = nil
			if len(r.matches) > 0 || r.verdict.Kind != Continue {
				nc.Rules = append(nc.Rules, r)
			}
		}
		q.Chains = append(q.Chains, nc)
	}
	return q
}
