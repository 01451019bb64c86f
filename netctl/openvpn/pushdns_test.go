package openvpn

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"edgebox/api/vpnapi"
	"edgebox/internal/testenv"

	"golang.org/x/net/dns/dnsmessage"
)

// What a server's push says about DNS, as the box uses it: the company's
// domains go to its servers (split), a full tunnel without a domain takes
// every query, DNS servers with neither are not used and the status says
// what to push. The profile's pull-filter and route-nopull drop what
// openvpn drops.
func TestPushedDNSRead(t *testing.T) {
	for _, c := range []struct {
		name, profile, reply string
		want                 *vpnapi.DNS
	}{
		{"dhcp-option", "", "route-gateway 10.8.0.1,dhcp-option DNS 10.8.0.1,dhcp-option DOMAIN Corp.Example.,ping 10",
			&vpnapi.DNS{Servers: []string{"10.8.0.1"}, Domains: []string{"corp.example"}, Search: []string{"corp.example"}, Use: DNSSplit}},
		{"2.6 dns", "", "dns server 0 address 10.8.0.1 10.8.0.2:53,dns server 0 resolve-domains corp.example,dns search-domains site.example",
			&vpnapi.DNS{Servers: []string{"10.8.0.1", "10.8.0.2"}, Domains: []string{"corp.example", "site.example"}, Search: []string{"site.example"}, Use: DNSSplit}},
		{"full tunnel", "", "redirect-gateway def1,dhcp-option DNS 10.8.0.1",
			&vpnapi.DNS{Servers: []string{"10.8.0.1"}, Use: DNSAll}},
		{"no domain", "", "dhcp-option DNS 10.8.0.1,dhcp-option DNS 8.8.8.8",
			&vpnapi.DNS{Servers: []string{"10.8.0.1", "8.8.8.8"}, Use: DNSUnused, Note: DNSNoDomain}},
		{"profile's own", "dhcp-option DNS 10.8.0.53\ndhcp-option DOMAIN corp.example\n", "route-gateway 10.8.0.1",
			&vpnapi.DNS{Servers: []string{"10.8.0.53"}, Domains: []string{"corp.example"}, Search: []string{"corp.example"}, Use: DNSSplit}},
		{"search and split", "", "dhcp-option DNS 10.8.0.1,dhcp-option DOMAIN-SEARCH site.example,dns server 0 resolve-domains corp.example",
			&vpnapi.DNS{Servers: []string{"10.8.0.1"}, Domains: []string{"site.example", "corp.example"}, Search: []string{"site.example"}, Use: DNSSplit}},
		{"pull-filter", "pull-filter ignore \"dhcp-option DNS\"\n", "dhcp-option DNS 10.8.0.1,dhcp-option DOMAIN corp.example", nil},
		{"route-nopull", "route-nopull\n", "dhcp-option DNS 10.8.0.1,dhcp-option DOMAIN corp.example", nil},
		{"none", "", "route-gateway 10.8.0.1,ping 10", nil},
	} {
		var w peerWatch
		w.ownDNS = profileDNS([]byte(c.profile))
		w.dns = w.ownDNS.filtersOnly()
		w.onPush("PUSH: Received control message: 'PUSH_REPLY," + c.reply + "'")
		d := w.ownDNS.with(w.dns)
		got := d.status()
		if !sameDNS(got, c.want) || got != nil && got.Note != c.want.Note {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

// TestPushedDNSShown: a real openvpn 2.6 server pushes the company's DNS
// server (a dnsmasq on its tunnel address) and domain, in 2.4's
// dhcp-option form and in 2.6's dns form. The status shows them as used
// for that domain, and the server answers the PBX's name through the
// tunnel. Before, the push was ignored without a word.
func TestPushedDNSShown(t *testing.T) {
	testenv.RequireRoot(t, "/usr/sbin/dnsmasq")
	for _, form := range []string{"dhcp-option", "dns"} {
		t.Run(form, func(t *testing.T) {
			tn := newTestNet(t)
			pki := newTestPKI(t)
			tc := staticKey(t)
			dnsIP := tn.tunNet + ".1" // the server's own tunnel address
			push := []string{`push "dhcp-option DNS ` + dnsIP + `"`, `push "dhcp-option DOMAIN corp.example"`}
			if form == "dns" {
				push = []string{`push "dns server 0 address ` + dnsIP + `"`, `push "dns search-domains corp.example"`}
			}
			startServer(t, tn, pki, tc, push...)
			dir := t.TempDir()
			dm := testenv.Command(t, "ip", "netns", "exec", tn.srv, "/usr/sbin/dnsmasq", "--no-daemon", "--conf-file=/dev/null",
				"--no-resolv", "--no-hosts", "--bind-dynamic", "--listen-address="+dnsIP, "--except-interface=lo",
				"--address=/pbx.corp.example/"+tn.tunNet+".50", "--pid-file="+filepath.Join(dir, "dnsmasq.pid"), "--log-facility=-", "--log-queries").Start()
			cert, key := pki.valid(t, "box-dns", false)
			m := newTestManager(t, tn, Options{})
			if _, err := m.ImportWithCredentials(strings.NewReader(clientProfile(tn, pki, cert, key, tc)), "office.ovpn", Credentials{}); err != nil {
				t.Fatalf("import: %v", err)
			}
			runManager(t, m)
			m.SetUplink(true, "wan")
			st := waitStatus(t, m, 30*time.Second, "CONNECTED with its DNS", func(st Status) bool { return connected(st) && st.DNS != nil })
			if st.DNS.Use != DNSSplit || !slices.Equal(st.DNS.Servers, []string{dnsIP}) || !slices.Equal(st.DNS.Domains, []string{"corp.example"}) {
				t.Fatalf("status DNS %+v", st.DNS)
			}
			a, err := lookupA(tn.cli, dnsIP, "pbx.corp.example")
			if err != nil || a != tn.tunNet+".50" {
				t.Fatalf("pbx.corp.example through the tunnel: %q %v\ndnsmasq:\n%s", a, err, dm.Log.String())
			}
			m.SetEnabled(false)
			waitStatus(t, m, 10*time.Second, "stopped, DNS gone", func(st Status) bool { return st.State != StateConnected && st.DNS == nil })
		})
	}
}

// lookupA asks server (from namespace ns) for name's first A record.
func lookupA(ns, server, name string) (string, error) {
	var c net.Conn
	if err := testenv.DoIn(ns, func() (err error) {
		c, err = net.Dial("udp", server+":53") // the socket stays in ns
		return err
	}); err != nil {
		return "", err
	}
	defer c.Close()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 4711, RecursionDesired: true})
	b.StartQuestions()
	b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name + "."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	q, _ := b.Finish()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write(q); err != nil {
		return "", err
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	var m dnsmessage.Message
	if err := m.Unpack(buf[:n]); err != nil {
		return "", err
	}
	for _, a := range m.Answers {
		if r, ok := a.Body.(*dnsmessage.AResource); ok {
			return netip.AddrFrom4(r.A).String(), nil
		}
	}
	return "", fmt.Errorf("no A record: rcode %v", m.RCode)
}
