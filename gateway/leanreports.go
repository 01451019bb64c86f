package gateway

import (
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// Every call sends RTCP reports on both legs every reportEvery, made from
// the relay's statistics (RTCP is terminated per leg). One clock per
// media host drives the reports of all its calls, instead of a ticker
// goroutine per call: an established lean call then owns no goroutine
// of its media at all. The clock turns in reportSlots steps per period;
// a call reports in the step it was added in, so calls set up at
// different times keep reporting at different times, not in one burst.

const (
	reportEvery = 5 * time.Second
	reportSlots = 50
)

// reportClock is a media host's report timer.
type reportClock struct {
	mu    sync.Mutex
	slots [reportSlots]map[*call]struct{}
	at    int // the slot the next step serves
	stop  chan struct{}
	done  chan struct{}
}

func newReportClock() *reportClock {
	r := &reportClock{stop: make(chan struct{}), done: make(chan struct{})}
	for i := range r.slots {
		r.slots[i] = map[*call]struct{}{}
	}
	go r.run()
	return r
}

func (r *reportClock) run() {
	defer close(r.done)
	t := time.NewTicker(reportEvery / reportSlots)
	defer t.Stop()
	var due []*call
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		r.mu.Lock()
		due = due[:0]
		for c := range r.slots[r.at] {
			due = append(due, c)
		}
		r.at = (r.at + 1) % reportSlots
		r.mu.Unlock()
		for _, c := range due {
			c.reports.tick(c)
		}
		clear(due)
	}
}

// close stops the clock (the host closes: its calls ended).
func (r *reportClock) close() {
	close(r.stop)
	<-r.done
}

// add starts c's reports: first in one period, then every period.
func (r *reportClock) add(c *call, pc *webrtc.PeerConnection, videoLeg *pbxLeg) {
	c.reports.mu.Lock()
	c.reports.pc, c.reports.videoLeg, c.reports.audioOpen, c.reports.clock = pc, videoLeg, true, r
	c.reports.mu.Unlock()
	r.mu.Lock()
	c.reports.slot = (r.at + reportSlots - 1) % reportSlots
	r.slots[c.reports.slot][c] = struct{}{}
	r.mu.Unlock()
}

// callReports is a call's report state.
type callReports struct {
	mu        sync.Mutex // held while the call reports; stop waits for it
	clock     *reportClock
	slot      int
	stopped   bool
	audioOpen bool
	videoLeg  *pbxLeg
	pc        *webrtc.PeerConnection
}

// tick sends c's reports (the clock's goroutine).
func (cr *callReports) tick(c *call) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.stopped {
		return
	}
	if cr.audioOpen {
		cr.audioOpen = c.pbx.sendReport()
	}
	if cr.videoLeg != nil && !cr.videoLeg.sendReport() {
		cr.videoLeg = nil
	}
	c.sendBrowserReports(cr.pc)
	if c.lean != nil && !c.lean.alive(time.Now()) {
		select {
		case c.pcDown <- "browser connection failed: its connectivity checks stopped":
		default:
		}
	}
}

// stop ends c's reports; none is being sent once it returns.
func (cr *callReports) stop(c *call) {
	cr.mu.Lock()
	cr.stopped = true
	r := cr.clock
	cr.mu.Unlock()
	if r != nil {
		r.mu.Lock()
		delete(r.slots[cr.slot], c)
		r.mu.Unlock()
	}
}
