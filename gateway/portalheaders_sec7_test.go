package gateway_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestSec7PortalHeadersBounded (seventh review): the portal is on the
// internet and took request headers up to net/http's default of 1 MiB.
// Headers are held in memory until they end (10 s at most), and with 1024
// connections open that was a gigabyte a fast wired uplink could fill
// before any API key was looked at. Now 64 KiB (a browser's cookies for
// the portal's domain fit): a larger header is refused with 431.
func TestSec7PortalHeadersBounded(t *testing.T) {
	svc := startGateway(t, testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t))))
	ask := func(pad int) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, portalBase(svc)+"/v1/calls", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Pad", strings.Repeat("a", pad))
		res, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := ask(512 << 10); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a 512 KiB header: %d, want 431", code)
	}
	if code := ask(32 << 10); code == http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a 32 KiB header (large cookies): %d, want it read", code)
	}
}
