package agent

import (
	"context"
	"sync"
	"time"
)

// SyncReason says why a sync ran.
type SyncReason string

const (
	// ReasonInitial is the first sync after the caches listed everything.
	ReasonInitial SyncReason = "initial"
	// ReasonEvent is a sync for object changes.
	ReasonEvent SyncReason = "event"
	// ReasonResync is the periodic full reconcile that repairs drift.
	ReasonResync SyncReason = "resync"
	// ReasonRetry repeats a sync that failed.
	ReasonRetry SyncReason = "retry"
)

// syncRequest is what one sync covers.
type syncRequest struct {
	reason SyncReason
	// full asks the dataplane for a complete rewrite rather than a difference.
	full bool
	// oldest is when the oldest event the sync covers was received (zero if none);
	// events is how many events it covers.
	oldest time.Time
	events int
}

// runner coalesces events into syncs of bounded frequency: a sync starts at once when
// the previous one started at least minInterval ago, otherwise at that point, covering
// every event received meanwhile. Independently, a full resync runs when resync has
// passed since the last successful full one, and a failed sync is retried with backoff.
type runner struct {
	minInterval time.Duration
	resync      time.Duration
	maxBackoff  time.Duration

	kick chan struct{}

	mu     sync.Mutex
	oldest time.Time
	events int
}

func newRunner(minInterval, resync time.Duration) *runner {
	return &runner{
		minInterval: minInterval,
		resync:      resync,
		maxBackoff:  min(resync, 30*time.Second),
		kick:        make(chan struct{}, 1),
	}
}

// Event records an event received at at and wakes the loop. It never blocks.
func (r *runner) Event(at time.Time) {
	r.mu.Lock()
	if r.events == 0 || at.Before(r.oldest) {
		r.oldest = at
	}
	r.events++
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// take returns and clears the pending events.
func (r *runner) take() (time.Time, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	oldest, n := r.oldest, r.events
	r.oldest, r.events = time.Time{}, 0
	return oldest, n
}

// putBack returns the events of a failed sync, so the retry covers them.
func (r *runner) putBack(oldest time.Time, n int) {
	if n == 0 {
		return
	}
	r.mu.Lock()
	if r.events == 0 || oldest.Before(r.oldest) {
		r.oldest = oldest
	}
	r.events += n
	r.mu.Unlock()
}

// loop runs syncs until ctx ends. The first sync is a full one (ReasonInitial) and runs
// at once; sync returns whether it succeeded.
func (r *runner) loop(ctx context.Context, sync func(syncRequest) error) {
	resyncT := time.NewTimer(r.resync)
	defer resyncT.Stop()
	var retryC <-chan time.Time
	backoff := time.Duration(0)
	var lastStart time.Time
	next := syncRequest{reason: ReasonInitial, full: true}
	for {
		if next.reason == "" {
			select {
			case <-ctx.Done():
				return
			case <-r.kick:
				next = syncRequest{reason: ReasonEvent}
			case <-resyncT.C:
				next = syncRequest{reason: ReasonResync, full: true}
			case <-retryC:
				next = syncRequest{reason: ReasonRetry, full: true}
			}
		}
		if wait := time.Until(lastStart.Add(r.minInterval)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		// Drain a kick that arrived meanwhile: this sync covers its events.
		select {
		case <-r.kick:
		default:
		}
		next.oldest, next.events = r.take()
		lastStart = time.Now()
		err := sync(next)
		if err != nil {
			r.putBack(next.oldest, next.events)
			backoff = min(max(2*backoff, r.minInterval, 200*time.Millisecond), r.maxBackoff)
			retryC = time.After(backoff)
		} else {
			backoff = 0
			retryC = nil
			if next.full {
				if !resyncT.Stop() {
					select {
					case <-resyncT.C:
					default:
					}
				}
				resyncT.Reset(r.resync)
			}
		}
		next = syncRequest{}
	}
}
