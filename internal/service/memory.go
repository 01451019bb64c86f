package service

import (
	"context"
	"runtime/debug"
	"time"
)

// startSettle is how long after its start a service gives the memory its
// start-up left behind back to the kernel.
var startSettle = 5 * time.Second

// freeOSMemory is debug.FreeOSMemory (tests count the calls).
var freeOSMemory = debug.FreeOSMemory

// releaseStartMemory runs one garbage collection and returns the free
// heap pages to the kernel, once, startSettle after the service started.
// A service's start allocates far more than it keeps (config parsing,
// templates, TLS keys, the first netlink dumps), and the runtime's own
// scavenger keeps freed pages up to its heap goal: on a box with a few
// hundred MB and three services idle for hours, those pages are better
// the kernel's. A busy service grows its heap again as it needs.
func releaseStartMemory(ctx context.Context) {
	t := time.NewTimer(startSettle)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
		freeOSMemory()
	}
}
