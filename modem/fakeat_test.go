package modem

import (
	"context"
	"errors"
	"time"
)

// fakeAT answers commands from a table of vendor replies: each reply is
// the raw lines up to and including the final result.
type fakeAT struct {
	replies map[string][]string
	seq     map[string][][]string // successive answers to the same command
	sent    []string
}

func (f *fakeAT) Command(ctx context.Context, cmd string, timeout time.Duration) (Response, error) {
	f.sent = append(f.sent, cmd)
	lines, ok := f.replies[cmd]
	if q := f.seq[cmd]; len(q) > 0 {
		lines, ok = q[0], true
		f.seq[cmd] = q[1:]
	}
	if !ok {
		return Response{}, &timeoutError{Command: cmd, After: timeout}
	}
	var r Response
	for _, l := range lines {
		if final, err := FinalResult(l); final {
			r.Final = l
			if err != nil {
				return r, err
			}
			return r, nil
		}
		r.Lines = append(r.Lines, l)
	}
	return r, errors.New("transcript has no final result")
}

func ctx() context.Context { return context.Background() }
