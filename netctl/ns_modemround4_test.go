package netctl_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// Cards as the outside emulator's fourth round brings them.

// TestNamespaceModemSIMBusyAfterBoot: for seconds after boot the card
// answers everything that reads the SIM with +CME ERROR: 14 (SIM busy)
// while it initialises the SIM. netctl starts in that window: it must go
// online once the SIM is ready, and the status must show the SIM's IMSI
// and ICCID, which the identity read at start could not get.
func TestNamespaceModemSIMBusyAfterBoot(t *testing.T) {
	t.Parallel()
	for i, profile := range []string{"quectel-ec25", "huawei-me909s"} {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, fmt.Sprintf("sb%d", i))
			r.setCarrier("ltep", false)
			r.startDNSMasq("ltep", lteNet)
			sim := r.startModemsimArgs(profile, "")
			sim.control("simbusy 8000")
			r.writeConfig(modemConfig(sim.pty, profile))
			r.startNetctl()
			r.waitOnline("LTE up once the SIM was ready", 90*time.Second)
			r.waitFor("the SIM's identity in the status", 30*time.Second, func() (bool, string) {
				id := r.status().Modem.Identity
				return id != nil && id.IMSI == "262011234567890" && id.ICCID != "", fmt.Sprintf("%+v", id)
			})
		})
	}
}

// TestNamespaceModemDeniedWithCause: the network denies the card
// (+CEREG: 3) and gives EMM cause 13 (roaming not allowed in this tracking
// area). The status says so in words, with what to do, and the cause's
// number, not only 'denied'; once the network lets the card in, it goes
// online.
func TestNamespaceModemDeniedWithCause(t *testing.T) {
	t.Parallel()
	r := newRig(t, "dc")
	r.setCarrier("ltep", false)
	r.startDNSMasq("ltep", lteNet)
	sim := r.startModemsimArgs("quectel-ec25", "")
	sim.control("rejectcause 13")
	sim.control("detach 3")
	r.writeConfig(modemConfig(sim.pty, "quectel-ec25"))
	r.startNetctl()
	r.waitFor("the reject cause in words", 60*time.Second, func() (bool, string) {
		e := r.status().Modem.Error
		return strings.Contains(e, "roaming is not allowed here") && strings.Contains(e, "cause 13"), e
	})
	sim.control("attach")
	r.waitOnline("LTE up once the network let the card in", 90*time.Second)
}

// TestNamespaceModemLeaseGatewayOutsideSubnet: the card's DHCP server (the
// module's own, on its CDC Ethernet) hands a /30 whose gateway lies
// outside it (10.2.0.101/30, router 10.2.0.1), as some modules do. The
// default route goes via that gateway on the link (onlink) and the uplink
// becomes healthy, reaching the "internet" behind the carrier.
func TestNamespaceModemLeaseGatewayOutsideSubnet(t *testing.T) {
	t.Parallel()
	r := newRig(t, "go")
	r.setCarrier("ltep", false)
	// The carrier side holds an address in the /30 (dnsmasq serves only
	// subnets of its interface) besides the gateway's 10.2.0.1/24.
	run(t, "ip", "-n", r.inet, "addr", "add", lteNet+".102/30", "dev", "ltep")
	logb := &testenv.LogBuffer{}
	p := testenv.Command(t, "ip", "netns", "exec", r.inet, "/usr/sbin/dnsmasq", "--no-daemon", "--conf-file=/dev/null",
		"--port=0", "--no-resolv", "--no-hosts", "--bind-interfaces", "--interface=ltep", "--except-interface=lo",
		"--dhcp-range="+lteNet+".101,"+lteNet+".101,255.255.255.252,2m",
		"--dhcp-option=option:router,"+lteNet+".1",
		"--dhcp-option=option:dns-server,"+lteNet+".53",
		"--dhcp-leasefile="+filepath.Join(r.dir, "ltep.leases"),
		"--log-dhcp", "--log-facility=-", "--dhcp-authoritative")
	p.Cmd.Stdout, p.Cmd.Stderr = logb, logb
	p.Start()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dnsmasq log (tail):\n%s", testenv.Tail(logb.String(), 3000))
		}
	})
	sim := r.startModemsimArgs("huawei-me909s", "")
	r.writeConfig(modemConfig(sim.pty, "huawei-me909s"))
	r.startNetctl()
	r.waitOnline("LTE up with a /30 whose gateway is outside it", 90*time.Second)
	if a := uplink(r.status(), "modem").Address; !strings.HasPrefix(a, lteNet+".101/30") {
		t.Errorf("modem uplink address %q, want %s.101/30", a, lteNet)
	}
}

// TestNamespaceModemPUKLockedNeverTried: the SIM comes to the box blocked
// (three wrong PINs in a phone): +CPIN: SIM PUK. The status says so, with
// the PUK attempts left and what to do, and the box sends neither the
// configured PIN (which would be taken as a PUK attempt by some firmware)
// nor any PUK.
func TestNamespaceModemPUKLockedNeverTried(t *testing.T) {
	t.Parallel()
	r := newRig(t, "pk")
	r.setCarrier("ltep", false)
	r.startDNSMasq("ltep", lteNet)
	sim := r.startModemsimArgs("quectel-ec25", "1234")
	sim.control("puklock")
	cfg := modemConfig(sim.pty, "quectel-ec25")
	cfg["network"].(map[string]any)["modem"].(map[string]any)["pin"] = "1234"
	r.writeConfig(cfg)
	r.startNetctl()
	r.waitFor("the blocked SIM in words", 60*time.Second, func() (bool, string) {
		e := r.status().Modem.Error
		return strings.Contains(e, "PUK required, 10 PUK attempts left") && strings.Contains(e, "setup page"), e
	})
	time.Sleep(5 * time.Second) // a few more rounds of the SIM step
	var cmds []string
	if err := json.Unmarshal([]byte(sim.control("commands")), &cmds); err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		if strings.HasPrefix(strings.ToUpper(c), "AT+CPIN=") {
			t.Errorf("the box sent %q to a PUK-locked SIM", c)
		}
	}
}
