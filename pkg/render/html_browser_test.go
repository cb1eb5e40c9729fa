package render

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/netwarden/netwarden/pkg/analysis"
	"github.com/netwarden/netwarden/pkg/policy"
)

// chromium finds a headless-capable Chromium, or skips the test saying how to get one.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	skipUnlessRequired(t, "chromium is not installed (apt-get install -y chromium): the report is not tested in a browser")
	return ""
}

// dumpDOM loads a page in headless Chromium and returns the DOM after its scripts ran.
// The flags keep the browser off the network and out of the user's profile.
func dumpDOM(t *testing.T, browser, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-first-run", "--user-data-dir="+t.TempDir(), "--dump-dom", url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return string(out)
}

func writeReport(t *testing.T, dir string) string {
	t.Helper()
	page := htmlReport(t, dir, analysis.ByWorkloads, HTMLOptions{Title: "report", InputArgs: []string{"-f", dir}})
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, page, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type selfTestResult struct {
	OK     bool `json:"ok"`
	Checks []struct {
		Name   string `json:"name"`
		OK     bool   `json:"ok"`
		Detail string `json:"detail"`
	} `json:"checks"`
	Explanation string `json:"explanation"`
}

// The page's own checks (#selftest) run in a real browser: a click on a denied cell shows
// the explain walk, an edge click explains, the namespace and port filters work.
func TestHTMLInBrowserSelfTest(t *testing.T) {
	browser := chromium(t)
	cases := []struct {
		name, dir   string
		explanation []string
	}{
		{"seed", "../../examples/seed", []string{"default/analytics → default/db on 5432/TCP: DENIED", "NetworkPolicy default/db-allow-backend", "no peer matches"}},
		{"shop", "testdata/shop", []string{"DENIED", "NetworkPolicy batch/worker-egress"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dom := dumpDOM(t, browser, "file://"+writeReport(t, tc.dir)+"#selftest")
			m := regexp.MustCompile(`(?s)<pre id="selftest-result" data-ok="(\w+)">(.*?)</pre>`).FindStringSubmatch(dom)
			if m == nil {
				t.Fatalf("the page wrote no self-test result; DOM starts:\n%.2000s", dom)
			}
			var r selfTestResult
			if err := json.Unmarshal([]byte(html.UnescapeString(m[2])), &r); err != nil {
				t.Fatal(err)
			}
			for _, c := range r.Checks {
				if !c.OK {
					t.Errorf("self-test check failed: %s (%s)", c.Name, c.Detail)
				}
			}
			if !r.OK || len(r.Checks) < 8 {
				t.Errorf("self-test ok=%v with %d checks", r.OK, len(r.Checks))
			}
			for _, want := range tc.explanation {
				if !strings.Contains(r.Explanation, want) {
					t.Errorf("the explanation shown after the click lacks %q:\n%s", want, r.Explanation)
				}
			}
		})
	}
}

// A report of a rollout in the with-audit view: the self-test also finds the marked cell
// and its note, and the walk shown is the one with the staged policy enforced.
func TestHTMLInBrowserAuditReport(t *testing.T) {
	browser := chromium(t)
	e := engineOf(t, "../../examples/audit-rollout")
	v := analysis.DecideGroups(e, analysis.NewGrouping(e, analysis.ByWorkloads), analysis.MatrixOptions{View: policy.WithAudit, Audit: true})
	var page bytes.Buffer
	if err := HTML(&page, v, analysis.BuildGraph(v, analysis.GraphOptions{}), HTMLOptions{Title: "rollout"}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, page.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	dom := dumpDOM(t, browser, "file://"+path+"#selftest")
	m := regexp.MustCompile(`(?s)<pre id="selftest-result" data-ok="(\w+)">(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the page wrote no self-test result; DOM starts:\n%.2000s", dom)
	}
	var r selfTestResult
	if err := json.Unmarshal([]byte(html.UnescapeString(m[2])), &r); err != nil {
		t.Fatal(err)
	}
	audit := 0
	for _, c := range r.Checks {
		if !c.OK {
			t.Errorf("self-test check failed: %s (%s)", c.Name, c.Detail)
		}
		if strings.Contains(c.Name, "audit") {
			audit++
		}
	}
	if !r.OK || audit == 0 {
		t.Errorf("self-test ok=%v with %d audit checks", r.OK, audit)
	}
	for _, want := range []string{"default/batch → default/api on 8080/TCP: DENIED", "1 member pair allowed today", "NetworkPolicy default/api-only-from-web"} {
		if !strings.Contains(r.Explanation, want) {
			t.Errorf("the explanation shown lacks %q:\n%s", want, r.Explanation)
		}
	}
}

// #select=FROM|TO opens a cell on load: a mixed cell shows a walk for an allowed and for
// a denied member pair.
func TestHTMLInBrowserSelectsAMixedCell(t *testing.T) {
	browser := chromium(t)
	dom := dumpDOM(t, browser, "file://"+writeReport(t, "testdata/shop")+"#select=batch%2F%7Bapp%3Dworker%7D|shop%2FStatefulSet%2Fdb")
	m := regexp.MustCompile(`(?s)<aside id="explain"[^>]*>(.*?)</aside>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatal("no explain panel in the DOM")
	}
	text := html.UnescapeString(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[1], " "))
	for _, want := range []string{
		"batch/{app=worker} → shop/StatefulSet/db",
		"mixed: members disagree",
		"1 of 2 member pairs are allowed",
		"batch/worker-a → shop/db-0 on 5432/TCP:  ALLOWED",
		"batch/worker-b → shop/db-0 on 5432/TCP:  DENIED",
		`peer "ipBlock 10.0.2.0/24" matches`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("explain panel lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(dom, `class="cell mixed selected"`) {
		t.Error("the selected mixed cell is not marked in the grid")
	}
}

// skipUnlessRequired skips a test whose tool is missing, unless the suite was asked to have
// every tool (hack/test.sh sets NETWARDEN_REQUIRE_TOOLS=1 after installing them), where a
// missing tool is a failure rather than a silent skip.
func skipUnlessRequired(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("NETWARDEN_REQUIRE_TOOLS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
