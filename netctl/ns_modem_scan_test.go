package netctl_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"edgebox/netctl"
)

// An installer runs AT+COPS=? (which operators does the card see) through
// the passthrough. A real scan takes 30 s to 3 minutes; the passthrough's
// default 10 s gave up on it and answered "context deadline exceeded",
// while the card went on scanning with the port busy. The scan here takes
// 12 s (modemsim scan).
func TestNamespaceModemNetworkScanThroughPassthrough(t *testing.T) {
	t.Parallel()
	r := newRig(t, "scan")
	sim := r.startOnline("LTE up", "quectel-ec25")
	sim.control("scan 12000")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	res, err := r.client.ATRequest(ctx, netctl.ATRequest{Command: "AT+COPS=?"})
	if err != nil {
		t.Fatalf("AT+COPS=? through the passthrough after %s: %v", time.Since(start).Round(time.Second), err)
	}
	if out := strings.Join(res.Lines, "\n"); !strings.Contains(out, "+COPS:") {
		t.Errorf("AT+COPS=? answered %q", out)
	}
	if _, err := r.client.AT(ctx, "AT+CSQ"); err != nil {
		t.Errorf("AT+CSQ after the scan: %v", err)
	}
}
