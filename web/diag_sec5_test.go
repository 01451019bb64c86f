package web

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
)

// TestSec5InternetTestReachesOnlyTheInternet: the diagnostics' internet
// test (operate scope) fetched any https:// URL, host and port chosen by
// the caller, and said what answered: an operate token (a portal's or a
// script's, on the LAN) had the box open connections to its own loopback
// services and to hosts on the VPN, the admins' network the LAN may not
// reach, and learnt which ports answered (a port scanner, and blind GETs,
// past the firewall's forward rules). Below admin scope it now connects
// only to public addresses, checked at the connect itself (a name that
// resolves to a private address is refused too). Fifth review.
func TestSec5InternetTestReachesOnlyTheInternet(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	admin := e.bootstrap()
	var op NewTokenResponse
	e.want(nil, call{method: "POST", path: "/api/v1/tokens", bearer: admin, body: TokenRequest{Name: "script", Scope: ScopeOperate}}, 201, &op)

	l, err := net.Listen("tcp", "127.0.0.1:0") // a service of the box, or a host on the VPN
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	target := fmt.Sprintf("https://%s/", l.Addr())
	var res DiagResult
	e.want(nil, call{method: "POST", path: "/api/v1/diag", bearer: op.Token, body: DiagRequest{Tool: "internet", Target: target}}, 200, &res)
	if n := accepted.Load(); n != 0 {
		t.Errorf("an operate token's internet test connected to %s (%d connections): %q", target, n, res.Lines)
	}
	if !strings.Contains(strings.Join(res.Lines, " "), "not on the internet") {
		t.Errorf("operate token: %q, want a refusal that says the address is not on the internet", res.Lines)
	}
	// An admin may test any address (a proxy, an internal server).
	e.want(nil, call{method: "POST", path: "/api/v1/diag", bearer: admin, body: DiagRequest{Tool: "internet", Target: target}}, 200, &res)
	if accepted.Load() == 0 {
		t.Errorf("admin's internet test did not connect to %s: %q", target, res.Lines)
	}
}
