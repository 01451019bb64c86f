package main

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"edgebox/boards"
	"edgebox/internal/config"
	"edgebox/internal/testenv"
)

// TestBootFirewallCoversLateInterfaces: init loads the boot firewall while
// NIC drivers still load, so ports appear after it is in. The table must
// cover them by name from their first packet: a LAN port the profile names
// reaches the management ports (only those), the WAN and a port no one
// named reach nothing. In namespaces: the box's table is loaded first, the
// ports are made after it.
func TestBootFirewallCoversLateInterfaces(t *testing.T) {
	testenv.RequireRoot(t, "ip")
	box := testenv.NewNetns(t, testenv.UniqueName("fwb"))
	peer := testenv.NewNetns(t, testenv.UniqueName("fwp"))
	board := boards.Profile{Name: "test", NICs: []boards.NIC{{Role: "wan", Name: "ebw0"}, {Role: "lan1", Name: "ebl0"}}}
	n := config.DefaultNetwork() // lan1 at 192.168.1.1/24, management 22, 80, 443
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := box.Do(func() error {
		if bootLANNamed(n, board) {
			bootFirewall(n, board, quiet)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var ls []net.Listener
	for _, addr := range []string{"0.0.0.0:80", "0.0.0.0:8080"} {
		if err := box.Do(func() error {
			l, err := net.Listen("tcp4", addr)
			ls = append(ls, l)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, l := range ls {
			l.Close()
		}
	})
	for _, l := range ls {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}

	// The drivers register their ports after the table is in.
	box.Veth("ebl0", "192.168.1.1/24", peer, "pl0", "192.168.1.2/24")
	box.Veth("ebw0", "10.77.0.1/24", peer, "pw0", "10.77.0.2/24")
	box.Veth("eth9", "10.78.0.1/24", peer, "p9", "10.78.0.2/24")

	dial := func(addr string) error {
		return peer.Do(func() error {
			c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
	}
	if err := dial("192.168.1.1:80"); err != nil {
		t.Errorf("the late LAN port does not reach the setup page: %v", err)
	}
	for _, addr := range []string{"192.168.1.1:8080", "10.77.0.1:80", "10.78.0.1:80"} {
		err := dial(addr)
		var ne net.Error
		if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("%s from a port that appeared after the boot firewall: %v, want dropped (a timeout)", addr, err)
		}
	}
}

// TestClosedFirewallBeforePerm: the table init holds before /perm (the
// config unknown) lets nothing in on any port, not even the setup page on
// a LAN port: the LAN links come up under it.
func TestClosedFirewallBeforePerm(t *testing.T) {
	testenv.RequireRoot(t, "ip")
	box := testenv.NewNetns(t, testenv.UniqueName("fcb"))
	peer := testenv.NewNetns(t, testenv.UniqueName("fcp"))
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var in bool
	box.Do(func() error { in = closedFirewall(quiet); return nil })
	if !in {
		t.Fatal("closed firewall not loaded")
	}
	var l net.Listener
	if err := box.Do(func() (err error) { l, err = net.Listen("tcp4", "0.0.0.0:80"); return err }); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	box.Veth("eth0", "192.168.1.1/24", peer, "p0", "192.168.1.2/24")
	err := peer.Do(func() error {
		c, err := net.DialTimeout("tcp4", "192.168.1.1:80", 2*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("the setup page through the closed table: %v, want dropped", err)
	}
	// Loopback stays open (init's own /healthz probe, the services' APIs).
	if err := box.Do(func() error {
		c, err := net.DialTimeout("tcp4", "127.0.0.1:80", 2*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}); err != nil {
		t.Errorf("loopback under the closed table: %v", err)
	}
}
