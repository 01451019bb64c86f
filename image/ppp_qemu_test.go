package image

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// TestQEMUPPP proves netctl's PPP path end to end with a real pppd: the
// box in QEMU has a PPP-only modem (modemsim's sierra-mc8775 profile on
// the usb-serial port, the AT port shared with pppd); after ATD*99***1#
// the call's bytes go to slirp, a userspace PPP peer (the host kernel needs
// no PPP), which runs in a network namespace the test created with only
// loopback up, so nothing leaves the machine. The modem uplink's health
// probe targets slirp's host alias 10.0.2.2, which slirp maps to 127.0.0.1
// inside that namespace, where the test listens: connections there crossed
// the box's ppp0. Killing slirp drops the call; netctl must redial.
func TestQEMUPPP(t *testing.T) {
	parallelQEMU(t)
	img := builtImage(t)
	testenv.RequireRoot(t, "ip") // a network namespace
	slirp, err := exec.LookPath("slirp")
	if err != nil {
		t.Fatalf("slirp (Debian package slirp, scripts/deps.sh) is missing: %v", err)
	}

	carrier := testenv.NewNetns(t, fmt.Sprintf("edgebox-qemuppp-%d", os.Getpid()))
	ns := carrier.Name

	// The probe target: a TCP listener on 127.0.0.1 inside the namespace.
	var ln net.Listener
	err = testenv.DoIn(ns, func() (err error) { ln, err = net.Listen("tcp", "127.0.0.1:0"); return err })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()

	// slirp reads ~/.slirprc: "ppp" mode; "ipcp-accept-local" takes the
	// address the box's pppd gives slirp's end (slirp has none of its own
	// and closes IPCP without one: "Could not determine local IP
	// address"); "host addr" makes its host alias 10.0.2.2 reach 127.0.0.1
	// in the namespace (it has no other address to find); "debugppp"
	// writes slirp_pppdebug, shown when the test fails.
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ".slirprc"), []byte("ppp\nipcp-accept-local\nhost addr 127.0.0.1\ndebugppp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := startPPPModemsim(t, home, ns, slirpPeer(t, slirp))

	disk := diskCopy(t, img, "")
	b := bootBoxWithModem(t, disk, false, sock)
	b.waitHealthy(4 * time.Minute)
	if _, err := b.call("POST", "/api/v1/setup", "", map[string]string{"password": "installer-secret-1"}, nil); err != nil {
		t.Fatal(err)
	}
	token := apiToken(t, b, "installer-secret-1")
	t.Cleanup(func() {
		if t.Failed() {
			var logs []struct {
				Text string `json:"text"`
			}
			b.call("GET", "/api/v1/services/netctl/logs", token, nil, &logs)
			var sb strings.Builder
			for _, l := range logs {
				sb.WriteString(l.Text + "\n")
			}
			t.Logf("netctl log:\n%s", sb.String())
		}
	})

	target := fmt.Sprintf("tcp:10.0.2.2:%d", port)
	if _, err := b.call("POST", "/api/v1/config/set", token, map[string]any{"settings": map[string]any{
		"network.modem.port":           "/dev/ttyUSB0",
		"network.modem.profile":        "sierra-mc8775",
		"network.modem.method":         "ppp",
		"network.modem.apn":            "internet",
		"network.modem.health_targets": []string{target},
	}}, nil); err != nil {
		t.Fatal(err)
	}

	up := waitPPPUplink(t, b, token, &accepted, 0, 3*time.Minute)
	t.Logf("modem uplink up on %s with %s (gateway %q), %d probe connections reached the namespace",
		up.Interface, up.Address, up.Gateway, accepted.Load())

	// Drop the call: kill slirp (the carrier's side). modemsim says NO
	// CARRIER, pppd exits, netctl takes the uplink down and dials again;
	// modemsim starts a new slirp for the new call.
	before := accepted.Load()
	// The down spell can be short (pppd notices the dead peer by LCP echo
	// after ~80 s, and redials within ~15 s), and a loaded machine may
	// answer a poll slower than that spell lasts. So the uplink's last
	// state change (Since) counts too: a change after the kill means it
	// left the healthy state and came back. Every poll's outcome is kept
	// for the failure message.
	sinceBefore := up.Since
	var polls, failed int
	var lastErr error
	var last pppUplink
	carrier.KillProcs()
	if err := testenv.UntilEvery(2*time.Minute, 300*time.Millisecond, "modem uplink down after the PPP peer was killed", testenv.Cond(func() bool {
		polls++
		u, err := modemUplink(b, token)
		if err != nil {
			failed, lastErr = failed+1, err
			return false
		}
		last = u
		healthyOnPPP := u.Health.Healthy && u.Interface == "ppp0" && u.Address != ""
		return !healthyOnPPP || !u.Since.Equal(sinceBefore)
	})); err != nil {
		t.Fatalf("%v (%d status polls, %d failed, last error %v; last modem uplink %+v, since before the kill %s)",
			err, polls, failed, lastErr, last, sinceBefore.Format(time.RFC3339Nano))
	}
	up = waitPPPUplink(t, b, token, &accepted, before, 3*time.Minute)
	t.Logf("redialled: up on %s with %s, %d probe connections in all", up.Interface, up.Address, accepted.Load())
}

