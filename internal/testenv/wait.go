package testenv

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// Backoff bounds of the polling: the first retry comes soon (most
// conditions hold within milliseconds), later ones every 250 ms at most.
const (
	firstPoll = 5 * time.Millisecond
	maxPoll   = 250 * time.Millisecond
)

// Until polls cond until it reports true or timeout passes. cond's error
// means "not yet, and this is why"; it does not stop the polling unless
// made with Final. On timeout the error names what and carries cond's
// last error.
func Until(timeout time.Duration, what string, cond func() (bool, error)) error {
	return UntilEvery(timeout, maxPoll, what, cond)
}

// UntilEvery is Until with the pause between polls growing to at most
// every instead of 250 ms: for conditions that are dear to ask (an API
// call into a QEMU guest).
func UntilEvery(timeout, every time.Duration, what string, cond func() (bool, error)) error {
	end := time.Now().Add(timeout)
	wait := min(firstPoll, every)
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if f, is := err.(finalError); is {
			return fmt.Errorf("%s: %w", what, f.err)
		}
		last = err
		left := time.Until(end)
		if left <= 0 {
			break
		}
		time.Sleep(min(wait, left))
		wait = min(2*wait, every)
	}
	if last != nil {
		return fmt.Errorf("%s: not within %v: %w", what, timeout, last)
	}
	return fmt.Errorf("%s: not within %v", what, timeout)
}

// WaitFor is Until that fails t (from the test's goroutine) on timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	if err := Until(timeout, what, cond); err != nil {
		t.Fatal(err)
	}
}

// Cond adapts a plain predicate to WaitFor's cond.
func Cond(f func() bool) func() (bool, error) {
	return func() (bool, error) { return f(), nil }
}

// Why adapts a predicate that also says what it saw (for the timeout
// message) to WaitFor's cond.
func Why(f func() (bool, string)) func() (bool, error) {
	return func() (bool, error) {
		ok, why := f()
		if ok || why == "" {
			return ok, nil
		}
		return false, errors.New(why)
	}
}

// Final marks cond's error as one waiting cannot cure (the process
// exited): Until returns it at once.
func Final(err error) error { return finalError{err} }

type finalError struct{ err error }

func (f finalError) Error() string { return f.err.Error() }
func (f finalError) Unwrap() error { return f.err }
