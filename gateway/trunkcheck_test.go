package gateway_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/testenv"
)

// waitRegistration waits (bounded) until status's registration leaves
// "registering" and returns it.
func waitRegistration(t *testing.T, status func() (gateway.Status, error)) string {
	t.Helper()
	var reg string
	testenv.WaitFor(t, 60*time.Second, "registration decided", func() (bool, error) {
		st, err := status()
		reg = st.Registration
		return err == nil && reg != "registering" && reg != "", fmt.Errorf("registration still %q (%v)", reg, err)
	})
	return reg
}

func wantTrunkCheck(t *testing.T, got, kind string, words ...string) {
	t.Helper()
	if !strings.HasPrefix(got, kind+": ") {
		t.Errorf("trunk check %q, want kind %q", got, kind)
	}
	for _, w := range words {
		if !strings.Contains(got, w) {
			t.Errorf("trunk check %q does not say %q", got, w)
		}
	}
	for _, jargon := range []string{"context deadline exceeded", "i/o timeout", "dial udp", "read udp"} {
		if strings.Contains(got, jargon) {
			t.Errorf("trunk check %q shows Go's words %q", got, jargon)
		}
	}
}

func localStatus(svc *gateway.Service) func() (gateway.Status, error) {
	return func() (gateway.Status, error) { return svc.Status(), nil }
}

// TestTrunkCheckSaysWhy: each way a trunk registration fails is told apart
// in words: the box's own address, a closed port, a silent address and a
// wrong password (at Kamailio). The issue: the box REGISTERed to its own
// SIP port and then blamed the password.
func TestTrunkCheckSaysWhy(t *testing.T) {
	t.Parallel()
	t.Run("the box itself", func(t *testing.T) {
		t.Parallel()
		cfg := testConfig(t, "")
		cfg.PBX.Address = cfg.SIP.Listen[0].Address
		cfg.Trunk.Register, cfg.Trunk.Username, cfg.Trunk.Password = true, "trunkuser", "trunk-secret"
		got := waitRegistration(t, localStatus(startGateway(t, cfg)))
		wantTrunkCheck(t, got, gateway.TrunkSelf, cfg.PBX.Address, "is this box itself", "its own SIP port")
	})
	t.Run("closed port", func(t *testing.T) {
		t.Parallel()
		port := freePort(t, "udp")
		cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", port))
		cfg.Trunk.Register, cfg.Trunk.Username, cfg.Trunk.Password = true, "trunkuser", "trunk-secret"
		got := waitRegistration(t, localStatus(startGateway(t, cfg)))
		wantTrunkCheck(t, got, gateway.TrunkRefused, fmt.Sprintf("127.0.0.1:%d", port), "port is closed", "this box itself")
	})
	t.Run("silent address", func(t *testing.T) {
		t.Parallel()
		hole, err := net.ListenPacket("udp", "127.0.0.1:0") // reads, never answers
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { hole.Close() })
		go func() {
			buf := make([]byte, 2048)
			for {
				if _, _, err := hole.ReadFrom(buf); err != nil {
					return
				}
			}
		}()
		cfg := testConfig(t, hole.LocalAddr().String())
		cfg.Trunk.Register, cfg.Trunk.Username, cfg.Trunk.Password = true, "trunkuser", "trunk-secret"
		got := waitRegistration(t, localStatus(startGateway(t, cfg)))
		wantTrunkCheck(t, got, gateway.TrunkTimeout, hole.LocalAddr().String(), "no answer", "firewall")
	})
	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		kam := startKamailio(t)
		cfg := testConfig(t, kam.Addr())
		cfg.Trunk.Register, cfg.Trunk.Username, cfg.Trunk.Password = true, "trunkuser", "not-the-password"
		got := waitRegistration(t, localStatus(startGateway(t, cfg)))
		wantTrunkCheck(t, got, gateway.TrunkRejected, "trunkuser", "password", kam.Addr())
	})
	t.Run("right password", func(t *testing.T) {
		t.Parallel()
		kam := startKamailio(t)
		cfg := testConfig(t, kam.Addr())
		cfg.Trunk.Register, cfg.Trunk.Username, cfg.Trunk.Password = true, "trunkuser", "trunk-secret"
		if got := waitRegistration(t, localStatus(startGateway(t, cfg))); got != "registered" {
			t.Errorf("registration with the right password: %q", got)
		}
	})
}

// TestTrunkCheckUnreachableAndDefaultPort: in a namespace of its own, a
// PBX behind no route is "unreachable", and a PBX address without a port
// is tried at 5060.
func TestTrunkCheckUnreachableAndDefaultPort(t *testing.T) {
	t.Parallel()
	rig := newNetnsRig(t, "trunk")
	box := rig.ns("box")
	rig.ip("-n", box, "route", "add", "unreachable", "10.99.0.0/16")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, tc := range []struct {
		pbx, kind string
		words     []string
	}{
		{"10.99.0.1", gateway.TrunkUnreachable, []string{"10.99.0.1:5060", "unreachable"}},
		{"127.0.0.3", gateway.TrunkRefused, []string{"127.0.0.3:5060", "port is closed"}},
	} {
		cfg := testConfig(t, tc.pbx)
		cfg.Trunk.Register, cfg.Trunk.Username, cfg.Trunk.Password = true, "trunkuser", "trunk-secret"
		api := startGatewayIn(t, box, cfg)
		got := waitRegistration(t, func() (gateway.Status, error) { return api.Status(ctx) })
		wantTrunkCheck(t, got, tc.kind, tc.words...)
	}
}
