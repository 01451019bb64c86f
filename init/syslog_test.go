package main

import (
	"edgebox/internal/supervise"
	"edgebox/internal/testenv"
	"net"
	"strings"
	"testing"
	"time"
)

func TestRemoteLogForwardsServiceLines(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	r := newRemoteLog("edgebox-abc123")
	r.Line("web", "not sent: no target yet")
	if err := r.SetTarget(pc.LocalAddr().String()); err != nil {
		t.Fatal(err)
	}
	r.Line("netctl", `level=ERROR msg="dhcp failed"`)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	got := string(buf[:n])
	if !strings.HasPrefix(got, "<27>1 ") || !strings.Contains(got, " edgebox-abc123 netctl - - [meta sequenceId=\"1\"] level=ERROR") {
		t.Fatalf("message %q", got)
	}
	if err := r.SetTarget("no-port-here"); err == nil {
		t.Fatal("bad target accepted")
	}
}

// The supervisor hands every output line to the forwarder.
func TestSupervisorForwardsToRemoteLog(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	r := newRemoteLog("box")
	r.SetTarget(pc.LocalAddr().String())
	logs := &testenv.LogBuffer{}
	opts := testOptions(logs)
	opts.Remote = r
	s, err := supervise.NewSupervisor([]supervise.Service{svc("web")}, opts)
	if err != nil {
		t.Fatal(err)
	}
	startRun(t, s)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); !strings.Contains(got, " box web - - [meta sequenceId=\"1\"] web ") {
		t.Fatalf("message %q", got)
	}
}

// A line too long for a datagram is dropped and told, not retried for
// ever ahead of every later line.
func TestRemoteLogUDPLineTooLong(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	r := newRemoteLog("box")
	defer r.Close(0)
	if err := r.SetTarget(pc.LocalAddr().String()); err != nil {
		t.Fatal(err)
	}
	r.Line("gateway", strings.Repeat("x", 70000))
	r.Line("gateway", "after the long one")
	var got []string
	buf := make([]byte, 2048)
	for len(got) < 2 {
		pc.SetReadDeadline(time.Now().Add(3 * redial))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("got %q: %v", got, err)
		}
		got = append(got, string(buf[:n]))
	}
	if !strings.Contains(got[0], "dropped=1") || !strings.HasSuffix(got[1], "after the long one") {
		t.Fatalf("got %q: want the drop told, then the next line", got)
	}
}
