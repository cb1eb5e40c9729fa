package progress

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestNotATerminalShowsNothing(t *testing.T) {
	var buf bytes.Buffer
	p := Start(&buf, "working")
	if p != nil {
		t.Fatal("an indicator was started on a buffer")
	}
	// A nil indicator is safe to use.
	p.Set(1, 2)
	p.Label("x")
	p.Stop()
	if buf.Len() != 0 {
		t.Fatalf("wrote %q", buf.String())
	}
}

func TestWorkUnderASecondShowsNothing(t *testing.T) {
	var buf syncBuffer
	p := start(&buf, "working")
	p.Set(5, 10)
	time.Sleep(3 * tick)
	p.Stop()
	if s := buf.String(); s != "" {
		t.Fatalf("wrote %q for work shorter than the delay", s)
	}
}

func TestLongWorkIsDrawnThenErased(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the one-second delay")
	}
	var buf syncBuffer
	p := start(&buf, "deciding")
	p.Set(25, 100)
	time.Sleep(Delay + 3*tick)
	p.Stop()
	p.Stop() // twice is fine
	s := buf.String()
	if !strings.Contains(s, "deciding  25%") {
		t.Errorf("no percentage line in %q", s)
	}
	if !strings.HasSuffix(s, "\r\x1b[K") {
		t.Errorf("line not erased at the end: %q", s)
	}
}
