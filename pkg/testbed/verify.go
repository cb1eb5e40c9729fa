package testbed

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/netwarden/netwarden/pkg/analysis"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// Result is one probed pair and port. It reads like a matrix result (analysis.Result)
// except that Allowed is what real packets did; Predicted is the evaluator's verdict, and
// Egress and Ingress its two halves.
type Result struct {
	analysis.Result
	Predicted bool `json:"predicted"`
	// Family is the IP family probed, given only when several were.
	Family int `json:"family,omitempty"`
	// Outcome is what the probe saw: connected, refused, unreachable, timeout, failed or
	// skipped.
	Outcome string `json:"outcome"`
}

// Difference is a probe whose packets disagreed with the evaluator, with the evaluator's
// explanation of its verdict.
type Difference struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Port      string `json:"port"`
	Family    int    `json:"family"`
	Observed  bool   `json:"observed"`
	Outcome   string `json:"outcome"`
	Error     string `json:"error,omitempty"`
	Predicted bool   `json:"predicted"`
	// Dataplane is what the applied nftables programs' own model says: when it agrees
	// with Predicted the kernel did something the program does not say; when it agrees
	// with Observed the compiler translated the policies wrongly.
	Dataplane   *bool              `json:"dataplane,omitempty"`
	Explanation policy.Explanation `json:"explanation"`
}

// Report is the outcome of a verification: the matrix of what packets did beside what
// the evaluator predicted, and every difference explained.
type Report struct {
	Ports       []string     `json:"ports"`
	Pods        []string     `json:"pods"`
	Results     []Result     `json:"results"`
	Agree       bool         `json:"agree"`
	Differences []Difference `json:"differences"`
	// Skipped counts probes that could not be made (SCTP on a kernel without it); they
	// are left out of the comparison.
	Skipped int   `json:"skipped,omitempty"`
	Run     Stats `json:"run"`
}

// Stats describe the run.
type Stats struct {
	Mode     Mode   `json:"mode"`
	Nodes    int    `json:"nodes"`
	Families []int  `json:"families"`
	SCTP     string `json:"sctp"`
	Enforced bool   `json:"enforced"`
	// Milliseconds spent building the testbed, installing the dataplane, and probing.
	SetupMillis   int64    `json:"setupMillis"`
	EnforceMillis int64    `json:"enforceMillis"`
	ProbeMillis   int64    `json:"probeMillis"`
	Probes        int      `json:"probes"`
	ProbesPerSec  float64  `json:"probesPerSecond"`
	Warnings      []string `json:"warnings,omitempty"`
}

// VerifyOptions shape a verification.
type VerifyOptions struct {
	Plan PlanOptions
	// Ports, when set, are probed on every destination (as matrix --port); otherwise each
	// destination is probed on the ports it declares (analysis.DestinationPorts).
	Ports []policy.Port
	Probe ProbeOptions
	// NoEnforce probes the plain network, without the dataplane.
	NoEnforce bool
	// Engine, when set, is called with the compiled engine (for warnings).
	Engine func(*policy.Engine)
}

