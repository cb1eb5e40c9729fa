package flowlog

import (
	"fmt"
	"net/http"
	"strconv"
)

// FlowsPath is where the agent serves the flow log.
const FlowsPath = "/flows"

// ContentType of GET /flows: one JSON record per line.
const ContentType = "application/x-ndjson"

// Handler serves the flow log (GET /flows): the buffered records matching the query,
// oldest first, then with follow=1 the new ones as they come, until the client goes
// away or the hub closes. Query parameters: namespace, pod, verdict, direction, audit
// (see Filter), limit (at most that many of the newest buffered records), follow.
// Bad parameters get 400 with the reason.
func (h *Hub) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "flows: only GET", http.StatusMethodNotAllowed)
			return
		}
		q := r.URL.Query()
		f, err := ParseFilter(q)
		if err != nil {
			http.Error(w, "flows: "+err.Error(), http.StatusBadRequest)
			return
		}
		follow, err := boolParam(q, "follow")
		if err != nil {
			http.Error(w, "flows: "+err.Error(), http.StatusBadRequest)
			return
		}
		limit := 0
		if v := q.Get("limit"); v != "" {
			if limit, err = strconv.Atoi(v); err != nil || limit < 0 {
				http.Error(w, fmt.Sprintf("flows: limit %q: want a number of records, 0 for all", v), http.StatusBadRequest)
				return
			}
		}
		w.Header().Set("Content-Type", ContentType)
		w.Header().Set("Cache-Control", "no-store")
		if r.Method == http.MethodHead {
			return
		}
		var past []entry
		var sub *Subscription
		if follow {
			past, sub = h.follow(f, limit, subscriberQueue)
			defer sub.Close()
		} else {
			h.mu.Lock()
			past = h.recent(f, limit)
			h.mu.Unlock()
		}
		flusher, _ := w.(http.Flusher)
		for _, e := range past {
			if _, err := w.Write(e.line); err != nil {
				return
			}
		}
		if !follow {
			return
		}
		// The status line and the history go out now: a client following an idle log
		// must see the stream open.
		if flusher != nil {
			flusher.Flush()
		}
		for {
			select {
			case <-r.Context().Done():
				return
			case e, ok := <-sub.ch:
				if !ok {
					return
				}
				if _, err := w.Write(e.line); err != nil {
					return
				}
				// Write what is queued, then flush once.
				for n := len(sub.ch); n > 0; n-- {
					e, ok := <-sub.ch
					if !ok {
						break
					}
					if _, err := w.Write(e.line); err != nil {
						return
					}
				}
				if flusher != nil {
					flusher.Flush()
				}
			}
		}
	})
}
