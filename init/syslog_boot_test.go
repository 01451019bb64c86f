package main

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// At boot init sets the syslog target before netctl has brought an uplink
// or the VPN up: the target has no route and its name does not resolve.
// Forwarding must start once it is reachable, with the lines kept from
// before (the boot's), instead of staying off until the next config
// change. The QEMU test TestQEMURemoteSyslogAfterReboot proves it in the
// image; here the lookup fails until the "network" comes up.
func TestRemoteLogReachedAfterBoot(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var up atomic.Bool
	r := newRemoteLog("edgebox-boot")
	r.resolve = func(_ context.Context, target string) (*net.UDPAddr, error) {
		if !up.Load() {
			return nil, errors.New("dial udp 10.8.0.1:514: connect: network is unreachable")
		}
		return pc.LocalAddr().(*net.UDPAddr), nil
	}
	if err := r.SetTarget("logs.example.net:514"); err != nil {
		t.Fatalf("a target not reachable yet is refused: %v", err)
	}
	r.Line("netctl", "level=INFO msg=\"boot line\"")
	time.Sleep(200 * time.Millisecond) // the first try fails: no route yet
	up.Store(true)
	r.Line("gateway", "level=INFO msg=\"after the uplink\"")
	var got []string
	buf := make([]byte, 2048)
	for len(got) < 2 {
		pc.SetReadDeadline(time.Now().Add(3 * redial))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("after the target became reachable the collector got %d lines %q: %v", len(got), got, err)
		}
		got = append(got, string(buf[:n]))
	}
	if !strings.Contains(got[0], "boot line") || !strings.Contains(got[1], "after the uplink") {
		t.Fatalf("lines arrived as %q: want the boot's line first, then the later one", got)
	}
	if err := r.SetTarget("no-port-here"); err == nil {
		t.Fatal("a target that is not host:port is accepted")
	}
}
