package testenv

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// LogBuffer collects a process's or a logger's output while the test
// reads it: writes and reads may come from different goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Contains reports whether text was written so far.
func (l *LogBuffer) Contains(text string) bool {
	return strings.Contains(l.String(), text)
}

// Count is how many times text was written so far.
func (l *LogBuffer) Count(text string) int {
	return strings.Count(l.String(), text)
}

// Until waits up to timeout for text to be written; the error holds
// the output so far.
func (l *LogBuffer) Until(timeout time.Duration, text string) error {
	return Until(timeout, fmt.Sprintf("%q in the output", text), func() (bool, error) {
		if l.Contains(text) {
			return true, nil
		}
		return false, fmt.Errorf("output so far:\n%s", Tail(l.String(), 4000))
	})
}

// WaitFor fails t unless text is written within timeout.
func (l *LogBuffer) WaitFor(t testing.TB, timeout time.Duration, text string) {
	t.Helper()
	if err := l.Until(timeout, text); err != nil {
		t.Fatal(err)
	}
}

// Tail is the last n bytes of s, marked as cut when it is.
func Tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
