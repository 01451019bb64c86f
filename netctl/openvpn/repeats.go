package openvpn

import (
	"fmt"
	"time"
)

// repeats collapses log lines openvpn prints again and again (the same
// failed connect every few seconds for hours) so they do not fill the log
// ring and /perm: a line already logged within the window is only
// counted, and logged again with its count once the window has passed.
type repeats struct {
	window time.Duration
	seen   map[string]*repeat
}

type repeat struct {
	since time.Time
	n     int // times suppressed since
}

// maxRepeats bounds the lines remembered; older ones are forgotten.
const maxRepeats = 256

// filter returns the text to log for line, or false to log nothing now.
func (r *repeats) filter(line string, now time.Time) (string, bool) {
	if r.seen == nil {
		r.seen = map[string]*repeat{}
	}
	e, ok := r.seen[line]
	if ok && now.Sub(e.since) < r.window {
		e.n++
		return "", false
	}
	out := line
	if ok && e.n > 0 {
		out = fmt.Sprintf("%s (repeated %d more times in the last %s)", line, e.n, now.Sub(e.since).Round(time.Second))
	}
	if !ok && len(r.seen) >= maxRepeats {
		for k, v := range r.seen {
			if now.Sub(v.since) >= r.window {
				delete(r.seen, k)
			}
		}
		if len(r.seen) >= maxRepeats {
			return out, true // too many distinct lines to track: log them all
		}
	}
	r.seen[line] = &repeat{since: now}
	return out, true
}

// flush returns the counts not yet logged, when the process ends.
func (r *repeats) flush() []string {
	var out []string
	for line, e := range r.seen {
		if e.n > 0 {
			out = append(out, fmt.Sprintf("%s (repeated %d more times)", line, e.n))
		}
	}
	r.seen = nil
	return out
}