// slirpSelectShim works around a 64-bit bug in Debian 12's slirp
// (1:1.0.17-11): when it has nothing to do, main_loop stores the "block
// forever" flag -1 through a (u_int) cast into the long tv_usec, so its
// own "wait 5 s instead" check (tv_usec == -1) misses and select gets
// tv_usec 4294967295; glibc answers EINVAL and slirp exits with status 1
// right after "SLiRP Ready". The shim turns an out-of-range tv_usec into
// the 5 s wait slirp's source means. Nothing else of slirp changes: it is
// still slirp's PPP, IPCP and NAT the box talks to.
const slirpSelectShim = `struct timeval { long tv_sec; long tv_usec; };
extern void *dlsym(void *, const char *);
typedef int (*select_fn)(int, void *, void *, void *, struct timeval *);
int select(int n, void *r, void *w, void *e, struct timeval *t) {
	static select_fn real;
	if (!real)
		real = (select_fn)dlsym((void *)-1L, "select"); /* RTLD_NEXT */
	if (t && (t->tv_usec < 0 || t->tv_usec >= 1000000)) {
		t->tv_sec = 5;
		t->tv_usec = 0;
	}
	return real(n, r, w, e, t);
}
`

// slirpPeer returns modemsim's --ppp-peer for slirp: slirp insists on a
// tty on stdin (tty_attach), so script(1) gives it a pty whose master is
// wired to modemsim's pipes; a wrapper sets LD_PRELOAD to the select shim.
func slirpPeer(t *testing.T, slirp string) string {
	t.Helper()
	dir := t.TempDir()
	src, so := filepath.Join(dir, "selectshim.c"), filepath.Join(dir, "selectshim.so")
	if err := os.WriteFile(src, []byte(slirpSelectShim), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-shared", "-fPIC", "-nostdinc", "-o", so, src).CombinedOutput(); err != nil {
		t.Fatalf("build the select shim for slirp (gcc from scripts/deps.sh): %v %s", err, out)
	}
	wrapper := filepath.Join(dir, "slirp-peer.sh")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\ncd "+dir+" || exit 1\nLD_PRELOAD="+so+" exec "+slirp+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			data, _ := os.ReadFile(filepath.Join(dir, "slirp_pppdebug"))
			if len(data) > 8000 {
				data = data[len(data)-8000:]
			}
			t.Logf("slirp PPP debug (tail):\n%s", data)
		}
	})
	script, err := exec.LookPath("script")
	if err != nil {
		t.Fatalf("script (util-linux) is missing: %v", err)
	}
	return script + " -q -f -e -c " + wrapper + " /dev/null"
}

