package openvpn

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// What a profile's routing and DNS lines do to the box, against a real
// openvpn 2.6 server.

// TestRedirectGatewayKeepsDefaultRoute: "redirect-gateway" without def1
// (older Access Server and DD-WRT profiles carry it) makes openvpn delete
// the main table's default route and put its own through the tunnel.
// netctl owns that route (it follows the uplink that is up) and would put
// it back on the next failover, cutting the tunnel's traffic. The import
// makes it "redirect-gateway def1", which takes the same traffic with two
// /1 routes and leaves the default route alone, and says so.
func TestRedirectGatewayKeepsDefaultRoute(t *testing.T) {
	tn := newTestNet(t)
	pki := newTestPKI(t)
	tc := staticKey(t)
	startServer(t, tn, pki, tc)
	// The box's uplink default route, as netctl sets it.
	mustRun(t, "ip", "netns", "exec", tn.cli, "ip", "route", "add", "default", "via", tn.srvIP)
	cert, key := pki.valid(t, "box-rg", false)
	m := newTestManager(t, tn, Options{})
	info, err := m.ImportWithCredentials(strings.NewReader(clientProfile(tn, pki, cert, key, tc, "redirect-gateway")), "office.ovpn", Credentials{})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	wantShown(t, info, `redirect-gateway def1`)
	runManager(t, m)
	m.SetUplink(true, "wan")
	waitStatus(t, m, 30*time.Second, "CONNECTED", connected)
	routes := mustRun(t, "ip", "netns", "exec", tn.cli, "ip", "-4", "route", "show")
	if !strings.Contains(routes, "default via "+tn.srvIP) {
		t.Errorf("the uplink's default route is gone:\n%s", routes)
	}
	for _, half := range []string{"0.0.0.0/1 via " + tn.tunNet, "128.0.0.0/1 via " + tn.tunNet} {
		if !strings.Contains(routes, half) {
			t.Errorf("no %q: the tunnel does not take all traffic:\n%s", half, routes)
		}
	}
}

// TestDNSOptionsNoted: dhcp-option DNS (and 2.6's dns) in a profile is
// kept; openvpn on Linux applies it only through a script, which the box
// does not run, so netctl uses it (split DNS, pushdns.go): the import says
// how.
func TestDNSOptionsNoted(t *testing.T) {
	for _, line := range []string{"dhcp-option DNS 10.200.0.53", "dhcp-option DOMAIN corp.example", "dns server 0 address 10.200.0.53"} {
		p, err := ParseProfile([]byte(base(line)), "corp.ovpn", nil)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if !bytes.Contains(p.Text, []byte(line)) {
			t.Errorf("%q not kept", line)
		}
		wantShown(t, p.Info, line, "the VPN's DNS servers for names in the VPN's domains")
	}
}

// TestPushedRedirectGatewayKeepsDefaultRoute: the server pushes
// "redirect-gateway" without def1 (OpenVPN 2.0-2.3 how-tos, DD-WRT's
// server page). The profile cannot be converted for that; openvpn is
// started with "redirect-private def1", whose def1 joins a pushed
// redirect-gateway, so the tunnel takes all traffic with two /1 routes and
// the box's default route stays netctl's. Without a push nothing is
// redirected.
func TestPushedRedirectGatewayKeepsDefaultRoute(t *testing.T) {
	for i, push := range []string{`push "redirect-gateway"`, `push "redirect-gateway bypass-dhcp"`, ""} {
		t.Run([]string{"plain", "bypass-dhcp", "none"}[i], func(t *testing.T) {
			tn := newTestNet(t)
			pki := newTestPKI(t)
			tc := staticKey(t)
			var extra []string
			if push != "" {
				extra = append(extra, push)
			}
			startServer(t, tn, pki, tc, extra...)
			mustRun(t, "ip", "netns", "exec", tn.cli, "ip", "route", "add", "default", "via", tn.srvIP)
			cert, key := pki.valid(t, "box-prg", false)
			m := newTestManager(t, tn, Options{})
			if _, err := m.ImportWithCredentials(strings.NewReader(clientProfile(tn, pki, cert, key, tc)), "office.ovpn", Credentials{}); err != nil {
				t.Fatalf("import: %v", err)
			}
			runManager(t, m)
			m.SetUplink(true, "wan")
			waitStatus(t, m, 30*time.Second, "CONNECTED", connected)
			routes := mustRun(t, "ip", "netns", "exec", tn.cli, "ip", "-4", "route", "show")
			if !strings.Contains(routes, "default via "+tn.srvIP) {
				t.Errorf("the uplink's default route is gone:\n%s", routes)
			}
			redirected := strings.Contains(routes, "0.0.0.0/1 via "+tn.tunNet) && strings.Contains(routes, "128.0.0.0/1 via "+tn.tunNet)
			if redirected != (push != "") {
				t.Errorf("redirected %v with push %q:\n%s", redirected, push, routes)
			}
		})
	}
}