// Verify builds a throwaway cluster from c's pods, enforces c's policies with the real
// dataplane, probes every pair and port, and compares with the evaluator. It writes the
// testbed's node placement and addresses into c (see Plan). Everything it creates is gone
// when it returns.
func Verify(ctx context.Context, c *model.Cluster, opts VerifyOptions) (*Report, error) {
	spec, err := Plan(c, opts.Plan)
	if err != nil {
		return nil, err
	}
	e, err := policy.Compile(c)
	if err != nil {
		return nil, err
	}
	if opts.Engine != nil {
		opts.Engine(e)
	}
	Serve(spec, e, opts.Ports)
	tb, err := New(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer tb.Close()
	var enforceTime time.Duration
	if !opts.NoEnforce {
		start := time.Now()
		if err := tb.Enforce(e); err != nil {
			return nil, err
		}
		enforceTime = time.Since(start)
	}
	r, err := tb.Check(ctx, e, opts.Ports, opts.Probe)
	if err != nil {
		return nil, err
	}
	r.Run.EnforceMillis = enforceTime.Milliseconds()
	if err := tb.Close(); err != nil {
		return r, fmt.Errorf("cleaning up the testbed: %w", err)
	}
	return r, nil
}

// Serve sets every pod in spec to serve the ports it will be probed on: those given,
// or the ones the matrix probes it on.
func Serve(spec *Spec, e *policy.Engine, ports []policy.Port) {
	per := analysis.DestinationPorts(e)
	for i := range spec.Pods {
		if len(ports) > 0 {
			spec.Pods[i].Ports = append([]policy.Port(nil), ports...)
		} else {
			spec.Pods[i].Ports = per[i]
		}
	}
}

// Check probes every pair on the ports the matrix decides (ports, or each destination's
// declared ports), in every family of the testbed, and compares what packets did with
// e's verdicts. Conntrack is reset first, so every probe is a new connection decided by
// the rules in force.
func (tb *Testbed) Check(ctx context.Context, e *policy.Engine, ports []policy.Port, opts ProbeOptions) (*Report, error) {
	if err := tb.samePodsAs(e); err != nil {
		return nil, err
	}
	if err := tb.ResetConntrack(); err != nil {
		return nil, err
	}
	m := analysis.ComputeMatrix(e, analysis.MatrixOptions{Ports: ports})
	index := make(map[string]int, len(m.Pods))
	for i, p := range m.Pods {
		index[p] = i
	}
	fams := tb.Spec.Families
	type planned struct {
		res     analysis.Result
		port    policy.Port
		verdict policy.Verdict
		src     policy.Endpoint
		dst     policy.Endpoint
	}
	var plan []planned
	var probes []Probe
	for _, f := range fams {
		for _, r := range m.Results {
			pt, err := policy.ParsePort(r.Port)
			if err != nil {
				return nil, err
			}
			a, b := int32(index[r.From]), int32(index[r.To])
			src, dst := e.PodEndpoint(a, f), e.PodEndpoint(b, f)
			v := e.Decide(src, dst, pt)
			r.Allowed, r.Egress, r.Ingress = v.Allowed, v.Egress.Allowed, v.Ingress.Allowed
			plan = append(plan, planned{res: r, port: pt, verdict: v, src: src, dst: dst})
			probes = append(probes, Probe{From: int(a), To: int(b), Port: pt, Family: f})
		}
	}
	start := time.Now()
	obs := tb.Probe(ctx, probes, opts)
	// A probe that timed out where the evaluator allows may have been slow rather than
	// dropped (a loaded machine): probe those again, patiently, before calling them
	// differences. A connection that got through needs no second look.
	var again []int
	for i, o := range obs {
		if o.Outcome == Timeout && plan[i].verdict.Allowed {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		patient := opts.withDefaults()
		patient.Timeout = max(3*patient.Timeout, time.Second)
		patient.Tries = max(patient.Tries, 2)
		retry := make([]Probe, len(again))
		for k, i := range again {
			retry[k] = probes[i]
		}
		for k, o := range tb.Probe(ctx, retry, patient) {
			obs[again[k]] = o
		}
	}
	took := time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	rep := &Report{Ports: m.Ports, Pods: m.Pods, Results: make([]Result, 0, len(obs)), Differences: []Difference{}, Agree: true}
	rep.Run = Stats{Mode: tb.Spec.Mode, Nodes: len(tb.Spec.Nodes), Families: fams, SCTP: tb.SCTP(), Enforced: tb.enforced(),
		SetupMillis: tb.SetupTime.Milliseconds(), ProbeMillis: took.Milliseconds(), Probes: len(obs)}
	if took > 0 {
		rep.Run.ProbesPerSec = float64(len(obs)) / took.Seconds()
	}
	for i, o := range obs {
		p := plan[i]
		res := Result{Result: p.res, Predicted: p.verdict.Allowed, Outcome: o.Outcome.String()}
		res.Allowed = o.Outcome.Reached()
		if len(fams) > 1 {
			res.Family = o.Family
		}
		rep.Results = append(rep.Results, res)
		if o.Outcome == Skipped {
			rep.Skipped++
			continue
		}
		if res.Allowed == res.Predicted {
			continue
		}
		rep.Agree = false
		d := Difference{From: p.res.From, To: p.res.To, Port: p.res.Port, Family: o.Family,
			Observed: res.Allowed, Outcome: res.Outcome, Predicted: res.Predicted,
			Explanation: e.Explain(p.src, p.dst, p.port)}
		if o.Err != nil {
			d.Error = o.Err.Error()
		}
		if allowed, ok := tb.programAllows(o.From, o.To, p.src.IP, p.dst.IP, p.port); ok {
			d.Dataplane = &allowed
		}
		rep.Differences = append(rep.Differences, d)
	}
	sort.SliceStable(rep.Differences, func(i, j int) bool {
		a, b := rep.Differences[i], rep.Differences[j]
		if a.From != b.From {
			return a.From < b.From
		}
		return a.To < b.To
	})
	if tb.enforced() {
		seen := map[string]bool{}
		for _, prog := range tb.enf.programs {
			for _, w := range prog.Warnings {
				if !seen[w] {
					seen[w] = true
					rep.Run.Warnings = append(rep.Run.Warnings, w)
				}
			}
		}
	}
	return rep, nil
}
