package netctl_test

import (
	"os/exec"
	"testing"
)

// TestSec7ProbeAnswersPastVPNRoutedTarget: the uplinks drop a source the
// box routes through a VPN (TestSec7UplinkCannotForgeVPNSources), and a
// VPN may route the health target too (a pushed host route to a public
// DNS server, a pushed network holding the company's monitoring host).
// The health probes are bound to each uplink's device and still leave by
// it; their answers were dropped, and both uplinks were marked failed.
// An answer to what the box sent from the uplink's own address passes.
func TestSec7ProbeAnswersPastVPNRoutedTarget(t *testing.T) {
	t.Parallel()
	r := startFailoverRig(t, "s7p", baseConfig())
	// what a pushed "route <target> 255.255.255.255" does
	run(t, "ip", "-n", r.box, "tuntap", "add", "dev", "tun9", "mode", "tun")
	run(t, "ip", "-n", r.box, "addr", "add", "10.250.0.2/24", "dev", "tun9")
	run(t, "ip", "-n", r.box, "link", "set", "tun9", "up")
	run(t, "ip", "-n", r.box, "route", "add", internetIP+"/32", "via", "10.250.0.1", "dev", "tun9")
	for _, dev := range []string{"wan0", "lte0"} {
		// a probe as the box's: bound to the uplink's device (ping -I)
		// ping exits 0 once an answer came
		out, err := exec.Command("ip", "netns", "exec", r.box, "ping", "-n", "-I", dev, "-c", "3", "-i", "0.2", "-W", "5", internetIP).CombinedOutput()
		if err != nil {
			t.Errorf("a probe out of %s to %s (routed through the VPN too) got no answer: %v\n%s", dev, internetIP, err, out)
		}
	}
}
