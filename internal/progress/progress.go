// Package progress shows that long work is under way: a one-line indicator on stderr,
// drawn only when stderr is a terminal and only once the work has taken a second, and
// erased when it ends. Pipes, files and CI logs never see it.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// Delay is how long work runs before the indicator appears.
const Delay = time.Second

const tick = 100 * time.Millisecond

// Indicator is one line of progress. The zero value and a nil *Indicator are no-ops, so
// callers need not check whether one is shown.
type Indicator struct {
	w     io.Writer
	start time.Time
	stop  chan struct{}
	done  chan struct{}

	mu          sync.Mutex
	label       string
	n, total    int64
	drawn       bool
	frame       int
	lastWritten string
}

// IsTerminal reports whether w is a terminal (a character device a person reads).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Start begins an indicator labelled label on w, or returns nil when w is not a terminal.
func Start(w io.Writer, label string) *Indicator {
	if !IsTerminal(w) {
		return nil
	}
	return start(w, label)
}

func start(w io.Writer, label string) *Indicator {
	p := &Indicator{w: w, start: time.Now(), label: label, stop: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

// Set reports progress: n of total units, or just n when total is 0 (unknown).
func (p *Indicator) Set(n, total int64) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	p.n, p.total = n, total
	p.mu.Unlock()
}

// Label changes what the line says is under way, and resets the counts.
func (p *Indicator) Label(label string) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	p.label, p.n, p.total = label, 0, 0
	p.mu.Unlock()
}

// Stop erases the line, if it was drawn, and ends the indicator. It may be called more
// than once.
func (p *Indicator) Stop() {
	if p == nil || p.w == nil {
		return
	}
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

func (p *Indicator) run() {
	defer close(p.done)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			p.mu.Lock()
			if p.drawn {
				fmt.Fprint(p.w, "\r\x1b[K")
			}
			p.mu.Unlock()
			return
		case now := <-t.C:
			if now.Sub(p.start) >= Delay {
				p.draw(now)
			}
		}
	}
}

var spinner = []string{"|", "/", "-", `\`}

func (p *Indicator) draw(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frame++
	elapsed := now.Sub(p.start).Truncate(100 * time.Millisecond)
	var line string
	switch {
	case p.total > 0:
		line = fmt.Sprintf("%s %s %3d%% (%s)", spinner[p.frame%len(spinner)], p.label, p.n*100/p.total, elapsed)
	case p.n > 0:
		line = fmt.Sprintf("%s %s %d (%s)", spinner[p.frame%len(spinner)], p.label, p.n, elapsed)
	default:
		line = fmt.Sprintf("%s %s (%s)", spinner[p.frame%len(spinner)], p.label, elapsed)
	}
	if line == p.lastWritten {
		return
	}
	p.lastWritten = line
	p.drawn = true
	fmt.Fprint(p.w, "\r\x1b[K"+line)
}
