package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/image"
	"edgebox/modem/modemsim"
)

// runDir is a make run output folder with its build/ socket directory.
func runDir(t *testing.T) (out, build string) {
	out = t.TempDir()
	build = filepath.Join(out, "build")
	if err := os.MkdirAll(build, 0o755); err != nil {
		t.Fatal(err)
	}
	return out, build
}

// The rehearsal commands make run prints reach the simulated modem: an
// SMS arrives, the data connection drops, the network goes; a wrong
// command is refused in words.
func TestCtlModem(t *testing.T) {
	out, build := runDir(t)
	sim, err := modemsim.New(modemsim.Config{Profile: "huawei-me909s", PIN: "1234"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	ln, err := net.Listen("unix", filepath.Join(build, image.ModemControlSocket))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sim.ServeControl(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	if !sim.State().SIMLocked {
		t.Fatal("the SIM is not PIN-locked")
	}
	var w bytes.Buffer
	if err := ctl([]string{"-out", out, "sms", "+4915112345678", "Hello", "from", "the", "network"}, &w); err != nil {
		t.Fatal(err)
	}
	if n := len(sim.State().SMS); n != 1 || !strings.HasPrefix(w.String(), "OK") {
		t.Errorf("after ctl sms: %d messages stored, printed %q", n, w.String())
	}
	if err := ctl([]string{"-out", out, "reg", "searching"}, &w); err != nil {
		t.Errorf("ctl reg searching: %v", err)
	}
	w.Reset()
	if err := ctl([]string{"-out", out, "help"}, &w); err != nil || !strings.Contains(w.String(), "drop") {
		t.Errorf("ctl help: %v %q", err, w.String())
	}
	if err := ctl([]string{"-out", out, "fly"}, &w); err == nil || !strings.Contains(err.Error(), "refused it: unknown control command") {
		t.Errorf("ctl fly: %v", err)
	}
	if err := ctl([]string{"-out", t.TempDir(), "drop"}, &w); err == nil || !strings.Contains(err.Error(), "is make run") {
		t.Errorf("ctl without make run: %v", err)
	}
}

// "wan off" pulls the cable of make run's WAN port through QEMU's monitor
// (a real QEMU, paused before its first instruction).
func TestCtlWAN(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	out, build := runDir(t)
	mon := filepath.Join(build, image.MonitorSocket)
	q := exec.Command("qemu-system-x86_64", "-M", "q35", "-accel", "tcg", "-S", "-nodefaults", "-display", "none",
		"-netdev", "user,id=wan,restrict=on", "-device", "virtio-net-pci,netdev=wan,id=wannic",
		"-chardev", "socket,id=ctlmon,path="+mon+",server=on,wait=off", "-mon", "chardev=ctlmon,mode=readline")
	if err := q.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Process.Kill(); q.Wait() })
	for i := 0; i < 300; i++ { // the socket appears once QEMU is up
		if _, err := os.Stat(mon); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var w bytes.Buffer
	for _, arg := range []string{"off", "on"} {
		if err := ctl([]string{"-out", out, "wan", arg}, &w); err != nil {
			t.Fatalf("wan %s: %v", arg, err)
		}
	}
	if w.String() != "OK\nOK\n" {
		t.Errorf("wan off, on printed %q", w.String())
	}
	// QEMU's own refusal comes back as an error (the answer is read).
	if err := monitorCommand(mon, "set_link nosuchnic off", &w); err == nil || !strings.Contains(err.Error(), "QEMU said") {
		t.Errorf("set_link of no NIC: %v", err)
	}
	if err := ctl([]string{"-out", out, "wan", "unplugged"}, &w); err == nil {
		t.Error("wan unplugged was taken")
	}
}
