package calldial

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ProcThreads sums the scheduler's statistics over the threads of
// process pid (/proc/PID/task/*/schedstat): the time they ran, to the
// nanosecond (where /proc/PID/stat counts 10 ms ticks), and the times
// they were put on a CPU. A Go program's threads park when they find no
// work and are woken when some comes, so slices per set-up show how
// often the gateway went to sleep and woke for one: at a low set-up
// rate each of the set-up's network events finds the process idle and
// pays the wake-up again (threads that exited are no longer counted).
func ProcThreads(pid int) (run time.Duration, slices uint64, err error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range ents {
		data, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
		if err != nil {
			continue // the thread exited meanwhile
		}
		r, n, err := parseSchedstat(data)
		if err != nil {
			return 0, 0, err
		}
		run += r
		slices += n
	}
	return run, slices, nil
}

// parseSchedstat reads a schedstat line: ns on a CPU, ns waiting for
// one, and the number of timeslices run.
func parseSchedstat(data []byte) (time.Duration, uint64, error) {
	f := strings.Fields(string(data))
	if len(f) != 3 {
		return 0, 0, fmt.Errorf("schedstat %q: want 3 fields", truncate(data))
	}
	run, err1 := strconv.ParseUint(f[0], 10, 64)
	n, err2 := strconv.ParseUint(f[2], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("schedstat %q: not numbers", truncate(data))
	}
	return time.Duration(run), n, nil
}

// idleCPU is what process pid spends per second over d with no calls
// (ms of CPU per s), measured with ProcThreads' ns resolution.
func idleCPU(pid int, d time.Duration) float64 {
	r0, _, err := ProcThreads(pid)
	t0 := time.Now()
	if err != nil {
		return 0
	}
	time.Sleep(d)
	r1, _, err := ProcThreads(pid)
	if err != nil {
		return 0
	}
	return float64(r1-r0) / float64(time.Millisecond) / time.Since(t0).Seconds()
}
