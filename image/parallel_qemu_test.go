package image

import (
	"os"
	"strconv"
	"testing"
)

// qemuSlots bounds how many QEMU guests this package's tests run at once.
// A boot keeps one host CPU busy for a few seconds under TCG, but most of a
// QEMU test is waiting (the box's timers, real peers, a redial, a
// watchdog), so two guests side by side finish the package in a little over
// half the time without starving each other on a 2-core machine; more would
// (go test also runs another package beside this one).
// EDGEBOX_QEMU_PARALLEL sets another bound (1: one at a time).
var qemuSlots = make(chan struct{}, qemuParallel())

func qemuParallel() int {
	if n, err := strconv.Atoi(os.Getenv("EDGEBOX_QEMU_PARALLEL")); err == nil && n >= 1 {
		return n
	}
	return 2
}

// parallelQEMU makes a QEMU test run beside the package's other QEMU tests,
// once a slot is free. Call it first, before anything the test starts: the
// slot is given back by the last cleanup, after the guest and every peer
// the test started have been stopped. A test that calls t.Setenv cannot
// use it (the environment is the whole process's).
func parallelQEMU(t *testing.T) {
	t.Helper()
	t.Parallel()
	qemuSlots <- struct{}{}
	t.Cleanup(func() { <-qemuSlots })
}
