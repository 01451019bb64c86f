package netctl

import (
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"edgebox/api/vpnapi"
	"edgebox/internal/testenv"
	"edgebox/netctl/openvpn"
)

// startDNSMasqAt runs a real dnsmasq on addr:53 answering each name of
// answers with its address, and nothing else.
func startDNSMasqAt(t *testing.T, addr string, answers map[string]string) *testenv.Proc {
	args := []string{"--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces",
		"--listen-address=" + addr, "--pid-file=" + filepath.Join(t.TempDir(), "pid"), "--log-facility=-", "--log-queries"}
	for name, a := range answers {
		args = append(args, "--address=/"+name+"/"+a)
	}
	p := testenv.Command(t, "/usr/sbin/dnsmasq", args...).Start()
	testenv.WaitFor(t, 5*time.Second, "dnsmasq on "+addr, func() (bool, error) {
		return p.Log.Contains("started"), nil
	})
	return p
}

// TestLANDNSSplitForVPN: names in the domains a connected VPN pushed are
// asked of its DNS servers (a real dnsmasq standing for the company's),
// every other name of the uplink's (another), and nothing goes to the
// VPN's once the tunnel is down. A full tunnel without a domain takes
// every query; DNS pushed with neither is not used. Before, the LAN's
// queries for pbx.corp.example went to the uplink's server whatever the
// VPN pushed (the public answer, or none).
func TestLANDNSSplitForVPN(t *testing.T) {
	testenv.RequireRoot(t, "/usr/sbin/dnsmasq") // binds port 53
	box, up, corp := netip.MustParseAddr("127.0.93.1"), "127.0.93.2", "127.0.93.3"
	startDNSMasqAt(t, up, map[string]string{"corp.example": "198.51.100.7", "www.example.org": "198.51.100.80"})
	startDNSMasqAt(t, corp, map[string]string{"pbx.corp.example": "10.200.0.50", "www.example.org": "10.66.66.66"})
	s := &Service{log: slog.New(slog.DiscardHandler)}
	s.lanUpstream.Store(&[]netip.Addr{netip.MustParseAddr(up)})
	d, err := startLANDNS(box, "edgebox-4f2a1c", s.dnsServersFor, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)
	want := func(step, name, addr string) {
		t.Helper()
		got, err := resolveAt(box, name)
		if err != nil || len(got) != 1 || got[0].String() != addr {
			t.Errorf("%s: %s is %v (%v), want %s", step, name, got, err, addr)
		}
	}
	connected := func(use string, domains ...string) openvpn.Status {
		return openvpn.Status{State: openvpn.StateConnected, DNS: &vpnapi.DNS{Servers: []string{corp}, Domains: domains, Use: use}}
	}
	want("no VPN", "pbx.corp.example", "198.51.100.7")
	s.setVPNDNS(connected(openvpn.DNSSplit, "corp.example"))
	want("split", "pbx.corp.example", "10.200.0.50")
	want("split", "PBX.Corp.Example", "10.200.0.50")
	want("split", "www.example.org", "198.51.100.80")
	s.setVPNDNS(connected(openvpn.DNSAll))
	want("full tunnel", "www.example.org", "10.66.66.66")
	s.setVPNDNS(connected(openvpn.DNSUnused))
	want("unused", "www.example.org", "198.51.100.80")
	s.setVPNDNS(connected(openvpn.DNSSplit, "corp.example"))
	s.setVPNDNS(openvpn.Status{State: openvpn.StateReconnecting})
	want("tunnel down", "pbx.corp.example", "198.51.100.7")
}

