package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/netwarden/netwarden/pkg/flowlog"
)

func flowRecord(port uint16, verdict, src, dst, reason string) flowlog.Record {
	ep := func(key string) flowlog.Endpoint {
		ns, _, _ := strings.Cut(key, "/")
		return flowlog.Endpoint{IP: "10.0.1.1", Pod: key, Namespace: ns}
	}
	return flowlog.Record{Time: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), Node: "node-a", Verdict: verdict, Direction: "ingress",
		Protocol: "TCP", Port: port, Src: ep(src), Dst: ep(dst), Reason: reason}
}

// flowAgent serves a hub the way the agent does, on its metrics server.
func flowAgent(t *testing.T) (*flowlog.Hub, string) {
	hub := flowlog.NewHub(64)
	hub.Publish(flowRecord(5432, "deny", "prod/web", "prod/db", "isolated by NetworkPolicy prod/default-deny; nothing allowed it"))
	hub.Publish(flowRecord(80, "allow", "staging/app", "staging/web", "allowed by NetworkPolicy staging/open rule 0"))
	mux := http.NewServeMux()
	mux.Handle(flowlog.FlowsPath, hub.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return hub, srv.URL
}

func TestFlows(t *testing.T) {
	_, agent := flowAgent(t)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	noFlows := httptest.NewServer(http.NotFoundHandler())
	defer noFlows.Close()
	for _, tc := range []struct {
		name      string
		args      []string
		code      int
		out, errs string
		notOut    string
	}{
		{"text shows one line per record, oldest first", []string{"flows", "--agent", agent}, ExitOK,
			"DENY   TCP prod/web -> prod/db:5432 ingress  isolated by NetworkPolicy prod/default-deny; nothing allowed it\n", "", ""},
		{"filters go to the agent: --verdict", []string{"flows", "--agent", agent, "--verdict", "allow"}, ExitOK,
			"ALLOW  TCP staging/app -> staging/web:80", "", "DENY"},
		{"filters go to the agent: -n matches either end", []string{"flows", "--agent", agent, "-n", "prod"}, ExitOK,
			"prod/web -> prod/db", "", "staging"},
		{"--pod takes namespace/name", []string{"flows", "--agent", agent, "--pod", "staging/web"}, ExitOK,
			"staging/app -> staging/web", "", "prod/"},
		{"--limit keeps the newest", []string{"flows", "--agent", agent, "--limit", "1"}, ExitOK, "staging/app", "", "prod/web"},
		{"-o json passes the agent's lines unchanged", []string{"flows", "--agent", agent, "-o", "json", "--verdict", "deny"}, ExitOK,
			`{"time":"2026-12-03T10:00:00Z","node":"node-a","verdict":"deny","direction":"ingress","protocol":"TCP","port":5432,`, "", `"verdict":"allow"`},
		{"an agent given as host:port is http", []string{"flows", "--agent", strings.TrimPrefix(agent, "http://")}, ExitOK, "prod/web", "", ""},
		{"a bad verdict is bad input", []string{"flows", "--agent", agent, "--verdict", "maybe"}, ExitInput, "", "want deny or allow", ""},
		{"a bad output is bad input", []string{"flows", "--agent", agent, "-o", "yaml"}, ExitInput, "", "want text or json", ""},
		{"an unreachable agent is an environment error", []string{"flows", "--agent", downURL}, ExitRuntime, "", "cannot reach the agent at " + downURL, ""},
		{"an agent without a flow log is an environment error", []string{"flows", "--agent", noFlows.URL}, ExitRuntime, "", "does not serve a flow log", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := run(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errs)
			}
			if !strings.Contains(out, tc.out) || tc.notOut != "" && strings.Contains(out, tc.notOut) {
				t.Errorf("stdout should contain %q and not %q:\n%s", tc.out, tc.notOut, out)
			}
			if !strings.Contains(errs, tc.errs) {
				t.Errorf("stderr lacks %q:\n%s", tc.errs, errs)
			}
		})
	}
}

func TestFlowsJSONIsTheAgentsLines(t *testing.T) {
	hub, agent := flowAgent(t)
	code, out, errs := run(t, "flows", "--agent", agent, "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var want bytes.Buffer
	for _, r := range hub.Recent(flowlog.Filter{}, 0) {
		b, _ := json.Marshal(r)
		want.Write(append(b, '\n'))
	}
	if out != want.String() {
		t.Errorf("got\n%s\nwant\n%s", out, want.String())
	}
}

func TestFlowsFollowStreamsUntilTheAgentEnds(t *testing.T) {
	hub, agent := flowAgent(t)
	type result struct {
		code      int
		out, errs string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errs := run(t, "flows", "--agent", agent, "--follow", "--verdict", "deny")
		done <- result{code, out, errs}
	}()
	// Publish until the follower is subscribed, then end the stream.
	deadline := time.Now().Add(10 * time.Second)
	for hub.Stats().Subscribers == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the command never subscribed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	hub.Publish(flowRecord(6379, "deny", "staging/app", "prod/cache", "isolated by NetworkPolicy prod/cache-a (and 2 more); nothing allowed it"))
	hub.Publish(flowRecord(8080, "allow", "prod/web", "prod/api", "allowed"))
	hub.Close()
	r := <-done
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.errs)
	}
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "prod/web -> prod/db:5432") || !strings.Contains(lines[1], "staging/app -> prod/cache:6379 ingress  isolated by NetworkPolicy prod/cache-a (and 2 more)") {
		t.Errorf("followed output:\n%s", r.out)
	}
}
