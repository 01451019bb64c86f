package gateway_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/testenv"
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
