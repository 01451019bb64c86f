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

// Two batches that share dependencies (the boot's and a hotplugged
// device's) insert each module once, never before its dependencies, and
// WaitModule waits for a module another batch is loading.
func TestConcurrentBatchesShareLoads(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(dir+"/modules.dep", []byte(sampleDep), 0o644)
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	inserted := map[string]int{}
	release := make(chan struct{})
	l.isLoaded = func(name string) bool { mu.Lock(); defer mu.Unlock(); return inserted[name] > 0 }
	l.insert = func(path string) error {
		name := Name(path)
		d, _ := ParseDeps(strings.NewReader(sampleDep))
		files, _, _ := d.Resolve([]string{name})
		mu.Lock()
		for _, f := range files[:len(files)-1] {
			if inserted[Name(f)] == 0 {
				t.Errorf("%s inserted before its dependency %s", name, Name(f))
			}
		}
		mu.Unlock()
		if name == "ext4" {
			<-release // a slow module: WaitModule must wait for it
		}
		mu.Lock()
		inserted[name]++
		mu.Unlock()
		return nil
	}
	a := l.Start([]string{"ext4", "option", "cdc_ether"})
	b := l.Start([]string{"option", "usbserial", "ext4"})
	waited := make(chan error, 1)
	go func() { waited <- l.WaitModule("ext4") }()
	select {
	case <-waited:
		t.Fatal("WaitModule returned while ext4 was still loading")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	na, errsA := a.Wait()
	nb, errsB := b.Wait()
	if len(errsA)+len(errsB) > 0 {
		t.Fatal(errsA, errsB)
	}
	for name, n := range inserted {
		if n != 1 {
			t.Errorf("%s inserted %d times", name, n)
		}
	}
	if na+nb != len(inserted) || len(inserted) != 10 {
		t.Errorf("batches report %d+%d insertions, kernel saw %d: %v", na, nb, len(inserted), inserted)
	}
}
