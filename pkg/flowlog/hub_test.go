package flowlog

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func rec(i int, verdict, src, dst string) Record {
	ep := func(pod string) Endpoint {
		ns, _, _ := strings.Cut(pod, "/")
		return Endpoint{IP: "10.0.0.1", Pod: pod, Namespace: ns}
	}
	return Record{Time: t0.Add(time.Duration(i) * time.Second), Verdict: verdict, Direction: "ingress", Protocol: "TCP", Port: uint16(i),
		Src: ep(src), Dst: ep(dst), Reason: fmt.Sprint("record ", i)}
}

func recordPorts(rs []Record) []int {
	var out []int
	for _, r := range rs {
		out = append(out, int(r.Port))
	}
	return out
}

func TestFilter(t *testing.T) {
	r := rec(1, "deny", "prod/web", "db/pg")
	audited := r
	audited.Audit = &Audit{Verdict: "allow"}
	for _, tc := range []struct {
		name string
		f    Filter
		r    Record
		want bool
	}{
		{"the zero filter matches everything", Filter{}, r, true},
		{"a namespace matches the source", Filter{Namespace: "prod"}, r, true},
		{"a namespace matches the destination", Filter{Namespace: "db"}, r, true},
		{"a namespace of neither end does not match", Filter{Namespace: "ops"}, r, false},
		{"namespace/name matches a pod", Filter{Pod: "db/pg"}, r, true},
		{"a bare name matches a pod in any namespace", Filter{Pod: "web"}, r, true},
		{"a bare name with a namespace matches only there", Filter{Pod: "web", Namespace: "db"}, r, false},
		{"a pod of neither end does not match", Filter{Pod: "prod/db"}, r, false},
		{"the verdict must match", Filter{Verdict: "allow"}, r, false},
		{"the direction must match", Filter{Direction: "egress"}, r, false},
		{"audit keeps records with an audit part", Filter{Audit: true}, audited, true},
		{"audit drops records without one", Filter{Audit: true}, r, false},
		{"all fields must match", Filter{Namespace: "prod", Verdict: "deny", Direction: "ingress"}, r, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.Match(&tc.r); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
			q := url.Values{}
			tc.f.Query(q)
			back, err := ParseFilter(q)
			if err != nil || back != tc.f {
				t.Errorf("ParseFilter(Query) = %+v, %v; want %+v", back, err, tc.f)
			}
		})
	}
}

