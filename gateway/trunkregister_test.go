package gateway_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
)

// Registrars' answers a real PBX gives besides 200 and 401, from SIPp as
// the registrar (testdata/sipp/uas_register_*.xml).

// A registrar with a minimum lifetime (Asterisk's minexpiry, Kamailio's
// min_expires with min_expires_mode) answers 423 Interval Too Brief with
// Min-Expires. Before, the box showed "failed: ... 423" and asked for its
// 300 s again every few minutes, never registered. Now it asks for the
// minimum, and its refresh follows the lifetime granted to its own
// Contact, not the short one of another device listed in the same 200.
func TestTrunkRegisterIntervalTooBrief(t *testing.T) {
	t.Parallel()
	pbx := startSIPp(t, "uas_register_423", 1)
	cfg := testConfig(t, pbx.addr())
	cfg.Trunk.Register, cfg.Trunk.Username, cfg.Trunk.Password = true, "trunkuser", "trunk-secret"
	cfg.Trunk.RegisterExpiresSec = 300
	svc := startGateway(t, cfg)
	got := waitRegistration(t, localStatus(svc))
	if got != "registered" {
		t.Fatalf("registration after a 423 with Min-Expires: %q, want registered\n%s", got, pbx.traces())
	}
	// granted 3600 s to the box's Contact; other devices' 5 s, 7 s and
	// 120 s are theirs
	if left := time.Until(svc.Status().RegisteredUntil); left < 3000*time.Second || left > 3600*time.Second {
		t.Errorf("registered for %v more, want the 3600 s granted to the box's own Contact", left.Round(time.Second))
	}
	svc.Close() // removes the binding (Expires: 0), the scenario's last step
	pbx.wait(t, 15*time.Second)
}

// A registrar that is overloaded or starting answers 503 with
// Retry-After. Before, the box asked again after 5, 10, 20 s ... (its own
// backoff), adding to the load of a PBX that said when to come back; now
// it waits as asked and the status says until when.
func TestTrunkRegisterRetryAfter(t *testing.T) {
	t.Parallel()
	pbx := startSIPp(t, "uas_register_503", 1)
	cfg := testConfig(t, pbx.addr())
	cfg.Trunk.Register, cfg.Trunk.Username, cfg.Trunk.Password = true, "trunkuser", "trunk-secret"
	svc := startGateway(t, cfg)
	got := waitRegistration(t, localStatus(svc))
	wantTrunkCheck(t, got, gateway.TrunkFailed, "503", "asked the box to wait 3600 s", "next attempt at")
	// the scenario fails on a second REGISTER within 12 s (the old backoff
	// sent one after 5 s)
	pbx.wait(t, 30*time.Second)
}

// A registrar that redirects REGISTER (302 to another server, 305 Use
// Proxy) is not followed: the PBX address is also the only source the box
// takes calls from. The status names where the PBX points.
func TestTrunkRegisterRedirectSaysWhere(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"302 Moved Temporarily", "305 Use Proxy"} {
		t.Run(code[:3], func(t *testing.T) {
			t.Parallel()
			pbx := startSIPp(t, redirectScenario(t, code), 1)
			cfg := testConfig(t, pbx.addr())
			cfg.Trunk.Register, cfg.Trunk.Username, cfg.Trunk.Password = true, "trunkuser", "trunk-secret"
			got := waitRegistration(t, localStatus(startGateway(t, cfg)))
			wantTrunkCheck(t, got, gateway.TrunkFailed, code, "sip:pbx2.example.net:5080", "enter that server as the PBX address")
			pbx.wait(t, 15*time.Second)
		})
	}
}

// redirectScenario writes a SIPp registrar answering REGISTER with code.
func redirectScenario(t *testing.T, code string) string {
	t.Helper()
	xml := fmt.Sprintf(`<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="registrar redirect">
  <recv request="REGISTER"/>
  <send><![CDATA[

      SIP/2.0 %s
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:pbx2.example.net:5080>
      Content-Length: 0

    ]]>
  </send>
</scenario>
`, code)
	p := filepath.Join(t.TempDir(), "uas_register_"+strings.Fields(code)[0]+".xml")
	if err := os.WriteFile(p, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
