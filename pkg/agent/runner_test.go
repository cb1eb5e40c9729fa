package agent

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// recordedSync is one call of the sync function, as the runner made it.
type recordedSync struct {
	req   syncRequest
	start time.Time
}

type syncRecorder struct {
	mu    sync.Mutex
	syncs []recordedSync
	fail  int // fail this many calls first
	ch    chan struct{}
}

func newSyncRecorder() *syncRecorder { return &syncRecorder{ch: make(chan struct{}, 1000)} }

func (r *syncRecorder) sync(req syncRequest) error {
	r.mu.Lock()
	r.syncs = append(r.syncs, recordedSync{req: req, start: time.Now()})
	fail := r.fail > 0
	if fail {
		r.fail--
	}
	r.mu.Unlock()
	r.ch <- struct{}{}
	if fail {
		return errors.New("injected failure")
	}
	return nil
}

func (r *syncRecorder) all() []recordedSync {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recordedSync(nil), r.syncs...)
}

// waitFor waits until n syncs were made.
func (r *syncRecorder) waitFor(t *testing.T, n int) []recordedSync {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for len(r.all()) < n {
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("%d syncs after 10s; want %d", len(r.all()), n)
		}
	}
	return r.all()
}

func runLoop(t *testing.T, r *runner, rec *syncRecorder) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.loop(ctx, rec.sync); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func TestRunnerFirstSyncIsFullAndImmediate(t *testing.T) {
	r := newRunner(time.Hour, 2*time.Hour)
	rec := newSyncRecorder()
	runLoop(t, r, rec)
	s := rec.waitFor(t, 1)
	if s[0].req.reason != ReasonInitial || !s[0].req.full {
		t.Errorf("first sync %+v; want a full initial sync", s[0].req)
	}
}

func TestRunnerCoalescesABurstIntoOneSync(t *testing.T) {
	const minInterval = 300 * time.Millisecond
	r := newRunner(minInterval, time.Hour)
	rec := newSyncRecorder()
	runLoop(t, r, rec)
	rec.waitFor(t, 1)
	// The burst arrives right after the initial sync, so it waits for the interval and
	// then is covered by one sync.
	first := time.Now()
	for range 100 {
		r.Event(time.Now())
	}
	s := rec.waitFor(t, 2)
	time.Sleep(2 * minInterval)
	s = rec.all()
	if len(s) != 2 {
		t.Fatalf("%d syncs for a burst of 100 events; want 1 after the initial one", len(s)-1)
	}
	got := s[1].req
	if got.events != 100 || got.reason != ReasonEvent || got.full {
		t.Errorf("burst sync covers %d events (reason %s, full %v); want 100 events, an incremental event sync", got.events, got.reason, got.full)
	}
	if got.oldest.Before(first) || got.oldest.After(s[1].start) {
		t.Errorf("oldest event %v is not the burst's first (%v)", got.oldest, first)
	}
}

func TestRunnerKeepsTheMinimumIntervalBetweenStarts(t *testing.T) {
	const minInterval = 100 * time.Millisecond
	r := newRunner(minInterval, time.Hour)
	rec := newSyncRecorder()
	runLoop(t, r, rec)
	rec.waitFor(t, 1)
	stop := time.After(time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case <-tick.C:
			r.Event(time.Now())
		case <-stop:
			break loop
		}
	}
	s := rec.all()
	for i := 1; i < len(s); i++ {
		// Timers never fire early; allow for clock granularity only.
		if gap := s[i].start.Sub(s[i-1].start); gap < minInterval-time.Millisecond {
			t.Errorf("syncs %d and %d started %v apart; the minimum is %v", i-1, i, gap, minInterval)
		}
	}
	if len(s) > 12 {
		t.Errorf("%d syncs in 1s at a %v minimum interval", len(s), minInterval)
	}
}

func TestRunnerRetriesAFailedSyncWithItsEvents(t *testing.T) {
	r := newRunner(10*time.Millisecond, time.Hour)
	rec := newSyncRecorder()
	runLoop(t, r, rec)
	rec.waitFor(t, 1)
	rec.mu.Lock()
	rec.fail = 1 // the event's sync fails
	rec.mu.Unlock()
	at := time.Now()
	r.Event(at)
	s := rec.waitFor(t, 3)
	if s[1].req.reason != ReasonEvent || s[1].req.events != 1 {
		t.Fatalf("second sync %+v; want the event's", s[1].req)
	}
	retry := s[2].req
	if retry.reason != ReasonRetry || !retry.full || retry.events != 1 || !retry.oldest.Equal(at) {
		t.Errorf("after a failure: %+v; want a full retry covering the event from %v", retry, at)
	}
}

func TestRunnerRetriesAFailureWithoutNewEvents(t *testing.T) {
	r := newRunner(10*time.Millisecond, time.Hour)
	rec := newSyncRecorder()
	rec.fail = 2
	runLoop(t, r, rec)
	s := rec.waitFor(t, 3)
	if s[1].req.reason != ReasonRetry || s[2].req.reason != ReasonRetry || !s[2].req.full {
		t.Errorf("syncs after failures: %v, %v; want full retries", s[1].req, s[2].req)
	}
}

func TestRunnerResyncsPeriodically(t *testing.T) {
	r := newRunner(10*time.Millisecond, 150*time.Millisecond)
	rec := newSyncRecorder()
	runLoop(t, r, rec)
	s := rec.waitFor(t, 3)
	for _, x := range s[1:] {
		if x.req.reason != ReasonResync || !x.req.full {
			t.Errorf("sync %+v without events; want a full resync", x.req)
		}
	}
}