type pppUplink struct {
	Name      string `json:"name"`
	Interface string `json:"interface"`
	State     string `json:"state"`
	Active    bool   `json:"active"`
	Address   string `json:"address"`
	Gateway   string `json:"gateway"`
	Health    struct {
		Healthy   bool   `json:"healthy"`
		LastError string `json:"last_error"`
	} `json:"health"`
	LastError string    `json:"last_error"`
	Since     time.Time `json:"since"`
}

type pppStatus struct {
	Active  string      `json:"active"`
	Uplinks []pppUplink `json:"uplinks"`
	Modem   *struct {
		State string `json:"state"`
		Error string `json:"error"`
	} `json:"modem"`
}

// modemUplink is the modem uplink in netctl's status, or why there is none.
func modemUplink(b *box, token string) (pppUplink, error) {
	var st pppStatus
	if _, err := b.call("GET", "/api/v1/local/netctl/v1/status", token, nil, &st); err != nil {
		return pppUplink{}, err
	}
	for _, u := range st.Uplinks {
		if u.Name == "modem" {
			return u, nil
		}
	}
	return pppUplink{}, fmt.Errorf("no modem uplink in the status (%d uplinks)", len(st.Uplinks))
}

// waitPPPUplink waits until the modem uplink is active and healthy on ppp0
// with an address from slirp's 10.0.2.0/24, and the probe listener has
// accepted more than `after` connections.
func waitPPPUplink(t *testing.T, b *box, token string, accepted *atomic.Int64, after int64, timeout time.Duration) pppUplink {
	t.Helper()
	slirpNet := net.IPNet{IP: net.IPv4(10, 0, 2, 0), Mask: net.CIDRMask(24, 32)}
	var up pppUplink
	if err := testenv.UntilEvery(timeout, time.Second, "modem uplink up over PPP", func() (bool, error) {
		var st pppStatus
		b.call("GET", "/api/v1/local/netctl/v1/status", token, nil, &st)
		for _, u := range st.Uplinks {
			if u.Name != "modem" || u.Interface != "ppp0" || !u.Health.Healthy || !u.Active || st.Active != "modem" {
				continue
			}
			ip, _, err := net.ParseCIDR(u.Address)
			if err != nil {
				ip = net.ParseIP(u.Address)
			}
			if ip == nil || !slirpNet.Contains(ip) {
				t.Fatalf("ppp0 address %q is not from slirp's 10.0.2.0/24", u.Address)
			}
			if accepted.Load() > after {
				up = u
				return true, nil
			}
		}
		return false, fmt.Errorf("probe connections %d: %+v modem %+v", accepted.Load(), st, st.Modem)
	}); err != nil {
		t.Fatal(err)
	}
	return up
}

func apiToken(t *testing.T, b *box, password string) string {
	t.Helper()
	var tok struct {
		Token string `json:"token"`
	}
	// The API hands out read-only tokens unless asked for admin.
	req, _ := http.NewRequest("POST", b.https+"/api/v1/tokens", strings.NewReader(`{"name":"test","scope":"admin"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("admin", password)
	resp, err := b.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&tok)
	if tok.Token == "" {
		t.Fatalf("no API token: %s", resp.Status)
	}
	return tok.Token
}

// startPPPModemsim runs modemsim whose data calls run peer (split on
// blanks) inside the namespace ns, with HOME set to home.
func startPPPModemsim(t *testing.T, home, ns, peer string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "modemsim")
	if out, err := exec.Command("go", "build", "-o", bin, "edgebox/cmd/modemsim").CombinedOutput(); err != nil {
		t.Fatalf("build modemsim: %v\n%s", err, out)
	}
	sock := filepath.Join(dir, "modem.sock")
	logf, err := os.Create(filepath.Join(dir, "modemsim.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--profile", "sierra-mc8775", "--listen", sock, "--ppp-netns", ns, "--ppp-peer", peer, "-v")
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			data, _ := os.ReadFile(logf.Name())
			if len(data) > 20000 {
				data = data[len(data)-20000:]
			}
			t.Logf("modemsim log (tail):\n%s", data)
		}
	})
	for range 100 {
		if _, err := os.Stat(sock); err == nil {
			return sock
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("modemsim did not create its socket")
	return ""
}
