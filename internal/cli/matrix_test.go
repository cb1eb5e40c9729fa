package cli

import (
	"encoding/json"
	"testing"
)

// matrix and graph mark what audit (staged) policies would change, --view chooses the
// verdicts shown, --audit-marks=false leaves the marks out, and the note on stderr points
// at the marks.
func TestMatrixAuditFlags(t *testing.T) {
	noDefaultKubeconfig(t)
	const rollout, seed = "../../examples/audit-rollout", "../../examples/seed"
	cases := []outputCase{
		{"the table marks the pair the staged policy would deny", []string{"matrix", "-f", rollout}, ExitOK,
			[]string{"default/batch   .!", "!: enforcing the audit (staged) policies would change it",
				"not enforced in these results; cells (edges) marked ! are what enforcing them would change"}, nil},
		{"--view with-audit shows it denied", []string{"matrix", "-f", rollout, "--view", "with-audit"}, ExitOK,
			[]string{"default/batch   X!", "enforced in these results as if the annotation were removed (--view with-audit)"}, nil},
		{"--audit-marks=false prints today's matrix unmarked", []string{"matrix", "-f", rollout, "--audit-marks=false"}, ExitOK,
			[]string{"default/batch   .  ", "'netwarden diff --audit' lists what enforcing them would change"}, []string{".!"}},
		{"grouped by workload the same", []string{"matrix", "-f", rollout, "--group", "workloads", "-o", "csv"}, ExitOK,
			[]string{"from,to,port,allowed,egress,ingress,mixed,audit\n", "default/batch,default/api,8080/TCP,true,true,true,false,deny\n"}, nil},
		{"graph draws the edge orange and dashed", []string{"graph", "-f", rollout}, ExitOK,
			[]string{`n1 -.->|"8080/TCP; audit would deny 8080/TCP"| n0`, "stroke:#bc4c00"}, nil},
		{"matrix -o dot --view with-audit draws it blocked", []string{"matrix", "-f", rollout, "-o", "dot", "--view", "with-audit"}, ExitOK,
			[]string{`label="blocked; allowed today on 8080/TCP", style=dashed, color="#bc4c00"`}, nil},
		{"without audit policies nothing is marked", []string{"matrix", "-f", seed}, ExitOK, nil, []string{"!", "note:"}},
		{"an unknown view is bad input", []string{"matrix", "-f", rollout, "--view", "audit"}, ExitInput,
			[]string{`unknown --view "audit" (want one of: enforced, with-audit)`}, nil},
		{"other commands keep pointing at diff --audit", []string{"lint", "-f", rollout}, -1,
			[]string{"not enforced in these results; 'netwarden diff --audit' lists what enforcing them would change"}, nil},
	}
	checkOutputs(t, cases)
}

// The JSON keeps every field and adds the mark and the summary.
func TestMatrixAuditJSON(t *testing.T) {
	noDefaultKubeconfig(t)
	code, out, errOut := run(t, "matrix", "-f", "../../examples/audit-rollout", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var m struct {
		Results []map[string]any `json:"results"`
		Audit   struct {
			View     string   `json:"view"`
			Policies []string `json:"policies"`
			Deny     int      `json:"deny"`
			Allow    int      `json:"allow"`
		} `json:"audit"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	marked := 0
	for _, r := range m.Results {
		for _, k := range []string{"from", "to", "port", "allowed", "egress", "ingress"} {
			if _, ok := r[k]; !ok {
				t.Fatalf("result without %q: %v", k, r)
			}
		}
		if a, ok := r["audit"]; ok {
			marked++
			if a != "deny" || r["from"] != "default/batch" || r["to"] != "default/api" || r["allowed"] != true {
				t.Errorf("marked result %v", r)
			}
		}
	}
	if marked != 1 || m.Audit.View != "enforced" || m.Audit.Deny != 1 || m.Audit.Allow != 0 || len(m.Audit.Policies) != 1 {
		t.Errorf("%d marked results, summary %+v", marked, m.Audit)
	}
}
