package netctl_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"edgebox/netctl"
)

// TestNamespaceModemRoamingDeniedWithoutURC: roaming is denied and the
// card, connected at home, starts roaming without saying so (no
// registration URC while connected, as many cards): the box reads the
// registration while connected and hangs up. Before, only a URC ended
// the link, so such a card roamed (and billed) until the next redial.
func TestNamespaceModemRoamingDeniedWithoutURC(t *testing.T) {
	t.Parallel()
	r := newRig(t, "r6r")
	r.setCarrier("ltep", false)
	r.startDNSMasq("ltep", lteNet)
	sim := r.startModemsimArgs("quectel-ec25", "")
	sim.control("regurc off")
	cfg := modemConfig(sim.pty, "quectel-ec25")
	cfg["network"].(map[string]any)["modem"].(map[string]any)["roaming"] = "deny"
	r.writeConfig(cfg)
	r.startNetctl()
	r.waitOnline("LTE up at home", 90*time.Second)
	sim.control("reg roaming")
	r.waitFor("hung up on roaming without a URC", 60*time.Second, func() (bool, string) {
		m := r.status().Modem
		return m != nil && m.State == netctl.ModemRegistering && strings.Contains(m.Error, "roaming is denied"), m.State + ": " + m.Error
	})
	if n := countPrefix(sim.commands(), "AT+QNETDEVCTL=0"); n == 0 {
		t.Errorf("the link was not ended on the card (no AT+QNETDEVCTL=0)")
	}
}

// TestNamespaceModemStuckInFlightMode: after a firmware crash the card's
// radio is off (+CFUN: 4) and stays off whatever AT+CFUN=1 says (OK, and
// nothing happens) until the card restarts. The box sees the radio stay
// off, says so, restarts the card (reopen, then the vendor reset) and is
// online again by itself. Before, it sent AT+CFUN=1 every 6 s for ever,
// the status saying it turns the radio on again.
func TestNamespaceModemStuckInFlightMode(t *testing.T) {
	t.Parallel()
	r := newRig(t, "r6f")
	r.setCarrier("ltep", false)
	r.startDNSMasq("ltep", lteNet)
	sim := r.startModemsimArgs("quectel-ec25", "")
	r.writeConfig(modemConfig(sim.pty, "quectel-ec25"))
	r.startNetctl()
	r.waitOnline("LTE up", 90*time.Second)
	sim.control("cfunstuck on")
	sim.control("radio 4")
	r.waitFor("the stuck radio said", 60*time.Second, func() (bool, string) {
		m := r.status().Modem
		return m != nil && strings.Contains(m.Error, "radio stays off"), m.State + ": " + m.Error
	})
	r.waitOnline("LTE up again after the card's restart", 120*time.Second)
	if n := countPrefix(sim.commands(), "AT+CFUN=1,1"); n == 0 {
		t.Errorf("online again without the card's restart? commands: %q", sim.commands())
	}
}

// TestNamespaceModemLeaseWithoutDNS: the DHCP server on the modem's link
// gives an address and a router but no DNS server. The box uses the DNS
// servers the modem reports for its connection (Huawei ^DHCP). Before,
// resolv.conf named no server: no name resolved while the status showed
// the modem connected.
func TestNamespaceModemLeaseWithoutDNS(t *testing.T) {
	t.Parallel()
	r := newRig(t, "r6d")
	r.setCarrier("ltep", false)
	r.startDNSMasq("ltep", lteNet, "--dhcp-option=option:dns-server")
	sim := r.startModemsimArgs("huawei-me909s", "")
	r.writeConfig(modemConfig(sim.pty, "huawei-me909s"))
	r.startNetctl()
	r.waitOnline("LTE up", 90*time.Second)
	r.waitFor("the modem's DNS in resolv.conf", 30*time.Second, func() (bool, string) {
		b, _ := os.ReadFile(r.resolv)
		return strings.Contains(string(b), "nameserver 10.130.24.14"), string(b)
	})
	if b, _ := os.ReadFile(r.resolv); strings.Contains(string(b), lteNet+".53") {
		t.Errorf("the lease named a DNS server after all (the test's dnsmasq):\n%s", b)
	}
}
