package image

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// TestQEMUClockFromNTP: a box whose board clock is in 2001 (a flat RTC)
// and whose admin set system.ntp to the ISP's time server (Debian's
// chronyd in the rig's internet namespace, -x: it serves and never sets
// the machine's clock) gets the right time, and the wizard's time step
// says so. Before, nothing read system.ntp: the step said "check the NTP
// servers" for ever, and the VPN refused its server's certificate as not
// yet valid.
func TestQEMUClockFromNTP(t *testing.T) {
	parallelQEMU(t)
	img := builtImage(t)
	r := newFieldRig(t)
	testenv.RequireRoot(t, "/usr/sbin/chronyd")
	fd := &fieldDay{t: t, r: r, disk: diskCopy(t, img, "")}
	fd.lan = testenv.HTTPClientIn(r.lan)
	r.startDHCP("dhcp-isp", r.inet, "wan0", fdWANNet)
	r.staticLAN()
	ntp := fdWANNet + ".1"
	conf := filepath.Join(r.dir, "chrony.conf")
	os.WriteFile(conf, []byte(strings.Join([]string{"local stratum 8", "allow " + fdWANNet + ".0/24", "bindaddress " + ntp,
		"cmdport 0", "pidfile " + filepath.Join(r.dir, "chronyd.pid"), "driftfile " + filepath.Join(r.dir, "chrony.drift")}, "\n")+"\n"), 0o644)
	r.start("chronyd", r.inet, "/usr/sbin/chronyd", "-d", "-x", "-u", "root", "-f", conf)

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
			t.Logf("console (tail):\n%s\n--- chronyd:\n%s", testenv.Tail(vm.Console(), 6000), testenv.Tail(r.log("chronyd"), 2000))
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
	if _, err := fd.api("POST", "/api/v1/config/set", map[string]any{"settings": map[string]any{"system.ntp": []string{ntp}}}, nil); err != nil {
		t.Fatal(err)
	}
	// The token made in 2001 must still work once the clock jumps
	// (web/auth_clock.go): no new login here.
	if err := testenv.UntilEvery(2*time.Minute, 2*time.Second, "the wizard's time step says the clock is right", testenv.Why(func() (bool, string) {
		_, err := fd.api("GET", "/api/v1/wizard/time/check", nil, &tc)
		return err == nil && tc.State == "ok", fmt.Sprintf("%v %+v", err, tc)
	})); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Synced bool   `json:"synced"`
		Server string `json:"server"`
	}
	if _, err := fd.api("GET", "/api/v1/local/netctl/v1/time", nil, &st); err != nil || !st.Synced || st.Server != ntp {
		t.Errorf("netctl's time status %+v %v, want synced with %s", st, err, ntp)
	}
	t.Logf("time step: %s", tc.Message)
}
