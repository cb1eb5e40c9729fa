// Package analysis answers questions about a compiled cluster: who can reach whom
// (matrix), why (explain), what is wrong (lint) and what a change does (diff).
package analysis

import (
	"sort"

	"github.com/netwarden/netwarden/pkg/policy"
)

// Matrix is the reachability of every ordered pod pair on each probed port.
type Matrix struct {
	Ports   []string `json:"ports"`
	Pods    []string `json:"pods"`
	Results []Result `json:"results"`
}

// Result is one ordered pair on one port. Egress is the source's egress decision, Ingress
// the destination's ingress decision; Allowed needs both.
type Result struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Port    string `json:"port"`
	Allowed bool   `json:"allowed"`
	Egress  bool   `json:"egress"`
	Ingress bool   `json:"ingress"`
}

// MatrixOptions choose what to probe.
type MatrixOptions struct {
	// Ports, when set, are probed on every destination. Otherwise each destination is
	// probed on the ports it declares (DestinationPorts).
	Ports []policy.Port
}

// DestinationPorts returns the ports a destination pod is probed on when no ports are
// given: the container ports it declares, or, for a pod that declares none, every port
// declared anywhere in the cluster (so that pods without declared ports still show up),
// or 80/TCP when no pod declares any.
func DestinationPorts(e *policy.Engine) [][]policy.Port {
	per := make([][]policy.Port, len(e.Pods))
	var union []policy.Port
	seen := map[policy.Port]bool{}
	for i, p := range e.Pods {
		per[i] = policy.DeclaredPorts(p.Pod)
		for _, pt := range per[i] {
			if !seen[pt] {
				seen[pt] = true
				union = append(union, pt)
			}
		}
	}
	SortPorts(union)
	if len(union) == 0 {
		union = []policy.Port{{Proto: policy.ProtoTCP, Num: 80}}
	}
	for i := range per {
		if len(per[i]) == 0 {
			per[i] = union
		}
		SortPorts(per[i])
	}
	return per
}

// SortPorts orders ports by number, then protocol.
func SortPorts(ps []policy.Port) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Num != ps[j].Num {
			return ps[i].Num < ps[j].Num
		}
		return ps[i].Proto < ps[j].Proto
	})
}

// ComputeMatrix decides every ordered pod pair on every probed port.
func ComputeMatrix(e *policy.Engine, opts MatrixOptions) *Matrix {
	m := &Matrix{Ports: []string{}, Pods: make([]string, len(e.Pods)), Results: []Result{}}
	for i, p := range e.Pods {
		m.Pods[i] = p.Key
	}
	var perDst [][]policy.Port
	if len(opts.Ports) > 0 {
		perDst = make([][]policy.Port, len(e.Pods))
		for i := range perDst {
			perDst[i] = opts.Ports
		}
	} else {
		perDst = DestinationPorts(e)
	}
	var all []policy.Port
	seen := map[policy.Port]bool{}
	for _, ps := range perDst {
		for _, pt := range ps {
			if !seen[pt] {
				seen[pt] = true
				all = append(all, pt)
			}
		}
	}
	if len(opts.Ports) == 0 {
		SortPorts(all)
	}
	for _, pt := range all {
		m.Ports = append(m.Ports, pt.String())
	}
	for a := range e.Pods {
		for b := range e.Pods {
			src, dst := e.PodPair(int32(a), int32(b))
			for _, pt := range perDst[b] {
				v := e.Decide(src, dst, pt)
				m.Results = append(m.Results, Result{From: m.Pods[a], To: m.Pods[b], Port: pt.String(),
					Allowed: v.Allowed, Egress: v.Egress.Allowed, Ingress: v.Ingress.Allowed})
			}
		}
	}
	return m
}