// TestOwnLookupsSplitForVPN: the box's own lookups (the gateway's PBX by
// name, the syslog server) go through resolv.conf; while the VPN's split
// DNS is in force it names netctl's loopback forwarder alone, which asks
// the VPN's server (a real dnsmasq) for the VPN's domains and the
// uplink's for the rest; when the tunnel drops, resolv.conf is the
// uplink's again. Before, the box itself never asked the VPN's server.
// With the VPN's server dead, its names get SERVFAIL and resolv.conf
// offers no way around the forwarder to the uplink's server (before,
// the uplink's server came second, and a stub resolver asks the next
// server after a SERVFAIL: the company's names leaked there).
func TestOwnLookupsSplitForVPN(t *testing.T) {
	testenv.RequireRoot(t, "/usr/sbin/dnsmasq") // binds port 53
	up, corp := "127.0.94.2", "127.0.94.3"
	upDNS := startDNSMasqAt(t, up, map[string]string{"corp.example": "198.51.100.7", "www.example.org": "198.51.100.80"})
	corpDNS := startDNSMasqAt(t, corp, map[string]string{"pbx.corp.example": "10.200.0.50"})
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	s := &Service{log: slog.New(slog.DiscardHandler), opts: Options{ResolvConf: resolv}}
	s.ownDNS.addr = netip.MustParseAddr("127.0.94.53")
	t.Cleanup(s.stopOwnDNS)
	s.lanUpstream.Store(&[]netip.Addr{netip.MustParseAddr(up)})
	if err := s.writeResolv("wan", []netip.Addr{netip.MustParseAddr(up)}); err != nil {
		t.Fatal(err)
	}
	nameservers := func() []string {
		b, _ := os.ReadFile(resolv)
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if a, ok := strings.CutPrefix(l, "nameserver "); ok {
				out = append(out, a)
			}
		}
		return out
	}
	if got := nameservers(); !slices.Equal(got, []string{up}) {
		t.Fatalf("without the VPN: %v", got)
	}
	s.setVPNDNS(openvpn.Status{State: openvpn.StateConnected, DNS: &vpnapi.DNS{Servers: []string{corp}, Domains: []string{"corp.example"}, Use: openvpn.DNSSplit}})
	if got := nameservers(); !slices.Equal(got, []string{"127.0.94.53"}) {
		t.Fatalf("with the VPN's DNS: %v, want the forwarder alone", got)
	}
	own := netip.MustParseAddr("127.0.94.53")
	for name, want := range map[string]string{"pbx.corp.example": "10.200.0.50", "www.example.org": "198.51.100.80"} {
		if got, err := resolveAt(own, name); err != nil || len(got) != 1 || got[0].String() != want {
			t.Errorf("the box's own lookup of %s: %v %v, want %s", name, got, err, want)
		}
	}
	corpDNS.Stop(time.Second)
	if got, err := resolveAt(own, "pbx.corp.example"); err == nil {
		t.Errorf("with the VPN's server dead, pbx.corp.example resolved to %v", got)
	}
	if upDNS.Log.Contains("pbx.corp.example") {
		t.Errorf("the uplink's server was asked for the VPN's name:\n%s", upDNS.Log.String())
	}
	s.stopOwnDNS() // netctl stopping: no dead forwarder left in resolv.conf
	if got := nameservers(); !slices.Equal(got, []string{up}) {
		t.Fatalf("after netctl stopped the forwarder: %v", got)
	}
	s.setVPNDNS(openvpn.Status{State: openvpn.StateConnected, DNS: &vpnapi.DNS{Servers: []string{corp}, Domains: []string{"corp.example"}, Use: openvpn.DNSSplit}})
	s.setVPNDNS(openvpn.Status{State: openvpn.StateReconnecting})
	if got := nameservers(); !slices.Equal(got, []string{up}) {
		t.Fatalf("after the tunnel dropped: %v", got)
	}
}

