package image

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"edgebox/internal/sysapi"
	"edgebox/internal/testenv"
)

// These tests boot the real disk image that `make test` built (it sets
// EDGEBOX_IMAGE_DIR) under QEMU/SeaBIOS from -drive, like an APU boots
// from its SD card.

func builtImage(t testing.TB) string {
	dir := os.Getenv("EDGEBOX_IMAGE_DIR")
	if dir == "" {
		t.Skip("EDGEBOX_IMAGE_DIR not set: run through `make test`, which builds the image first")
	}
	img := filepath.Join(dir, "edgebox.img")
	if _, err := os.Stat(img); err != nil {
		t.Fatalf("no disk image: %v", err)
	}
	return img
}

// diskCopy gives each test its own sparse copy of the image, optionally with
// extra kernel arguments on slot A.
func diskCopy(t testing.TB, img, extra string) string {
	dst := filepath.Join(t.TempDir(), "edgebox.img")
	if out, err := exec.Command("cp", "--sparse=always", img, dst).CombinedOutput(); err != nil {
		t.Fatalf("copy image: %v %s", err, out)
	}
	if extra != "" {
		if err := SetCmdline(context.Background(), dst, "A", extra); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

type box struct {
	t     testing.TB
	vm    *VM
	http  string
	https string // the API refuses plain HTTP beyond /healthz

	clientOnce sync.Once
	httpc      *http.Client
}

func bootBox(t testing.TB, disk string, noReboot bool) *box {
	return bootBoxWithModem(t, disk, noReboot, "")
}

// startTestModemsim runs the modem simulator on a unix socket for QEMU's
// usb-serial chardev, as `make run` does.
func startTestModemsim(t testing.TB, profile string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "modemsim")
	if out, err := exec.Command("go", "build", "-o", bin, "edgebox/cmd/modemsim").CombinedOutput(); err != nil {
		t.Fatalf("build modemsim: %v\n%s", err, out)
	}
	sock := filepath.Join(dir, "modem.sock")
	cmd := exec.Command(bin, "--profile", profile, "--listen", sock)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for range 100 {
		if _, err := os.Stat(sock); err == nil {
			return sock
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("modemsim did not create its socket")
	return ""
}

func bootBoxWithModem(t testing.TB, disk string, noReboot bool, modemSock string) *box {
	t.Helper()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "console.log")
	tlsPort, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	vm, err := StartVM(VMOptions{Disk: disk, HTTPPort: port, HTTPSPort: tlsPort, NoReboot: noReboot, ConsoleLog: logPath, ModemSocket: modemSock,
		ICount: os.Getenv("EDGEBOX_BENCH_ICOUNT")})
	if err != nil {
		t.Fatal(err)
	}
	b := &box{t: t, vm: vm, http: fmt.Sprintf("http://127.0.0.1:%d", port), https: fmt.Sprintf("https://127.0.0.1:%d", tlsPort)}
	t.Cleanup(func() {
		if !vm.Exited() {
			vm.Kill()
		}
		if t.Failed() {
			t.Logf("serial console:\n%s", vm.Console())
		}
	})
	return b
}

type health struct {
	OK       bool   `json:"ok"`
	Board    string `json:"board"`
	Version  string `json:"version"`
	Services []struct {
		Name     string `json:"name"`
		State    string `json:"state"`
		PID      int    `json:"pid"`
		Restarts int    `json:"restarts"`
	} `json:"services"`
	Init string `json:"init_error"` // why init could not be asked
}

// client reaches the box's HTTPS API (plain HTTP serves only /healthz).
// The certificate is the box's own self-signed one, on loopback. One
// client per box: a new transport per request left each connection open
// (idle) for 90 s, and a test polling every second reached the web's cap
// of 64 connections per address, which closed the next ones (EOF).
func (b *box) client() *http.Client {
	b.clientOnce.Do(func() {
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, IdleConnTimeout: 30 * time.Second}
		b.httpc = &http.Client{Timeout: 10 * time.Second, Transport: tr}
		if b.t != nil {
			b.t.Cleanup(tr.CloseIdleConnections)
		}
	})
	return b.httpc
}

func (b *box) call(method, path, token string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, b.https+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := b.client().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %v: %s", method, path, err, data)
		}
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, data)
	}
	return resp.StatusCode, nil
}

