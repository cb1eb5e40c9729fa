package testbed

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// ErrInterrupted is returned by testbed operations started after a termination signal.
var ErrInterrupted = errors.New("testbed: interrupted by a signal; everything created was removed")

// live tracks the runs of this process, so that SIGINT, SIGTERM or SIGHUP removes their
// namespaces before the process dies (the default action of those signals would leave
// them behind). While at least one testbed is open the signals are caught; the handler
// cleans up, then re-raises the signal with its default action so the exit status still
// says what happened.
var live = &registry{runs: map[string]bool{}}

type registry struct {
	// mu is held for reading while a namespace is being created and for writing by the
	// signal handler, so no namespace can appear after the handler cleaned up.
	mu    sync.RWMutex
	runs  map[string]bool
	dying bool
	sigc  chan os.Signal
}

func (r *registry) creating() error {
	r.mu.RLock()
	if r.dying {
		r.mu.RUnlock()
		return ErrInterrupted
	}
	return nil
}

func (r *registry) created() { r.mu.RUnlock() }

func (r *registry) add(prefix string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dying {
		return ErrInterrupted
	}
	r.runs[prefix] = true
	if r.sigc == nil {
		r.sigc = make(chan os.Signal, 1)
		signal.Notify(r.sigc, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
		go r.handle(r.sigc)
	}
	return nil
}

func (r *registry) remove(prefix string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.runs, prefix)
	if len(r.runs) == 0 && r.sigc != nil && !r.dying {
		signal.Stop(r.sigc)
		close(r.sigc)
		r.sigc = nil
	}
}

func (r *registry) handle(c chan os.Signal) {
	s, ok := <-c
	if !ok {
		return
	}
	r.mu.Lock()
	r.dying = true
	for p := range r.runs {
		if removed, err := Cleanup(p); err != nil {
			fmt.Fprintf(os.Stderr, "testbed: cleaning up after %v: %v\n", s, err)
		} else if len(removed) > 0 {
			fmt.Fprintf(os.Stderr, "testbed: %v: removed %d network namespaces of run %s\n", s, len(removed), p)
		}
	}
	r.mu.Unlock()
	signal.Reset(s)
	if sig, ok := s.(syscall.Signal); ok {
		syscall.Kill(os.Getpid(), sig)
		// The signal is delivered asynchronously; give it the time to end the process.
		time.Sleep(time.Second)
	}
	os.Exit(130)
}
