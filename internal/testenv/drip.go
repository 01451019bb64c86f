package testenv

import (
	"io"
	"testing"
	"time"
)

// Drip writes one space to w every interval, at most n times, until the
// test ends or a write fails: a slow client (slowloris) sending a body it
// announced but never finishes.
func Drip(t testing.TB, w io.Writer, every time.Duration, n int) {
	stop := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		for range n {
			select {
			case <-stop:
				return
			case <-time.After(every):
			}
			if _, err := w.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
}