// waitHealthy polls /healthz through QEMU's host forward until every
// service runs, and returns the answer and how long it took.
func (b *box) waitHealthy(timeout time.Duration) (health, time.Duration) {
	b.t.Helper()
	start := time.Now()
	var h health
	if err := testenv.UntilEvery(timeout, 500*time.Millisecond, "box healthy", func() (bool, error) {
		h = health{}
		_, err := b.call("GET", "/healthz", "", nil, &h)
		if err == nil && h.OK && len(h.Services) > 0 {
			return true, nil
		}
		if b.vm.Exited() {
			return false, testenv.Final(fmt.Errorf("the VM exited; last answer: %v %+v", err, h))
		}
		return false, fmt.Errorf("last answer: %v %+v", err, h)
	}); err != nil {
		b.t.Fatal(err)
	}
	return h, time.Since(start)
}

func (b *box) service(name string) (state string, pid, restarts int) {
	var h health
	if _, err := b.call("GET", "/healthz", "", nil, &h); err != nil {
		return "", 0, 0
	}
	for _, s := range h.Services {
		if s.Name == name {
			return s.State, s.PID, s.Restarts
		}
	}
	return "", 0, 0
}

func TestQEMUBootSuperviseAndPowerOff(t *testing.T) {
	parallelQEMU(t)
	disk := diskCopy(t, builtImage(t), "")
	b := bootBoxWithModem(t, disk, false, startTestModemsim(t, "huawei-me909s"))
	vm := b.vm
	off, err := vm.WaitConsole("edgebox init ", 0, 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"board detected", "kernel modules loaded", "created a new perm filesystem",
		"hardware watchdog armed", "up on qemu as edgebox-"} {
		if _, err := vm.WaitConsole(want, off, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	h, took := b.waitHealthy(3 * time.Minute)
	t.Logf("healthy %v after init's banner: board %s version %s", took.Round(time.Millisecond), h.Board, h.Version)
	// However early the boot starts the services, the boot firewall and
	// /perm come first: no service (nothing that listens on a network
	// port) runs before the firewall, nor on settings not yet read.
	con := vm.Console()[off:]
	fw, perm, started := strings.Index(con, "boot firewall loaded"), strings.Index(con, "/perm mounted"), strings.Index(con, `msg="service started"`)
	if fw < 0 || perm < 0 || started < 0 || fw > started || perm > started {
		t.Errorf("boot order: firewall at %d, /perm at %d, first service started at %d (console offsets)", fw, perm, started)
	}
	// The closed table goes in as soon as nftables is, before the LAN
	// links come up while /perm is checked.
	if strings.Contains(con, "closed firewall NOT loaded") {
		t.Error("the closed boot firewall was not loaded")
	}
	if h.Board != "qemu" {
		t.Errorf("board %q", h.Board)
	}
	want := map[string]bool{"netctl": false, "web": false, "gateway": false}
	for _, s := range h.Services {
		if s.State != "running" {
			t.Errorf("service %s is %s", s.Name, s.State)
		}
		want[s.Name] = true
	}
	for name, seen := range want {
		if !seen {
			t.Errorf("service %s not supervised", name)
		}
	}

	// First boot: set the admin password, get an API token.
	if _, err := b.call("POST", "/api/v1/setup", "", map[string]string{"password": "installer-secret-1"}, nil); err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Token string `json:"token"`
	}
	// The API hands out read-only tokens unless asked for admin.
	req, _ := http.NewRequest("POST", b.https+"/api/v1/tokens", strings.NewReader(`{"name":"test","scope":"admin"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("admin", "installer-secret-1")
	resp, err := b.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.Token == "" {
		t.Fatalf("no token: %s", resp.Status)
	}
	if code, _ := b.call("GET", "/api/v1/services", "wrong-token", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("services with a wrong token: %d", code)
	}

	// The installer's step: set the APN; netctl applies it live, dials the
	// simulated ME909s (^NDISDUP) and the LTE uplink (usb-net, DHCP from
	// QEMU) becomes the default route.
	if _, err := b.call("POST", "/api/v1/config/set", tok.Token, map[string]any{
		"settings": map[string]any{"network.modem.apn": "internet"}}, nil); err != nil {
		t.Fatal(err)
	}
	var net struct {
		Active string `json:"active"`
		Modem  *struct {
			State    string `json:"state"`
			Error    string `json:"error"`
			Identity *struct {
				Model string `json:"model"`
			} `json:"identity"`
			Registration *struct {
				State    string `json:"state"`
				Operator string `json:"operator"`
			} `json:"registration"`
		} `json:"modem"`
	}
	if err := testenv.UntilEvery(2*time.Minute, time.Second, "LTE up through the simulated modem", func() (bool, error) {
		b.call("GET", "/api/v1/local/netctl/v1/status", tok.Token, nil, &net)
		return net.Active == "modem" && net.Modem != nil && net.Modem.State == "connected", fmt.Errorf("network status %+v", net)
	}); err != nil {
		t.Fatal(err)
	}
	if net.Modem.Identity == nil || net.Modem.Identity.Model == "" || net.Modem.Registration == nil {
		t.Errorf("modem status incomplete: %+v", *net.Modem)
	}

	// The modem card is pulled out (its AT port and its data port leave
	// the USB bus) and put back: the box says it was removed (not that it
	// hangs and is being restarted), then finds it again and is online
	// over it without a reboot or a restart.
	for _, id := range []string{"modemat", "modemnet"} {
		if err := vm.Monitor("device_del " + id); err != nil {
			t.Fatal(err)
		}
	}
	if err := testenv.UntilEvery(time.Minute, time.Second, "the box says the modem was removed", func() (bool, error) {
		net.Active, net.Modem = "", nil
		b.call("GET", "/api/v1/local/netctl/v1/status", tok.Token, nil, &net)
		if net.Modem != nil && (net.Modem.State == "not-responding" || strings.Contains(net.Modem.Error, "restarting")) {
			return false, testenv.Final(fmt.Errorf("a pulled modem shown as hung: %+v", *net.Modem))
		}
		return net.Active != "modem" && net.Modem != nil && net.Modem.State == "absent" && net.Modem.Error == "modem removed (USB device gone)",
			fmt.Errorf("network status %+v %+v", net, net.Modem)
	}); err != nil {
		t.Error(err)
	}
	t.Logf("modem pulled out: the box says %q", fmt.Sprint(net.Modem))
	back := time.Now()
	for _, dev := range []string{modemATDevice, modemNetDevice} {
		if err := vm.Monitor("device_add " + dev); err != nil {
			t.Fatal(err)
		}
	}
	if err := testenv.UntilEvery(3*time.Minute, time.Second, "LTE up again after the modem was put back", func() (bool, error) {
		net.Active, net.Modem = "", nil
		b.call("GET", "/api/v1/local/netctl/v1/status", tok.Token, nil, &net)
		return net.Active == "modem" && net.Modem != nil && net.Modem.State == "connected", fmt.Errorf("network status %+v %+v", net, net.Modem)
	}); err != nil {
		t.Errorf("%v\nconsole (tail):\n%s", err, testenv.Tail(vm.Console(), 5000))
	}
	t.Logf("LTE up again %v after the modem was put back", time.Since(back).Round(time.Second))

	// Kill a service through the system API: init starts a new process.
	_, oldPID, oldRestarts := b.service("netctl")
	if _, err := b.call("POST", "/api/v1/services/netctl/restart", tok.Token, struct{}{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := testenv.UntilEvery(time.Minute, 300*time.Millisecond, "netctl restarted", func() (bool, error) {
		st, pid, restarts := b.service("netctl")
		return st == "running" && pid != 0 && pid != oldPID && restarts == oldRestarts+1,
			fmt.Errorf("%s pid %d (was %d) restarts %d", st, pid, oldPID, restarts)
	}); err != nil {
		t.Fatal(err)
	}
	var logs []struct {
		Text string `json:"text"`
	}
	if _, err := b.call("GET", "/api/v1/services/web/logs", tok.Token, nil, &logs); err != nil || len(logs) == 0 {
		t.Errorf("web logs: %v %d lines", err, len(logs))
	}

	// Power off through the API: services stop in order, /perm unmounted.
	mark := len(vm.Console())
	if _, err := b.call("POST", "/api/v1/system/poweroff", tok.Token, struct{}{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := vm.Wait(2 * time.Minute); err != nil {
		t.Fatalf("did not power off: %v", err)
	}
	tail := vm.Console()[mark:]
	for _, want := range []string{"shutdown requested", "/perm unmounted", "poweroff now"} {
		if !strings.Contains(tail, want) {
			t.Errorf("console after poweroff request lacks %q", want)
		}
	}
	// gateway depends on netctl: it must stop first.
	if g, n := strings.Index(tail, "service=gateway"), strings.LastIndex(tail, "service=netctl"); g < 0 || n < 0 || g > n {
		t.Errorf("stop order wrong (gateway at %d, netctl at %d)", g, n)
	}

	// Second boot of the same disk: /perm kept, admin password kept; the
	// ACPI power button powers the box off cleanly.
	b2 := bootBox(t, disk, false)
	if _, err := b2.vm.WaitConsole("/perm mounted", 0, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b2.vm.Console(), "created a new perm filesystem") {
		t.Fatal("/perm formatted again on second boot")
	}
	b2.waitHealthy(3 * time.Minute)
	if code, _ := b2.call("POST", "/api/v1/setup", "", map[string]string{"password": "someone-else-99"}, nil); code != http.StatusConflict {
		t.Errorf("setup on second boot: %d, want 409 (admin kept in /perm)", code)
	}
	mark = len(b2.vm.Console())
	if err := b2.vm.Monitor("system_powerdown"); err != nil {
		t.Fatal(err)
	}
	if err := b2.vm.Wait(2 * time.Minute); err != nil {
		t.Fatalf("power button: %v", err)
	}
	if tail := b2.vm.Console()[mark:]; !strings.Contains(tail, "/perm unmounted") {
		t.Errorf("power button shutdown not clean:\n%s", tail)
	}
}

func TestQEMUWatchdogResetsHungInit(t *testing.T) {
	parallelQEMU(t)
	disk := diskCopy(t, builtImage(t), "edgebox.debug.hang=3")
	b := bootBox(t, disk, true) // -no-reboot: the watchdog's reset ends QEMU
	if _, err := b.vm.WaitConsole("hanging init's main loop on purpose", 0, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := b.vm.Wait(3 * time.Minute); err != nil {
		t.Fatal("hung init was not reset by the watchdog")
	}
	t.Logf("watchdog reset the box %v after init hung", time.Since(start).Round(time.Second))
	if !strings.Contains(b.vm.Console(), "no longer petting the watchdog") {
		t.Error("init did not say it stopped petting")
	}
	if strings.Contains(b.vm.Console(), "poweroff now") {
		t.Error("box shut down instead of being reset")
	}
}

// A boot that hangs before the services start (a module, a disk, fsck)
// is reset by the watchdog too: it is armed as soon as its driver loads.
func TestQEMUWatchdogResetsHungBoot(t *testing.T) {
	parallelQEMU(t)
	disk := diskCopy(t, builtImage(t), "edgebox.debug.hang=boot edgebox.boot_deadline=10")
	b := bootBox(t, disk, true) // -no-reboot: the watchdog's reset ends QEMU
	if _, err := b.vm.WaitConsole("hanging the boot on purpose", 0, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := b.vm.Wait(3 * time.Minute); err != nil {
		t.Fatal("a hung boot was not reset by the watchdog")
	}
	t.Logf("watchdog reset the box %v after the boot hung", time.Since(start).Round(time.Second))
	if !strings.Contains(b.vm.Console(), "no longer petting the watchdog") {
		t.Error("init did not say it stopped petting")
	}
}

func TestQEMUBootsWithoutPerm(t *testing.T) {
	parallelQEMU(t)
	disk := diskCopy(t, builtImage(t), "")
	// Foreign data on the perm partition: init must not format it.
	f, err := os.OpenFile(disk, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("somebody's precious data"), (alignMiB+2*slotMiB)<<20+8192)
	f.Close()
	b := bootBox(t, disk, false)
	if _, err := b.vm.WaitConsole("running WITHOUT /perm", 0, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	b.waitHealthy(3 * time.Minute)
	b.vm.Monitor("system_powerdown")
	b.vm.Wait(2 * time.Minute)
	data := make([]byte, 64)
	f, _ = os.Open(disk)
	f.ReadAt(data, (alignMiB+2*slotMiB)<<20+8192)
	f.Close()
	if !bytes.HasPrefix(data, []byte("somebody's precious data")) {
		t.Fatal("perm partition data was overwritten")
	}
}

// BenchmarkBootToHealthz boots a fresh copy of the image twice: the first
// boot (it makes /perm) and, after a clean power-off, a later boot like
// every boot of a box in the field ("first-" metrics are the first). It
// reports seconds from QEMU start to the first healthy /healthz;
// milliseconds from the kernel handing over to /init to /healthz and to
// each boot phase init prints ("edgebox phase NAME +MSms": main, modules,
// perm, firewall, service-up-NAME, up); then, with the box idle, the
// memory of every service and of init as init reads it from /proc, and the
// size of kernel + initramfs. make bench prints them.
func BenchmarkBootToHealthz(b *testing.B) {
	img := builtImage(b)
	dir := filepath.Dir(img)
	var imageMB float64
	for _, f := range []string{"vmlinuz", "initramfs.cpio.gz"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			b.Fatal(err)
		}
		imageMB += float64(fi.Size()) / 1e6
	}
	sum := map[string]float64{}
	var mem idleMemory
	for i := 0; i < b.N; i++ {
		// EDGEBOX_BENCH_CMDLINE=loglevel=7 shows the kernel's side of a boot.
		disk := diskCopy(b, img, os.Getenv("EDGEBOX_BENCH_CMDLINE"))
		first, bx := timeBoot(b, disk)
		for k, v := range first {
			sum["first-"+k] += v
		}
		if err := bx.vm.Monitor("system_powerdown"); err != nil {
			b.Fatal(err)
		}
		if err := bx.vm.Wait(3 * time.Minute); err != nil {
			b.Fatalf("no clean power-off: %v", err)
		}
		later, bx := timeBoot(b, disk)
		for k, v := range later {
			sum[k] += v
		}
		if i == b.N-1 {
			mem = bx.idleMemory(10 * time.Second)
		}
		bx.vm.Kill()
	}
	names := make([]string, 0, len(sum))
	for name := range sum {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		b.ReportMetric(sum[name]/float64(b.N), name)
	}
	var rss, pss, anon int64
	for _, s := range mem.services {
		rss += s.RSSKB
		pss += s.PSSKB
		anon += s.AnonKB
		b.ReportMetric(float64(s.RSSKB)/1024, "MB-rss-"+s.Name)
	}
	b.ReportMetric(float64(rss)/1024, "MB-rss-services")
	b.ReportMetric(float64(pss)/1024, "MB-pss-services")
	// The rest of the RSS is the multi-call binary's pages, counted again
	// in every service (PSS shares them out).
	b.ReportMetric(float64(anon)/1024, "MB-anon-services")
	b.ReportMetric(float64(mem.initRSS)/1024, "MB-rss-init")
	b.ReportMetric(imageMB, "MB-kernel+initramfs")
}

// timeBoot boots disk and returns its figures, named as metrics: the boot
// phases in ms from the kernel's handover, ms-init-to-healthz and
// s-qemu-to-healthz.
func timeBoot(b *testing.B, disk string) (map[string]float64, *box) {
	b.Helper()
	start := time.Now()
	bx := bootBox(b, disk, false)
	if _, err := bx.vm.WaitConsole("edgebox init ", 0, 3*time.Minute); err != nil {
		b.Fatal(err)
	}
	initStart := time.Now()
	answered, healthy := bx.pollHealthy(3*time.Minute, 50*time.Millisecond)
	if _, err := bx.vm.WaitConsole(" up on qemu as ", 0, time.Minute); err != nil {
		b.Fatal(err)
	}
	// The box's own /healthz phase can come after the host's poll saw it
	// healthy (the console reaches the host later than the HTTP answer):
	// wait a little for it, so that ms-healthz is in every run's figures.
	bx.vm.WaitConsole(phasePrefix+"healthz ", 0, 30*time.Second)
	if f := os.Getenv("EDGEBOX_BENCH_CONSOLE"); f != "" { // to read a slow boot
		os.WriteFile(f, []byte(bx.vm.Console()), 0o644)
	}
	out := map[string]float64{}
	phases := bootPhases(bx.vm.Console())
	for name, ms := range phases {
		out["ms-"+name] = ms
	}
	// init prints its first line when main runs; "main" says how long
	// after the kernel's handover that was.
	out["ms-init-to-healthz"] = phases["main"] + float64(healthy.Sub(initStart).Milliseconds())
	// The API answering (init behind it), before every service is up.
	out["ms-init-to-healthz-answer"] = phases["main"] + float64(answered.Sub(initStart).Milliseconds())
	out["s-qemu-to-healthz"] = healthy.Sub(start).Seconds()
	return out, bx
}

// phasePrefix is what init prints before each boot phase (init/phase.go).
const phasePrefix = "edgebox phase "

var phaseLine = regexp.MustCompile(`(?m)^` + phasePrefix + `(\S+) \+(\d+)ms`)

// bootPhases reads init's phase lines from the console; the first of each
// name counts (a service restarting later prints its phase again).
func bootPhases(console string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range phaseLine.FindAllStringSubmatch(console, -1) {
		if _, seen := out[m[1]]; !seen {
			ms, _ := strconv.ParseFloat(m[2], 64)
			out[m[1]] = ms
		}
	}
	return out
}

// pollHealthy polls /healthz every interval and returns when it first
// answered with init's view of the services (answered), and when it first
// answered healthy: every service running (waitHealthy polls too slowly to
// time a boot). Each try gives up after a second, so that one connection
// QEMU's user-mode network holds while the guest's link comes up does not
// hide the answer.
func (b *box) pollHealthy(timeout, interval time.Duration) (answered, healthy time.Time) {
	b.t.Helper()
	c := &http.Client{Timeout: time.Second}
	var at time.Time
	// EDGEBOX_BENCH_TRACE=1 logs every try: when it started, how long it
	// took and what came back (to tell the guest's side from the client's).
	trace, polled := os.Getenv("EDGEBOX_BENCH_TRACE") != "", time.Now()
	if err := testenv.UntilEvery(timeout, interval, "box healthy", func() (bool, error) {
		if b.vm.Exited() {
			return false, testenv.Final(errors.New("the VM exited"))
		}
		var h health
		tried := time.Now()
		resp, err := c.Get(b.http + "/healthz")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
		}
		if trace {
			b.t.Logf("healthz try at +%v took %v: %v ok=%v services=%d init_error=%q", tried.Sub(polled).Round(time.Millisecond),
				time.Since(tried).Round(time.Millisecond), err, h.OK, len(h.Services), h.Init)
		}
		if err == nil && h.Init == "" && len(h.Services) > 0 && answered.IsZero() {
			answered = time.Now()
		}
		if err == nil && h.OK && len(h.Services) > 0 {
			at = time.Now()
			return true, nil
		}
		return false, fmt.Errorf("last answer: %v %+v", err, h)
	}); err != nil {
		b.t.Fatal(err)
	}
	return answered, at
}

type idleMemory struct {
	services []sysapi.Service
	initRSS  int64
}

// idleMemory lets the box settle, then asks init (through the web API,
// over HTTPS as the API requires) what each service and init itself use,
// as init reads it from /proc.
func (b *box) idleMemory(settle time.Duration) idleMemory {
	b.t.Helper()
	time.Sleep(settle) // a benchmark's idle period, not an assertion
	c := b.client()
	do := func(req *http.Request, out any) {
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			b.t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			b.t.Fatalf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, data)
		}
		if err := json.Unmarshal(data, out); err != nil {
			b.t.Fatalf("%s %s: %v: %s", req.Method, req.URL.Path, err, data)
		}
	}
	const pass = "bench-idle-memory-1"
	req, _ := http.NewRequest("POST", b.https+"/api/v1/setup", strings.NewReader(`{"password":"`+pass+`"}`))
	do(req, &map[string]any{})
	req, _ = http.NewRequest("POST", b.https+"/api/v1/tokens", strings.NewReader(`{"name":"bench","scope":"admin"}`))
	req.SetBasicAuth("admin", pass)
	var tok struct {
		Token string `json:"token"`
	}
	do(req, &tok)
	req, _ = http.NewRequest("GET", b.https+"/api/v1/system", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	var st sysapi.System
	do(req, &st)
	return idleMemory{services: st.Services, initRSS: st.InitRSSKB}
}