func TestHubKeepsTheNewestRecords(t *testing.T) {
	h := NewHub(4)
	for i := 1; i <= 6; i++ {
		h.Publish(rec(i, map[bool]string{true: "deny", false: "allow"}[i%2 == 0], "prod/web", "prod/db"))
	}
	for _, tc := range []struct {
		name  string
		f     Filter
		limit int
		want  string
	}{
		{"the ring keeps the last 4, oldest first", Filter{}, 0, "[3 4 5 6]"},
		{"limit keeps the newest", Filter{}, 2, "[5 6]"},
		{"the filter applies before the limit", Filter{Verdict: "deny"}, 1, "[6]"},
		{"a filter matching nothing gives nothing", Filter{Namespace: "ops"}, 0, "[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fmt.Sprint(recordPorts(h.Recent(tc.f, tc.limit))); got != tc.want {
				t.Errorf("Recent = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestSlowSubscriberDropsWithoutBlockingPublish(t *testing.T) {
	h := NewHub(8)
	slow := h.Subscribe(Filter{})
	defer slow.Close()
	done := make(chan struct{})
	go func() {
		for i := range subscriberQueue + 50 {
			h.Publish(rec(i, "deny", "a/b", "c/d"))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Publish blocked on a subscriber that does not read")
	}
	if slow.Dropped() != 50 || h.Stats().Dropped != 50 {
		t.Errorf("dropped %d (hub %d), want 50", slow.Dropped(), h.Stats().Dropped)
	}
	first, ok := slow.Next(context.Background())
	if !ok || first.Port != 0 {
		t.Errorf("first queued record %v %v, want the first published", first.Port, ok)
	}
	h.Close()
	for {
		if _, ok := slow.Next(context.Background()); !ok {
			break
		}
	}
	if h.Stats().Subscribers != 0 {
		t.Errorf("%d subscribers after Close", h.Stats().Subscribers)
	}
}

func TestWriteToWritesJSONLines(t *testing.T) {
	h := NewHub(8)
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- h.WriteTo(ctx, pw) }()
	// WriteTo subscribes on its own goroutine; publish until a line comes through.
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	deadline := time.After(5 * time.Second)
	var line string
	for line == "" {
		h.Publish(rec(7, "deny", "prod/web", "prod/db"))
		select {
		case line = <-lines:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatal("no line written")
		}
	}
	var r Record
	if err := json.Unmarshal([]byte(line), &r); err != nil || r.Port != 7 {
		t.Errorf("line %q: %v", line, err)
	}
	cancel()
	go func() {
		for range lines {
		}
	}()
	if err := <-errc; err != nil {
		t.Errorf("WriteTo after cancel: %v", err)
	}
	pw.Close()
}

func get(t *testing.T, srv *httptest.Server, query string) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + FlowsPath + "?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHandler(t *testing.T) {
	h := NewHub(16)
	h.Publish(rec(1, "deny", "prod/web", "prod/db"))
	h.Publish(rec(2, "allow", "prod/web", "prod/db"))
	h.Publish(rec(3, "deny", "ops/probe", "staging/app"))
	mux := http.NewServeMux()
	mux.Handle(FlowsPath, h.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, tc := range []struct {
		name, query string
		code        int
		want        string // ports of the records, or a piece of the error
	}{
		{"everything buffered, oldest first", "", 200, "[1 2 3]"},
		{"verdict filters", "verdict=deny", 200, "[1 3]"},
		{"namespace matches either end", "namespace=staging", 200, "[3]"},
		{"pod filters", "pod=prod/db&verdict=allow", 200, "[2]"},
		{"limit keeps the newest", "limit=1", 200, "[3]"},
		{"a bad verdict is a bad request", "verdict=maybe", 400, "want deny or allow"},
		{"a bad direction is a bad request", "direction=up", 400, "want ingress or egress"},
		{"a bad limit is a bad request", "limit=-1", 400, "limit"},
		{"a bad follow is a bad request", "follow=soon", 400, "follow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, srv, tc.query)
			if code != tc.code {
				t.Fatalf("status %d, want %d: %s", code, tc.code, body)
			}
			if code != 200 {
				if !strings.Contains(body, tc.want) {
					t.Errorf("body %q lacks %q", body, tc.want)
				}
				return
			}
			var got []Record
			for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
				var r Record
				if err := json.Unmarshal([]byte(line), &r); err != nil {
					t.Fatalf("line %q: %v", line, err)
				}
				got = append(got, r)
			}
			if s := fmt.Sprint(recordPorts(got)); s != tc.want {
				t.Errorf("records %s, want %s", s, tc.want)
			}
		})
	}
	t.Run("only GET", func(t *testing.T) {
		resp, err := http.Post(srv.URL+FlowsPath, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST status %d", resp.StatusCode)
		}
	})
}

func TestHandlerFollowsUntilTheClientLeaves(t *testing.T) {
	h := NewHub(16)
	h.Publish(rec(1, "deny", "prod/web", "prod/db"))
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"?follow=1&verdict=deny", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != ContentType {
		t.Errorf("content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	next := func() Record {
		t.Helper()
		if !sc.Scan() {
			t.Fatalf("stream ended: %v", sc.Err())
		}
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := next(); r.Port != 1 {
		t.Errorf("first record %d, want the buffered 1", r.Port)
	}
	h.Publish(rec(2, "allow", "prod/web", "prod/db")) // filtered out
	h.Publish(rec(3, "deny", "prod/web", "prod/db"))
	if r := next(); r.Port != 3 {
		t.Errorf("live record %d, want 3", r.Port)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for h.Stats().Subscribers != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the subscription outlived its client")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHandlerFollowEndsWhenTheHubCloses(t *testing.T) {
	h := NewHub(4)
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "?follow=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h.Close()
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, resp.Body); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end with the hub")
	}
}
