package agent

import (
	"fmt"
	"net/http"
	"time"
)

// StuckSyncTimeout is how long one sync may run before /healthz fails, so the kubelet
// restarts an agent whose kernel write hangs. A restart is harmless: the rules stay.
const StuckSyncTimeout = 2 * time.Minute

// HealthHandler serves /healthz (the sync loop is not stuck) and /readyz (the kernel
// enforces a complete snapshot). Neither depends on the API server being reachable: an
// agent that lost it keeps enforcing the last state and is still doing its job.
func (a *Agent) HealthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if s := a.syncStart.Load(); s != 0 {
			if d := time.Since(time.Unix(0, s)); d > StuckSyncTimeout {
				http.Error(w, fmt.Sprintf("a sync has been running for %v", d.Round(time.Second)), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !a.Ready() {
			http.Error(w, "waiting for the first sync to be programmed", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}
