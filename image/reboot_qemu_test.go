package image

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// TestQEMURebootKeepsLogsAndClock: what a remote admin set must work
// after a reboot too, not only until it. The box boots with a board
// clock in 2001 (a flat RTC battery) and its WAN in the field rig's
// internet namespace; the admin points remote syslog at a collector
// behind the WAN (10.77.0.1, reached only once the WAN has its lease)
// and sets the clock from the installer's phone, then reboots.
//
//   - Remote syslog: init set the target at boot, before any uplink was
//     up; the dial failed (no route) and was never tried again, so the
//     collector heard nothing from the box after any reboot.
//   - The clock: only the system clock was set, never the board's; the
//     reboot brought 2001 back (and with it "certificate not yet valid"
//     for the VPN).
func TestQEMURebootKeepsLogsAndClock(t *testing.T) {
	parallelQEMU(t)
	img := builtImage(t)
	r := newFieldRig(t)
	fd := &fieldDay{t: t, r: r, disk: diskCopy(t, img, "")}
	fd.lan = testenv.HTTPClientIn(r.lan)
	r.startDHCP("dhcp-isp", r.inet, "wan0", fdWANNet)
	r.staticLAN()
	const collector = fdWANNet + ".1:5514"
	var pc net.PacketConn
	if err := testenv.DoIn(r.inet, func() (err error) { pc, err = net.ListenPacket("udp", collector); return err }); err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	lines := make(chan string, 4096)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			select {
			case lines <- string(buf[:n]):
			default:
			}
		}
	}()

	vm, err := StartVM(VMOptions{Disk: fd.disk, Netns: r.box, LANTap: "taplan", WANTap: "tapwan", RTCBase: "2001-01-01",
		ConsoleLog: filepath.Join(r.dir, "console.log")})
	if err != nil {
		t.Fatal(err)
	}
	fd.vm = vm
	t.Cleanup(func() {
		if !vm.Exited() {
			vm.Kill()
		}
		if t.Failed() {
			t.Logf("console (tail):\n%s", testenv.Tail(vm.Console(), 6000))
		}
	})
	if _, err := fd.waitHealthy(4 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := fd.api("POST", "/api/v1/setup", map[string]string{"password": fdAdminPass}, nil); err != nil {
		t.Fatal(err)
	}
	if err := fd.newToken(); err != nil {
		t.Fatal(err)
	}
	var tc struct{ State, Message string }
	if _, err := fd.api("GET", "/api/v1/wizard/time/check", nil, &tc); err != nil || tc.State != "fail" {
		t.Fatalf("with the board's clock in 2001 the time step says %+v %v, want fail", tc, err)
	}
	if _, err := fd.api("POST", "/api/v1/config/set", map[string]any{"settings": map[string]any{"system.syslog": collector}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := fd.api("POST", "/api/v1/system/time", map[string]any{"unix_ms": time.Now().UnixMilli()}, nil); err != nil {
		t.Fatal(err)
	}
	// The token was made in 2001 and lapsed with the clock's jump: the
	// admin logs in again.
	if err := fd.newToken(); err != nil {
		t.Fatal(err)
	}
	// Forwarding while the box runs (the target may have been set before
	// the WAN had its lease, as at every boot).
	if l, err := nextLine(lines, time.Minute); err != nil {
		t.Errorf("before the reboot: %v", err)
	} else {
		t.Logf("collector before the reboot: %s", testenv.Tail(l, 200))
	}

	mark := len(vm.Console())
	if _, err := fd.api("POST", "/api/v1/system/reboot", struct{}{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := vm.WaitConsole("edgebox init ", mark, 4*time.Minute); err != nil {
		t.Fatal(err)
	}
	// The old boot is gone and the new one's services have not started:
	// any line from now on is the new boot's.
	for len(lines) > 0 {
		<-lines
	}
	if _, err := fd.waitHealthy(4 * time.Minute); err != nil {
		t.Fatal(err)
	}
	l, err := nextLine(lines, 2*time.Minute)
	if err != nil {
		t.Errorf("after the reboot the collector at %s hears nothing from the box: %v", collector, err)
	} else {
		t.Logf("collector after the reboot: %s", testenv.Tail(l, 200))
	}
	if _, err := fd.api("GET", "/api/v1/wizard/time/check", nil, &tc); err != nil || tc.State != "ok" {
		t.Errorf("the clock set from the phone did not survive the reboot: the time step says %+v %v", tc, err)
	}
}

// nextLine waits for one line at the collector.
func nextLine(lines <-chan string, timeout time.Duration) (string, error) {
	select {
	case l := <-lines:
		return strings.TrimSpace(l), nil
	case <-time.After(timeout):
		return "", fmt.Errorf("no syslog line within %v", timeout)
	}
}
