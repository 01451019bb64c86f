package netctl_test

import (
	"fmt"
	"testing"
	"time"
)

// TestNamespaceFirstWANTakesOverAtOnce (issue 23): at first boot LTE comes
// up before the wired WAN, whose DHCP server answers late. The WAN has
// never been up, so it takes over as soon as its probes answer, not after
// failback_after_sec (set to 10 minutes here so that the old behaviour
// cannot pass). A WAN that then loses its carrier and comes back is a
// possible flapper: it waits out the hold while LTE keeps the traffic.
func TestNamespaceFirstWANTakesOverAtOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t, "fu")
	r.startDNSMasq("ltep", lteNet)
	cfg := baseConfig()
	cfg["network"].(map[string]any)["health"].(map[string]any)["failback_after_sec"] = 600
	r.writeConfig(cfg)
	r.startNetctl()
	r.waitFor("LTE active, WAN without a lease", 40*time.Second, func() (bool, string) {
		st := r.status()
		return st.Active == "modem" && r.defaultRoute() == "lte0" && uplink(st, "wan").Address == "",
			fmt.Sprintf("active %q wan %+v", st.Active, uplink(st, "wan"))
	})

	// The WAN's DHCP server starts late.
	r.startDNSMasq("wanp", wanNet)
	r.waitFor("WAN takes over without the failback hold", 120*time.Second, func() (bool, string) {
		st := r.status()
		return st.Active == "wan" && r.defaultRoute() == "wan0",
			fmt.Sprintf("active %q wan %s", st.Active, uplink(st, "wan").State)
	})

	// Now it flaps: cable out, cable in. It is healthy again but held.
	r.setCarrier("wanp", false)
	r.waitFor("LTE active after the carrier loss", 10*time.Second, func() (bool, string) {
		st := r.status()
		return st.Active == "modem", fmt.Sprintf("active %q", st.Active)
	})
	r.setCarrier("wanp", true)
	r.waitFor("WAN healthy again", 60*time.Second, func() (bool, string) {
		st := r.status()
		return uplink(st, "wan").State == "healthy", fmt.Sprintf("wan %s", uplink(st, "wan").State)
	})
	// Healthy and confirmed, and still not active over several probe
	// rounds: the hold (600s) protects against a flapping WAN.
	for i := 0; i < 30; i++ {
		if st := r.status(); st.Active != "modem" {
			t.Fatalf("a WAN that just flapped took over at once (active %q)", st.Active)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
