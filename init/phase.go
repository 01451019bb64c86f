package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
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

// kernelHandover estimates when the kernel started /init, which can be
// long before main runs: the Go runtime first initialises every package
// of the multi-call binary, and one of them (pion/rtp) reads crypto/rand,
// which waits for the kernel's random pool. The kernel logs "Run /init as
// init process" with its clock; CLOCK_MONOTONIC counts from about the
// same moment. Without that line the handover is taken to be now.
func kernelHandover(now time.Time) time.Time {
	f, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return now
	}
	defer unix.Close(f)
	var recs []string
	buf := make([]byte, 8192)
	for range 10000 { // one record per read; the ring holds a few thousand
		n, err := unix.Read(f, buf)
		if err == unix.EPIPE { // a record was overwritten: go on reading
			continue
		}
		if err != nil || n <= 0 {
			break
		}
		recs = append(recs, string(buf[:n]))
	}
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return now
	}
	at, ok := initRunAt(strings.NewReader(strings.Join(recs, "")))
	if !ok {
		return now
	}
	return now.Add(-(time.Duration(ts.Nano()) - at))
}

// initRunAt finds the kernel's "Run /init as init process" record in
// /dev/kmsg's format ("PRI,SEQ,USEC,FLAGS;MESSAGE") and returns its time.
func initRunAt(kmsg io.Reader) (time.Duration, bool) {
	sc := bufio.NewScanner(kmsg)
	for sc.Scan() {
		head, msg, ok := strings.Cut(sc.Text(), ";")
		if !ok || !strings.HasPrefix(msg, "Run ") || !strings.HasSuffix(msg, " as init process") {
			continue
		}
		f := strings.Split(head, ",")
		if len(f) < 3 {
			continue
		}
		usec, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			continue
		}
		return time.Duration(usec) * time.Microsecond, true
	}
	return 0, false
}
