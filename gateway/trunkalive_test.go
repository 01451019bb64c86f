package gateway_test

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/testenv"

	"github.com/emiago/sipgo/sip"
)

// A real Kamailio (registrations in memory only, as a PBX without a
// database) is restarted while the box is registered for 300 s. Before the
// keepalive, the box said "registered" and the PBX knew nothing of it until
// the refresh four minutes later: every call to the box failed meanwhile.
// Not parallel: it sets the package's keepalive interval.
func TestTrunkReregistersAfterPBXRestart(t *testing.T) {
	defer gateway.SetTrunkKeepalive(time.Second)()
	opts := testenv.KamailioOptions{Users: pbxUsers, MaxExpires: 300}
	kam := testenv.Kamailio(t, nil, opts)
	opts.Port = kam.Port

	cfg := testConfig(t, kam.Addr())
	cfg.Trunk.Username, cfg.Trunk.Password = "trunkuser", "trunk-secret"
	cfg.Trunk.Register = true
	cfg.Trunk.RegisterExpiresSec = 300
	svc := startGateway(t, cfg)
	waitRegistration := func(what string) {
		t.Helper()
		testenv.WaitFor(t, 15*time.Second, what, func() (bool, error) {
			st := svc.Status().Registration
			return st == "registered", fmt.Errorf("registration %q", st)
		})
	}
	waitRegistration("trunk registered")

	t.Run("restarted at once", func(t *testing.T) {
		kam.Proc.Stop(2 * time.Second)
		kam = testenv.Kamailio(t, nil, opts)
		testenv.WaitFor(t, 15*time.Second, "the box registered at the restarted PBX", func() (bool, error) {
			return kam.Count(testenv.KamailioRegistered+"trunkuser") > 0, nil
		})
		waitRegistration("registered again")
		// a lookup failure is the 404 path; none means the keepalive fell in the gap
		t.Logf("keepalives the restarted PBX answered 404: %d", kam.Count("TEST-LOOKUP-FAILED"))
	})

	t.Run("down for a while", func(t *testing.T) {
		kam.Proc.Kill()
		// the status tells the truth while the PBX is away
		testenv.WaitFor(t, 15*time.Second, "the status says the PBX stopped answering", func() (bool, error) {
			st := svc.Status().Registration
			return strings.HasPrefix(st, gateway.TrunkTimeout+": ") && strings.Contains(st, "stopped answering"), fmt.Errorf("registration %q", st)
		})
		if v := metricValue(t, svc, "edgebox_gateway_trunk_registered"); v != "0" {
			t.Errorf("registered gauge = %q while the PBX is down, want 0", v)
		}
		kam = testenv.Kamailio(t, nil, opts)
		testenv.WaitFor(t, 15*time.Second, "the box registered at the PBX once it was back", func() (bool, error) {
			return kam.Count(testenv.KamailioRegistered+"trunkuser") > 0, nil
		})
		waitRegistration("registered again")
	})
}

// fakeRegistrar answers REGISTER with 200 and OPTIONS with optionsCode
// (0: not at all) on a UDP port of its own, counting REGISTERs.
func fakeRegistrar(t *testing.T, optionsCode int) (addr string, registers *atomic.Int32) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	registers = &atomic.Int32{}
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			msg, err := sip.ParseMessage(append([]byte(nil), buf[:n]...))
			req, ok := msg.(*sip.Request)
			if err != nil || !ok {
				continue
			}
			code := 200
			switch req.Method {
			case sip.REGISTER:
				registers.Add(1)
			case sip.OPTIONS:
				code = optionsCode
			}
			if code == 0 {
				continue
			}
			res := sip.NewResponseFromRequest(req, code, "Test", nil)
			if req.Method == sip.REGISTER {
				res.AppendHeader(sip.NewHeader("Expires", "300"))
			}
			pc.WriteTo([]byte(res.String()), from)
		}
	}()
	return pc.LocalAddr().String(), registers
}

// PBXs that answer the keepalive in their own way must not make the box
// register over and over, nor show the trunk down: one that answers 404 to
// OPTIONS for a user that is no dialplan extension, even while registered
// (one re-registration, then only silence counts), and one that drops
// OPTIONS altogether. Not parallel: it sets the keepalive interval.
func TestTrunkKeepaliveOddPBXs(t *testing.T) {
	defer gateway.SetTrunkKeepalive(300 * time.Millisecond)()
	for _, c := range []struct {
		name       string
		optionsAns int
	}{{"404 always", 404}, {"OPTIONS dropped", 0}} {
		t.Run(c.name, func(t *testing.T) {
			addr, registers := fakeRegistrar(t, c.optionsAns)
			cfg := testConfig(t, addr)
			cfg.Trunk.Username, cfg.Trunk.Password = "trunkuser", "trunk-secret"
			cfg.Trunk.Register = true
			cfg.Trunk.RegisterExpiresSec = 300
			svc := startGateway(t, cfg)
			testenv.WaitFor(t, 10*time.Second, "registered", func() (bool, error) {
				st := svc.Status().Registration
				return st == "registered", fmt.Errorf("registration %q", st)
			})
			// 20 keepalives' time: watch what the status says meanwhile
			var shown []string
			end := time.Now().Add(6 * time.Second)
			for time.Now().Before(end) {
				if st := svc.Status().Registration; st != "registered" && !slices.Contains(shown, st) {
					shown = append(shown, st)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if n := registers.Load(); n > 2 {
				t.Errorf("%d REGISTERs in 6 s with keepalives every 300 ms, want at most 2 (one re-registration to learn the PBX's way)", n)
			}
			if c.optionsAns == 0 && len(shown) > 0 {
				t.Errorf("a PBX that never answers OPTIONS was shown as %q", shown)
			}
		})
	}
}
