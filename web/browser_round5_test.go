package web

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/chromedp/chromedp"

	"edgebox/api/vpnapi"
	"edgebox/netctl/openvpn"
)

// Round five's VPN profiles refused at import, on a German phone at
// 360 px, through netctl's own parser: a binary renamed .ovpn, a proxy
// whose credentials are a file, and a long Windows file name saved as
// UTF-16 with a refused line. Each refusal reads whole in German, with
// no sideways scrolling, and says what to change.
func TestBrowserPhoneVPNImportErrorsRound5(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	serveUnix(t, "netctl", (&fakeNetctl{vpnState: openvpn.StateNoProfile, realImport: true}).handler())
	serveUnix(t, "gateway", fakeGateway())
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	files := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(files, name)
		os.WriteFile(p, data, 0o644)
		return p
	}
	binary := write("office.ovpn", []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00\x00\x00>\x00\x03\x00\xfe\xff"))
	proxy := write("proxy.ovpn", []byte("client\ndev tun\nproto tcp-client\nremote vpn.example.net 443\nhttp-proxy proxy.firma.example 3128 proxy-login.txt basic\n"))
	var u16 []byte
	u16 = append(u16, 0xFF, 0xFE)
	for _, c := range utf16.Encode([]rune("client\r\ndev tun\r\nremote vpn.example.net 1194\r\nscript-security 2\r\nup C:\\Programme\\OpenVPN\\config\\verbindung-herstellen.bat\r\n")) {
		u16 = append(u16, byte(c), byte(c>>8))
	}
	windows := write("Standort_Muenchen-Zentrale_Geschaeftsfuehrung_VPN-Zugang_Unicode.ovpn", u16)

	de := germanPhone(t)
	do(t, de, "login", append(login(httpsURL), waitURL("/wizard/mobile"))...)
	for _, c := range []struct{ name, path, want string }{
		{"binary", binary, "laden Sie die .ovpn-Datei selbst hoch"},
		{"proxy-login-file", proxy, "betten Sie sie als <http-proxy-user-pass> ein"},
		{"utf16-script", windows, "Standort_Muenchen"},
	} {
		do(t, de, c.name, chromedp.Navigate(httpsURL+"/wizard/vpn"), chromedp.WaitVisible(chromedp.CSS("#profile")),
			chromedp.SetUploadFiles(chromedp.CSS("#profile"), []string{c.path}), chromedp.Click(chromedp.CSS("#vpn-form #step-submit")),
			waitText(`.err[data-for="profile"]`, c.want), snap(dir, "r5-vpn-"+c.name+"-de"))
		s := textOf(de, `.err[data-for="profile"]`)
		for _, en := range []string{"is not allowed", "not a text file", "refused:", "upload the", "it runs", "on the box"} {
			if strings.Contains(s, en) {
				t.Errorf("%s: English in the refusal: %q", c.name, s)
			}
		}
		t.Logf("%s: %s", c.name, s)
		noOverflow(t, de, c.name)
	}
}

// The dashboard's VPN card on a German phone at 360 px shows the DNS the
// server pushed and how the box uses it (split, or not used and why),
// whole and without sideways scrolling.
func TestBrowserPhoneVPNCardDNS(t *testing.T) {
	for _, c := range []struct {
		name string
		dns  *vpnapi.DNS
		want string
	}{
		{"split", &vpnapi.DNS{Servers: []string{"10.8.0.1", "10.8.0.2"}, Domains: []string{"intern.standorte.example-konzern.de", "corp.example"}, Use: vpnapi.DNSSplit},
			"Namen in intern.standorte.example-konzern.de, corp.example werden bei 10.8.0.1, 10.8.0.2 erfragt"},
		{"unused", &vpnapi.DNS{Servers: []string{"10.8.0.1"}, Use: vpnapi.DNSUnused, Note: openvpn.DNSNoDomain},
			"übermitteln Sie \"dhcp-option DOMAIN\""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
			serveUnix(t, "netctl", (&fakeNetctl{vpnState: openvpn.StateConnected, vpnDNS: c.dns}).handler())
			serveUnix(t, "gateway", fakeGateway())
			setupAdmin(t, e)
			_, httpsURL := liveServer(t, e)
			dir := phoneScreens(t)
			de := germanPhone(t)
			do(t, de, "login", append(login(httpsURL), waitURL("/wizard/mobile"))...)
			do(t, de, "dashboard", chromedp.Navigate(httpsURL+"/dashboard"), waitText("#card-vpn", c.want),
				chromedp.ScrollIntoView(chromedp.CSS("#card-vpn")), snap(dir, "r5-vpn-card-dns-"+c.name+"-de"))
			noOverflow(t, de, "VPN card")
		})
	}
}

// The wizard's VPN step on a German phone at 360 px shows the DNS the
// server pushed, how the box uses it and the short names' domain: the
// installer sees there, before leaving the site, whether the company's
// names (the PBX) will resolve. Before, only the dashboard's card said
// it.
func TestBrowserPhoneVPNStepDNS(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	dns := &vpnapi.DNS{Servers: []string{"10.8.0.1"}, Domains: []string{"intern.standorte.example-konzern.de"},
		Search: []string{"intern.standorte.example-konzern.de"}, Use: vpnapi.DNSSplit}
	serveUnix(t, "netctl", (&fakeNetctl{vpnState: openvpn.StateConnected, vpnDNS: dns}).handler())
	serveUnix(t, "gateway", fakeGateway())
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	de := germanPhone(t)
	do(t, de, "login", append(login(httpsURL), waitURL("/wizard/mobile"))...)
	want := "Namen in intern.standorte.example-konzern.de werden bei 10.8.0.1 erfragt; kurze Namen probiert die Box auch in intern.standorte.example-konzern.de"
	do(t, de, "vpn step", chromedp.Navigate(httpsURL+"/wizard/vpn"), waitText("#vpn-dns", want),
		chromedp.ScrollIntoView(chromedp.CSS("#vpn-dns")), snap(dir, "r6-vpn-step-dns-de"))
	noOverflow(t, de, "VPN step")
}
