package main

import (
	"strconv"
	"sync"
	"time"
)

// The remote syslog queue's bounds: a few minutes of a busy box's lines,
// about a megabyte at most. Past them the oldest lines go.
const (
	queueMaxLines = 4096
	queueMaxBytes = 1 << 20
	// noticeMax is room for the line that says lines were dropped.
	noticeMax = 512
)

// logQueue holds the lines on their way to the collector, oldest first.
// Service output (push) never waits on the network: when the queue is
// full the oldest line is dropped and counted, and the count goes out as
// a line of its own just before the next line that gets through.
//
// Over TCP a line stays queued after it was written, until the peer's
// TCP acknowledged its bytes and then resendWindow more (see tcpSender):
// lines[:sent] are written to the current connection, lines[sent:] wait.
type logQueue struct {
	mu       sync.Mutex
	lines    []queued
	bytes    int
	sent     int
	dropped  int   // lines dropped since the last notice went out
	head     int64 // stream offset of lines[0] on the connection (sent > 0)
	tail     int64 // stream offset after lines[sent-1]
	maxLines int
	maxBytes int
	// notice formats the line that says n lines were dropped.
	notice func(n int) string
	// wake is signalled (never blocking) when a line is pushed.
	wake chan struct{}
}

type queued struct {
	msg   string
	wrote time.Time // when it was written to the connection
	acked time.Time // when the peer's TCP acknowledged it; zero: not yet
}

func newLogQueue(maxLines, maxBytes int, notice func(n int) string) *logQueue {
	return &logQueue{maxLines: maxLines, maxBytes: maxBytes, notice: notice, wake: make(chan struct{}, 1)}
}

// push queues msg, dropping the oldest lines past the bounds.
func (q *logQueue) push(msg string) {
	q.mu.Lock()
	q.add(len(q.lines), msg)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// add inserts msg at i and enforces the bounds; under mu.
func (q *logQueue) add(i int, msg string) {
	q.insert(i, msg)
	q.makeRoom(0, 0)
}

// insert puts msg at i; under mu.
func (q *logQueue) insert(i int, msg string) {
	q.lines = append(q.lines, queued{})
	copy(q.lines[i+1:], q.lines[i:])
	q.lines[i] = queued{msg: msg}
	q.bytes += len(msg)
}

// makeRoom drops the oldest lines until lines more of bytes more fit
// in the bounds (the newest line always stays); under mu.
func (q *logQueue) makeRoom(lines, bytes int) {
	for len(q.lines) > 1 && (len(q.lines)+lines > q.maxLines || q.bytes+bytes > q.maxBytes) {
		// A line already acknowledged is not lost; any other is.
		if q.lines[0].acked.IsZero() {
			q.dropped++
		}
		q.pop()
	}
}

// pop removes lines[0]; under mu.
func (q *logQueue) pop() {
	if q.sent > 0 {
		q.sent--
		q.head += frameLen(q.lines[0].msg)
	}
	q.bytes -= len(q.lines[0].msg)
	q.lines[0] = queued{}
	q.lines = q.lines[1:]
}

// pending returns up to maxBytes of the lines not written yet (at least
// one), first the notice of lines dropped if there were any.
func (q *logQueue) pending(maxBytes int) []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dropped > 0 && q.sent < len(q.lines) {
		// Room first, so the notice counts the lines dropped for it
		// too and is not dropped itself.
		q.makeRoom(1, noticeMax)
		n := q.dropped
		q.dropped = 0
		q.insert(q.sent, q.notice(n))
	}
	var out []string
	size := 0
	for _, l := range q.lines[q.sent:] {
		if len(out) > 0 && size+len(l.msg) > maxBytes {
			break
		}
		out = append(out, l.msg)
		size += len(l.msg)
	}
	return out
}

// written records that msgs, the pending lines from the front, went out:
// over UDP they are done (pass done), over TCP they now wait for the
// peer's ack.
func (q *logQueue) written(msgs []string, done bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range msgs {
		if q.sent >= len(q.lines) || q.lines[q.sent].msg != m {
			// Dropped while it was being written: the oldest go first,
			// so nothing written is left before it (sent is 0). Its
			// bytes are on the stream all the same.
			if !done {
				q.tail += frameLen(m)
				q.head = q.tail
			}
			continue
		}
		if done { // UDP: nothing is ever left written, sent is 0
			q.pop()
			continue
		}
		q.lines[q.sent].wrote = time.Now()
		q.sent++
		q.tail += frameLen(m)
	}
}

// acknowledged marks the written lines the peer's TCP acknowledged:
// unacked is how many bytes of the stream are not (SIOCOUTQ). Lines
// acknowledged more than window ago leave the queue, but only while the
// connection keeps going: once a written line waits for its ack longer
// than stall (a path that died), the ones acknowledged just before stay,
// to go again if the connection breaks. It returns how many lines were
// newly acknowledged.
func (q *logQueue) acknowledged(unacked int64, now time.Time, window, stall time.Duration) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	ackedTo := q.tail - unacked
	off, n, stalled := q.head, 0, false
	for i := 0; i < q.sent; i++ {
		off += frameLen(q.lines[i].msg)
		if off > ackedTo {
			stalled = now.Sub(q.lines[i].wrote) > stall
			break
		}
		if q.lines[i].acked.IsZero() {
			q.lines[i].acked = now
			n++
		}
	}
	for !stalled && q.sent > 0 && !q.lines[0].acked.IsZero() && now.Sub(q.lines[0].acked) >= window {
		q.pop()
	}
	return n
}

// rewind makes every written line pending again, for the next connection.
func (q *logQueue) rewind() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range q.lines[:q.sent] {
		q.lines[i].acked, q.lines[i].wrote = time.Time{}, time.Time{}
	}
	q.sent, q.head, q.tail = 0, 0, 0
}

// countDropped counts n lines lost on the way, told like those a full
// queue dropped.
func (q *logQueue) countDropped(n int) {
	q.mu.Lock()
	q.dropped += n
	q.mu.Unlock()
}

// state reports the queue's lengths: all lines, those written and waiting
// for an ack (or the window), and the drops not yet told.
func (q *logQueue) state() (lines, sent, dropped int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.lines), q.sent, q.dropped
}

// frameLen is a line's size on a TCP stream: RFC 6587 octet counting,
// "LEN SP MSG".
func frameLen(msg string) int64 {
	return int64(len(strconv.Itoa(len(msg))) + 1 + len(msg))
}

// appendFrame appends msg framed for a TCP stream.
func appendFrame(b []byte, msg string) []byte {
	b = strconv.AppendInt(b, int64(len(msg)), 10)
	b = append(b, ' ')
	return append(b, msg...)
}
