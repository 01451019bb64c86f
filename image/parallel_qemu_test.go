package image

import (
	"flag"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The QEMU tests run two guests at a time. A boot keeps one host CPU busy
// for a few seconds under TCG, but most of a QEMU test is waiting (the
// box's timers, real peers, a redial, a watchdog), so two guests side by
// side finish the package in a little over half the time without starving
// each other on a 2-core machine; more would (go test also runs another
// package beside this one). EDGEBOX_QEMU_PARALLEL sets another bound (1:
// one at a time).
//
// The longest tests start first, so that the package does not end with one
// long test running alone: go test's own parallel gate starts its waiting
// tests in whatever order the scheduler wakes them, so TestMain opens that
// gate wide and qemuQueue hands out the slots instead.
var qemuSlots = newQEMUQueue(qemuParallel())

// qemuTestSeconds is roughly how long each QEMU test took in one run of the
// package on a heavily loaded 2-core machine (a test not listed counts as a minute): only the order
// matters, longest first.
var qemuTestSeconds = map[string]int{
	"TestQEMUPeersFailAndFailover":             360,
	"TestFieldDay":                             300,
	"TestQEMUUpdateConfirmedKeepsConfig":       260,
	"TestQEMUUpdateFailedHealthCheckRollsBack": 235,
	"TestQEMUUpdatePowerCutInTrialBoot":        230,
	"TestQEMUPPP":                              185,
	"TestQEMUUpdateHungTrialResetByWatchdog":   175,
	"TestQEMUUpdateRefusedAndPowerCut":         135,
	"TestQEMURebootKeepsLogsAndClock":          120,
	"TestQEMUBootSuperviseAndPowerOff":         120,
	"TestQEMUFactoryResetThenSetupAgain":       100,
}

func qemuParallel() int {
	if n, err := strconv.Atoi(os.Getenv("EDGEBOX_QEMU_PARALLEL")); err == nil && n >= 1 {
		return n
	}
	return 2
}

func TestMain(m *testing.M) {
	flag.Parse()
	// go test's -parallel (GOMAXPROCS by default) would pick which waiting
	// QEMU test starts next; qemuQueue bounds them instead. An explicit
	// -parallel is kept.
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", "64")
	}
	os.Exit(m.Run())
}

// parallelQEMU makes a QEMU test run beside the package's other QEMU tests,
// once a slot is free. Call it first, before anything the test starts: the
// slot is given back by the last cleanup, after the guest and every peer
// the test started have been stopped. A test that calls t.Setenv cannot
// use it (the environment is the whole process's).
func parallelQEMU(t *testing.T) {
	t.Helper()
	t.Parallel()
	weight, ok := qemuTestSeconds[t.Name()]
	if !ok {
		weight = 60
	}
	qemuSlots.acquire(weight)
	t.Cleanup(qemuSlots.release)
}

// qemuQueue is a counting semaphore that gives a free slot to the heaviest
// waiter. The parallel tests are released together when the serial ones
// end, so the first slots are handed out only after a short settle, once
// they have all arrived.
type qemuQueue struct {
	mu      sync.Mutex
	free    int
	waiting []qemuWaiter
	settled bool
	timer   *time.Timer
}

type qemuWaiter struct {
	weight int
	ready  chan struct{}
}

func newQEMUQueue(slots int) *qemuQueue { return &qemuQueue{free: slots} }

func (q *qemuQueue) acquire(weight int) {
	w := qemuWaiter{weight, make(chan struct{})}
	q.mu.Lock()
	q.waiting = append(q.waiting, w)
	if q.settled {
		q.dispatchLocked()
	} else if q.timer == nil {
		q.timer = time.AfterFunc(time.Second, func() {
			q.mu.Lock()
			defer q.mu.Unlock()
			q.settled = true
			q.dispatchLocked()
		})
	}
	q.mu.Unlock()
	<-w.ready
}

func (q *qemuQueue) release() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.free++
	q.dispatchLocked()
}

func (q *qemuQueue) dispatchLocked() {
	for q.free > 0 && len(q.waiting) > 0 {
		best := 0
		for i, w := range q.waiting {
			if w.weight > q.waiting[best].weight {
				best = i
			}
		}
		close(q.waiting[best].ready)
		q.waiting = append(q.waiting[:best], q.waiting[best+1:]...)
		q.free--
	}
}

// TestQEMUQueueHeaviestFirst: waiters that arrive together are started
// heaviest first, never more than the bound at once.
func TestQEMUQueueHeaviestFirst(t *testing.T) {
	q := newQEMUQueue(1)
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for _, w := range []int{60, 600, 150, 400} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.acquire(w)
			mu.Lock()
			order = append(order, w)
			mu.Unlock()
			time.Sleep(10 * time.Millisecond)
			q.release()
		}()
	}
	wg.Wait()
	if want := []int{600, 400, 150, 60}; !slices.Equal(order, want) {
		t.Fatalf("started in order %v, want %v", order, want)
	}
}
