package kmod

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestLevelsLoadDependenciesFirst(t *testing.T) {
	d, err := ParseDeps(strings.NewReader(sampleDep))
	if err != nil {
		t.Fatal(err)
	}
	files, _, err := d.Resolve([]string{"option", "ext4", "cdc_ether", "pcengines_apuv2"})
	if err != nil {
		t.Fatal(err)
	}
	level := map[string]int{}
	for i, l := range d.Levels(files) {
		for _, f := range l {
			level[Name(f)] = i
		}
	}
	if len(level) != len(files) {
		t.Fatalf("levels hold %d modules, want %d", len(level), len(files))
	}
	for _, pair := range [][2]string{{"usbserial", "usb_wwan"}, {"usb_wwan", "option"}, {"jbd2", "ext4"},
		{"mii", "usbnet"}, {"usbnet", "cdc_ether"}, {"gpio_keys_polled", "pcengines_apuv2"}} {
		if level[pair[0]] >= level[pair[1]] {
			t.Errorf("%s (level %d) must load before %s (level %d)", pair[0], level[pair[0]], pair[1], level[pair[1]])
		}
	}
	// Independent modules share a level, so they load in parallel.
	if level["jbd2"] != 0 || level["usbserial"] != 0 || level["mii"] != 0 {
		t.Errorf("modules without dependencies not on level 0: %v", level)
	}
}

func TestParseUevent(t *testing.T) {
	msg := "add@/devices/pci0000:00/0000:00:04.0/usb1/1-1/1-1:1.0\x00ACTION=add\x00DEVPATH=/devices/pci0000:00/0000:00:04.0/usb1/1-1/1-1:1.0\x00" +
		"SUBSYSTEM=usb\x00DEVTYPE=usb_interface\x00MODALIAS=usb:v0403p6001d0400dc00dsc00dp00icFFiscFFipFFin00\x00SEQNUM=812\x00"
	ev, ok := parseUevent([]byte(msg))
	if !ok || ev.Action != "add" || ev.Modalias != "usb:v0403p6001d0400dc00dsc00dp00icFFiscFFipFFin00" ||
		ev.DevPath != "/devices/pci0000:00/0000:00:04.0/usb1/1-1/1-1:1.0" {
		t.Errorf("parsed %+v %v", ev, ok)
	}
	if _, ok := parseUevent([]byte("libudev\x00\xfe\xed\xca\xfe")); ok {
		t.Error("udev's own messages are not kernel events")
	}
}

// Serve hands on added devices with a modalias, ignores the rest, and
// returns when its context ends.
func TestHotplugServe(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	kernel := os.NewFile(uintptr(fds[1]), "kernel")
	defer kernel.Close()
	h := &Hotplug{f: os.NewFile(uintptr(fds[0]), "uevent")}
	var mu sync.Mutex
	var got []string
	seen := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- h.Serve(ctx, func(ev Uevent) {
			mu.Lock()
			got = append(got, ev.Modalias)
			mu.Unlock()
			seen <- struct{}{}
		}, func() {})
	}()
	for _, m := range []string{
		"add@/module/ftdi_sio\x00ACTION=add\x00DEVPATH=/module/ftdi_sio\x00SUBSYSTEM=module\x00",
		"remove@/devices/x\x00ACTION=remove\x00MODALIAS=usb:v1\x00",
		"add@/devices/y\x00ACTION=add\x00MODALIAS=usb:v0525pA4A2d0000dc02dsc00dp00ic02isc06ip00in00\x00",
	} {
		if _, err := kernel.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-seen:
	case <-time.After(30 * time.Second):
		t.Fatal("the added device never reached the callback")
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != "usb:v0525pA4A2d0000dc02dsc00dp00ic02isc06ip00in00" {
		t.Errorf("callback got %q", got)
	}
}
