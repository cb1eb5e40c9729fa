package cli

import (
	"encoding/json"
	"testing"
)

func TestGraphAndGroupFlags(t *testing.T) {
	noDefaultKubeconfig(t)
	const seed, shop = "../../examples/seed", "../../pkg/render/testdata/shop"
	cases := []outputCase{
		{"graph draws mermaid by workload by default", []string{"graph", "-f", shop}, ExitOK,
			[]string{"flowchart LR", `n5["web<br/>Deployment, 2 pods"]`}, nil},
		{"graph -o dot is for Graphviz", []string{"graph", "-f", seed, "-o", "dot"}, ExitOK, []string{"digraph netwarden {", `n1 -> n2 [label="5432/TCP"`}, nil},
		{"graph -o html is one page", []string{"graph", "-f", seed, "-o", "html"}, ExitOK,
			[]string{"<!DOCTYPE html>", `id="nw-data"`, `"input":"-f ../../examples/seed"`, "<title>netwarden: ../../examples/seed</title>"}, nil},
		{"graph --blocked none leaves blocked edges out", []string{"graph", "-f", seed, "--blocked", "none"}, ExitOK,
			[]string{"2 blocked edges are not drawn (as asked)"}, []string{"-.->"}},
		{"matrix pictures group by workload unless told", []string{"matrix", "-f", shop, "-o", "mermaid"}, ExitOK, []string{"Deployment, 2 pods"}, nil},
		{"matrix --group pods draws pods", []string{"matrix", "-f", shop, "-o", "mermaid", "--group", "pods"}, ExitOK, []string{`"web-7c9f8-2xkqp"`}, []string{"2 pods"}},
		{"matrix tables stay pod by pod unless told", []string{"matrix", "-f", shop}, ExitOK, []string{"shop/web-7c9f8-2xkqp"}, []string{"shop/Deployment/web"}},
		{"matrix --group workloads marks mixed cells", []string{"matrix", "-f", shop, "--group", "workloads", "--port", "5432/TCP"}, ExitOK,
			[]string{"shop/Deployment/web", "~ mixed (allowed for some members of a group)"}, nil},
		{"an unknown grouping is bad input", []string{"matrix", "-f", seed, "--group", "namespaces"}, ExitInput, []string{`unknown grouping "namespaces" (want one of: pods, workloads)`}, nil},
		{"graph draws no tables", []string{"graph", "-f", seed, "-o", "table"}, ExitInput, []string{`unknown output format "table" (want one of: mermaid, dot, html)`}, nil},
		{"an unknown --blocked is bad input", []string{"graph", "-f", seed, "--blocked", "some"}, ExitInput, []string{"want one of: auto, all, none"}, nil},
	}
	checkOutputs(t, cases)
}

// The grouped JSON says how it is grouped, lists members, and marks mixed results.
func TestMatrixGroupedJSON(t *testing.T) {
	noDefaultKubeconfig(t)
	code, out, errOut := run(t, "matrix", "-f", "../../pkg/render/testdata/shop", "--group", "workloads", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var m struct {
		GroupBy string `json:"groupBy"`
		Groups  []struct {
			Name string   `json:"name"`
			Pods []string `json:"pods"`
		} `json:"groups"`
		Results []struct {
			From, To, Port string
			Allowed, Mixed bool
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	if m.GroupBy != "workloads" || len(m.Groups) != 7 {
		t.Fatalf("groupBy %q, %d groups", m.GroupBy, len(m.Groups))
	}
	mixed := 0
	for _, r := range m.Results {
		if r.Mixed {
			mixed++
			if r.From != "batch/{app=worker}" || r.To != "shop/StatefulSet/db" || r.Allowed {
				t.Errorf("unexpected mixed result %+v", r)
			}
		}
	}
	if mixed != 1 {
		t.Errorf("%d mixed results, want 1", mixed)
	}
}
