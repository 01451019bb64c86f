package gateway_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"edgebox/internal/config"
)

// An uplink address that comes up after the gateway started (the WAN's
// DHCP lease after a reboot, LTE minutes later) is offered to browsers:
// pion's interface list was read once at the gateway's start, so a box
// without a public address (full ICE) offered no candidate there and
// every browser call failed until the gateway restarted (the field day's
// call after a reboot from the UI: ICE restarts, then "browser
// connection failed").
func TestAddressAfterStartIsOffered(t *testing.T) {
	t.Parallel()
	rig := newNetnsRig(t, "icelate")
	box, inet := rig.ns("box"), rig.ns("inet")
	rig.link(box, "wan0", "10.79.22.2/24", inet, "wan", "10.79.22.1/24")
	rig.ip("-n", inet, "addr", "add", "203.0.113.5/32", "dev", "lo")
	// the box's address goes before its gateway starts; the helper adds
	// it back once the gateway runs
	rig.ip("-n", box, "addr", "del", "10.79.22.2/24", "dev", "wan0")
	cmd := exec.Command("ip", "netns", "exec", box, os.Args[0], "-test.run", "^TestHelperAddressAfterStart$", "-test.v")
	cmd.Env = append(os.Environ(), "EDGEBOX_ICELATE_NS="+inet)
	out, err := runBounded(cmd, 120*time.Second)
	if err != nil || !strings.Contains(out, "--- PASS: TestHelperAddressAfterStart") {
		t.Fatalf("the call in the box's namespace: %v\n%s", err, out)
	}
}

// TestHelperAddressAfterStart is the process TestAddressAfterStartIsOffered
// starts in the box's namespace.
func TestHelperAddressAfterStart(t *testing.T) {
	inet := os.Getenv("EDGEBOX_ICELATE_NS")
	if inet == "" {
		t.Skip("helper process of TestAddressAfterStartIsOffered")
	}
	uas := startSIPp(t, "uas_echo", 1)
	cfg := testConfig(t, uas.addr())
	cfg.Media.PublicAddress, cfg.Media.ICEAddress = "", "" // full ICE on every address
	cfg.Media.Stack = config.StackPion
	_, port, _ := net.SplitHostPort(cfg.Portal.Listen)
	cfg.Portal.Listen = "0.0.0.0:" + port
	cfg.Portal.PlainHTTP = false
	svc := startGateway(t, cfg)
	for _, args := range [][]string{
		{"addr", "add", "10.79.22.2/24", "dev", "wan0"},
		{"route", "add", "default", "via", "10.79.22.1"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	time.Sleep(1500 * time.Millisecond) // longer than the list's freshness bound
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	internetCallConnects(t, ctx, svc, inet, "10.79.22.2:"+port)
}
