package netctl_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"edgebox/netctl"
)

// TestNamespaceModemRoamingDenied: network.modem.roaming is deny and the
// card registers roaming (+CREG stat 5): the box does not dial and the
// status says why; back home it dials; roaming again (a URC while
// connected) hangs up; allowing roaming (a reload) dials while roaming.
// Before there was no such setting: a roaming card always dialled.
func TestNamespaceModemRoamingDenied(t *testing.T) {
	t.Parallel()
	r := newRig(t, "rd")
	r.setCarrier("ltep", false)
	r.startDNSMasq("ltep", lteNet)
	sim := r.startModemsimArgs("quectel-ec25", "")
	sim.control("reg roaming")
	cfg := modemConfig(sim.pty, "quectel-ec25")
	mc := cfg["network"].(map[string]any)["modem"].(map[string]any)
	mc["roaming"] = "deny"
	r.writeConfig(cfg)
	r.startNetctl()
	roamingWords := func() (bool, string) {
		m := r.status().Modem
		return m != nil && m.State == netctl.ModemRegistering && strings.Contains(m.Error, "roaming is denied"), m.State + ": " + m.Error
	}
	r.waitFor("roaming denied in the status", 60*time.Second, roamingWords)
	time.Sleep(4 * time.Second) // more rounds of the register step
	if n := strings.Count(strings.Join(sim.commands(), "\n"), "AT+QNETDEVCTL=1"); n != 0 {
		t.Errorf("dialled %d times while roaming with roaming denied", n)
	}
	sim.control("reg home")
	r.waitOnline("LTE up at home", 90*time.Second)
	sim.control("reg roaming")
	r.waitFor("hung up on roaming", 60*time.Second, roamingWords)
	mc["roaming"] = "allow"
	r.writeConfig(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.client.Post(ctx, "/v1/reload", struct{}{}, nil); err != nil {
		t.Fatal(err)
	}
	r.waitOnline("LTE up roaming once allowed", 90*time.Second)
}
