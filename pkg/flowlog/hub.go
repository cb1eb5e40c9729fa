package flowlog

import (
	"context"
	"encoding/json"
	"io"
	"sync"
	"sync/atomic"
)

// DefaultBuffer is how many recent records a Hub keeps when not told.
const DefaultBuffer = 1024

// subscriberQueue is how many records a live subscriber may fall behind before the
// hub drops records for it.
const subscriberQueue = 256

// entry is a record and its JSON line, encoded once for every reader.
type entry struct {
	rec  *Record
	line []byte // with the trailing newline
}

// Hub keeps the recent records and hands new ones to live subscribers. Publishing never
// blocks: a subscriber that falls behind loses records (counted), the reader never
// waits for it.
type Hub struct {
	mu     sync.Mutex
	ring   []entry
	next   int // where the next record goes
	full   bool
	subs   map[*Subscription]struct{}
	closed bool

	published, dropped atomic.Uint64
}

// NewHub makes a hub keeping the last size records (DefaultBuffer when size <= 0).
func NewHub(size int) *Hub {
	if size <= 0 {
		size = DefaultBuffer
	}
	return &Hub{ring: make([]entry, size), subs: map[*Subscription]struct{}{}}
}

// Publish adds a record.
func (h *Hub) Publish(r Record) {
	line, err := json.Marshal(&r)
	if err != nil {
		return // a Record has nothing json cannot encode
	}
	e := entry{rec: &r, line: append(line, '\n')}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.published.Add(1)
	h.ring[h.next] = e
	h.next++
	if h.next == len(h.ring) {
		h.next, h.full = 0, true
	}
	for s := range h.subs {
		if !s.filter.Match(e.rec) {
			continue
		}
		select {
		case s.ch <- e:
		default:
			s.dropped.Add(1)
			h.dropped.Add(1)
		}
	}
}

// recent returns the buffered entries matching f, oldest first, at most limit of the
// newest (all when limit <= 0). The caller holds h.mu.
func (h *Hub) recent(f Filter, limit int) []entry {
	var out []entry
	n := h.next
	if h.full {
		n = len(h.ring)
	}
	// Walk newest to oldest so limit keeps the newest, then reverse.
	for i := 0; i < n && (limit <= 0 || len(out) < limit); i++ {
		e := h.ring[(h.next-1-i+len(h.ring))%len(h.ring)]
		if f.Match(e.rec) {
			out = append(out, e)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// Recent returns the buffered records matching f, oldest first, at most limit of the
// newest (all when limit <= 0).
func (h *Hub) Recent(f Filter, limit int) []Record {
	h.mu.Lock()
	es := h.recent(f, limit)
	h.mu.Unlock()
	out := make([]Record, len(es))
	for i, e := range es {
		out[i] = *e.rec
	}
	return out
}

// Subscription receives the records published after it was made, matching its filter.
type Subscription struct {
	h       *Hub
	filter  Filter
	ch      chan entry
	dropped atomic.Uint64
	once    sync.Once
}

// follow returns the buffered entries matching f (at most limit of the newest, all when
// 0, none when negative) and a subscription to later ones, with nothing missed or
// repeated between the two.
func (h *Hub) follow(f Filter, limit, queue int) ([]entry, *Subscription) {
	s := &Subscription{h: h, filter: f, ch: make(chan entry, queue)}
	h.mu.Lock()
	defer h.mu.Unlock()
	var past []entry
	if limit >= 0 {
		past = h.recent(f, limit)
	}
	if h.closed {
		close(s.ch)
		return past, s
	}
	h.subs[s] = struct{}{}
	return past, s
}

// Subscribe returns a subscription to the records published from now on that match f.
func (h *Hub) Subscribe(f Filter) *Subscription {
	_, s := h.follow(f, -1, subscriberQueue)
	return s
}

// Next waits for the next record. It reports false when ctx is done or the
// subscription or the hub was closed.
func (s *Subscription) Next(ctx context.Context) (Record, bool) {
	select {
	case <-ctx.Done():
		return Record{}, false
	case e, ok := <-s.ch:
		if !ok {
			return Record{}, false
		}
		return *e.rec, true
	}
}

// Dropped is the number of records this subscriber lost by falling behind.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close ends the subscription.
func (s *Subscription) Close() {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	s.closeLocked()
}

func (s *Subscription) closeLocked() {
	s.once.Do(func() {
		delete(s.h.subs, s)
		close(s.ch)
	})
}

// Close ends every subscription (live GET /flows streams end) and stops publishing.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		s.closeLocked()
	}
}

// HubStats count what a hub did.
type HubStats struct {
	// Published counts records published.
	Published uint64
	// Dropped counts records live subscribers lost by falling behind.
	Dropped uint64
	// Subscribers is the number of live subscribers now.
	Subscribers int
}

// Stats returns the counts so far.
func (h *Hub) Stats() HubStats {
	h.mu.Lock()
	n := len(h.subs)
	h.mu.Unlock()
	return HubStats{Published: h.published.Load(), Dropped: h.dropped.Load(), Subscribers: n}
}

// WriteTo writes every record published from now on as a JSON line to w, until ctx is
// done or the hub closes (then it returns nil) or a write fails. It is a subscriber
// with a deep queue: a writer that stalls for long loses records rather than stalling
// the reader; Dropped of the hub counts them.
func (h *Hub) WriteTo(ctx context.Context, w io.Writer) error {
	return h.writer().write(ctx, w)
}

// writer is the subscription WriteTo writes from; taking it before the records come
// makes sure the first of them are written.
func (h *Hub) writer() *Subscription {
	_, s := h.follow(Filter{}, -1, 16*subscriberQueue)
	return s
}

func (s *Subscription) write(ctx context.Context, w io.Writer) error {
	defer s.Close()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-s.ch:
			if !ok {
				return nil
			}
			if _, err := w.Write(e.line); err != nil {
				return err
			}
		}
	}
}
