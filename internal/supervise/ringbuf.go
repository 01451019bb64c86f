package supervise

import (
	"sync"
	"time"

	"edgebox/internal/sysapi"
)

// logRing keeps the last lines a service printed, numbered so that a
// follower (edgectl logs -f) can ask for what came after the last it saw.
type logRing struct {
	mu    sync.Mutex
	lines []sysapi.LogLine
	next  int // index of the slot to write next once full
	full  bool
	seq   uint64
}

func newLogRing(n int) *logRing { return &logRing{lines: make([]sysapi.LogLine, n)} }

func (r *logRing) add(text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	r.lines[r.next] = sysapi.LogLine{Seq: r.seq, Time: time.Now(), Text: text}
	r.next++
	if r.next == len(r.lines) {
		r.next = 0
		r.full = true
	}
}

// lastSeq is the sequence number of the newest line (0: none yet).
func (r *logRing) lastSeq() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq
}

// since returns the kept lines with Seq > after, the newest limit of them
// (limit 0: all).
func (r *logRing) since(after uint64, limit int) []sysapi.LogLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ordered []sysapi.LogLine
	if r.full {
		ordered = append(ordered, r.lines[r.next:]...)
	}
	ordered = append(ordered, r.lines[:r.next]...)
	out := make([]sysapi.LogLine, 0, len(ordered))
	for _, l := range ordered {
		if l.Seq > after {
			out = append(out, l)
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out
}