// TestOwnLookupsShortNameInVPNDomain: a pushed DOMAIN is where the box's
// own lookups resolve a single-label name while the VPN's DNS is in
// force, as on the office's PCs: glibc's getent and Go's resolver,
// reading the resolv.conf netctl wrote, resolve "pbx" as
// pbx.corp.example through the VPN's server (a real dnsmasq), over UDP
// and TCP. Before, "pbx" did not resolve on the box (it went to the
// uplink's DNS). resolv.conf has no search line: with one (this
// commit's first form), a public name that failed at the uplink was
// tried in the company's domain and the company's DNS saw it
// (TestQEMUOpenVPN). 2.6's resolve-domains is split DNS only, and the
// short names go with the tunnel.
func TestOwnLookupsShortNameInVPNDomain(t *testing.T) {
	testenv.RequireRoot(t, "/usr/sbin/dnsmasq", "/usr/bin/unshare", "/usr/bin/getent")
	up, corp := "127.0.95.2", "127.0.95.3"
	startDNSMasqAt(t, up, map[string]string{"www.example.org": "198.51.100.80"})
	corpDNS := startDNSMasqAt(t, corp, map[string]string{"pbx.corp.example": "10.200.0.50"})
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	s := &Service{log: slog.New(slog.DiscardHandler), opts: Options{ResolvConf: resolv}}
	s.ownDNS.addr = netip.MustParseAddr("127.0.95.53")
	t.Cleanup(s.stopOwnDNS)
	s.lanUpstream.Store(&[]netip.Addr{netip.MustParseAddr(up)})
	if err := s.writeResolv("wan", []netip.Addr{netip.MustParseAddr(up)}); err != nil {
		t.Fatal(err)
	}
	// glibc's resolver, reading resolv (bound over /etc/resolv.conf in a
	// mount namespace of its own); "use-vc" asks over TCP.
	lookup := func(name string, tcp bool) string {
		script := `mount --bind "$1" /etc/resolv.conf && getent ahostsv4 "$2"`
		if tcp {
			script = `echo "options use-vc" >> "$1" && ` + script
		}
		conf := filepath.Join(t.TempDir(), "resolv.conf")
		b, _ := os.ReadFile(resolv)
		os.WriteFile(conf, b, 0o644)
		out, _ := testenv.Command(t, "unshare", "-m", "sh", "-c", script, "sh", conf, name).Cmd.CombinedOutput()
		return string(out)
	}
	vpn := func(search ...string) openvpn.Status {
		return openvpn.Status{State: openvpn.StateConnected, DNS: &vpnapi.DNS{Servers: []string{corp},
			Domains: []string{"corp.example"}, Search: search, Use: openvpn.DNSSplit}}
	}
	s.setVPNDNS(vpn("corp.example"))
	if b, _ := os.ReadFile(resolv); strings.Contains(string(b), "search") {
		t.Errorf("resolv.conf has a search line:\n%s", b)
	}
	for _, tcp := range []bool{false, true} {
		if got := lookup("pbx", tcp); !strings.Contains(got, "10.200.0.50") || !strings.Contains(got, "pbx") {
			t.Errorf("the box's own lookup of the short name pbx (TCP %v): %q, want 10.200.0.50 under pbx", tcp, got)
		}
	}
	if got, err := resolveAt(s.ownDNS.addr, "pbx"); err != nil || len(got) != 1 || got[0].String() != "10.200.0.50" {
		t.Errorf("Go's resolver, pbx: %v %v", got, err)
	}
	// a public name that does not resolve at the uplink stays there
	if got := lookup("no-such-host.example.org", false); strings.Contains(got, "STREAM") {
		t.Errorf("no-such-host.example.org resolved: %q", got)
	}
	if corpDNS.Log.Contains("example.org") {
		t.Errorf("a public name went to the company's DNS:\n%s", corpDNS.Log.String())
	}
	s.setVPNDNS(vpn()) // a reconnect with resolve-domains only
	if got := lookup("pbx", false); strings.Contains(got, "10.200.0.50") {
		t.Errorf("resolve-domains made pbx resolve: %q", got)
	}
	s.setVPNDNS(vpn("corp.example"))
	s.setVPNDNS(openvpn.Status{State: openvpn.StateReconnecting})
	if got := lookup("pbx", false); strings.Contains(got, "10.200.0.50") {
		t.Errorf("after the tunnel dropped, pbx still resolves: %q", got)
	}
}
