package kmod

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Uevent is one kernel device event ("add@/devices/...").
type Uevent struct {
	Action   string // add, remove, bind, change ...
	DevPath  string
	Modalias string // empty for devices no driver can bind
}

// parseUevent reads the kernel's format: "ACTION@DEVPATH\0KEY=VALUE\0...".
func parseUevent(b []byte) (Uevent, bool) {
	fields := bytes.Split(b, []byte{0})
	head, _, ok := strings.Cut(string(fields[0]), "@")
	if !ok {
		return Uevent{}, false // libudev's "libudev\0..." or garbage
	}
	ev := Uevent{Action: head}
	for _, f := range fields[1:] {
		k, v, _ := strings.Cut(string(f), "=")
		switch k {
		case "ACTION":
			ev.Action = v
		case "DEVPATH":
			ev.DevPath = v
		case "MODALIAS":
			ev.Modalias = v
		}
	}
	return ev, true
}

// Hotplug is a subscription to the kernel's device uevents, so that
// devices appearing after the boot's scan (a USB modem enumerates seconds
// later, a disk appears once its controller's driver probed) still get
// their drivers, as udev does.
type Hotplug struct {
	f *os.File
}

// ListenHotplug subscribes to kernel uevents. Call it before scanning sysfs:
// then a device is either in the scan or in an event, never in neither.
func ListenHotplug() (*Hotplug, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, fmt.Errorf("uevent socket: %w", err)
	}
	// Module loads at boot raise bursts of events; a big buffer keeps them.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("uevent socket: %w", err)
	}
	return &Hotplug{f: os.NewFile(uintptr(fd), "uevent")}, nil
}

// Serve calls added for every device that is added with a modalias, each in
// its own goroutine (a driver's probe can take a while and must not hold up
// the next device), until ctx ends; then it waits for those calls. When the
// kernel dropped events because the buffer overflowed, it calls lost, which
// should rescan sysfs.
func (h *Hotplug) Serve(ctx context.Context, added func(Uevent), lost func()) error {
	stop := context.AfterFunc(ctx, func() { h.f.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	buf := make([]byte, 64*1024)
	for {
		n, err := h.f.Read(buf)
		if errors.Is(err, unix.ENOBUFS) {
			wg.Go(lost)
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("uevent socket: %w", err)
		}
		ev, ok := parseUevent(buf[:n])
		if !ok || ev.Action != "add" || ev.Modalias == "" {
			continue
		}
		wg.Go(func() { added(ev) })
	}
}

// Close ends the subscription (Serve returns an error if it still runs).
func (h *Hotplug) Close() error { return h.f.Close() }
