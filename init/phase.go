package main

import (
	"fmt"
	"io"
	"time"
)

// phasePrefix starts every boot phase line on the console; the boot
// benchmark (image/qemu_test.go) parses "edgebox phase NAME +MSms".
const phasePrefix = "edgebox phase "

func writePhase(w io.Writer, name string, since time.Duration) {
	fmt.Fprintf(w, "%s%s +%dms\n", phasePrefix, name, since.Milliseconds())
}

// bootClock prints each boot phase on the console, in milliseconds since
// init started.
type bootClock struct {
	start time.Time
	w     io.Writer
}

func (c bootClock) phase(name string) {
	if c.w != nil {
		writePhase(c.w, name, time.Since(c.start))
	}
}
