package web

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"edgebox/netctl/openvpn"
)

// vpnConnectReasons are the reasons the VPN status gives at connect
// time, as netctl says them (with the hints it adds).
var vpnConnectReasons = map[string]string{
	"bad-passphrase": openvpn.ErrBadPassphrase, "need-passphrase": openvpn.ErrNeedPassphrase,
	"bad-login": openvpn.ErrBadUserPass, "need-login": openvpn.ErrNeedUserPass,
	"cert-expired": openvpn.ErrCertExpired, "cert-not-yet": openvpn.ErrCertNotYetValid,
	"server-cert": openvpn.ErrServerCertBad, "server-cert-expired": openvpn.ErrServerCertExpire,
	"unreachable": openvpn.ErrUnreachable + "; the profile's tls-auth key has no key-direction: most servers need \"key-direction 1\" in the profile (or \"tls-auth ta.key 1\")",
	"refused":     openvpn.ErrRefused, "no-route": openvpn.ErrNoRoute, "resolve": openvpn.ErrResolve,
	"tls": openvpn.ErrTLSFailed, "tls-key": openvpn.ErrTLSKeyMismatch, "cipher": openvpn.ErrCipher,
	"ping": openvpn.ErrPingTimeout, "nothing-passes": openvpn.ErrNothingPasses, "key-load": openvpn.ErrKeyLoad,
	"bridge-dhcp": openvpn.ErrBridgeDHCP, "pushed-compression": openvpn.ErrPushedCompression,
	"comp-framing": openvpn.ErrCompFraming, "server-silent": openvpn.ErrServerSilent,
	"one-time-code": openvpn.ErrOneTimeCode, "web-login": openvpn.ErrWebLogin,
	"one-time-code-asked": `one-time code needed: the VPN server asks "Bitte geben Sie den Code aus der Authenticator-App ein" after the password, and the box connects on its own with no one to type it; ask the server's admin for an account for this box without the one-time code (certificate, or username and password only)`,
	"server-temp":         `refused for now by the VPN server: "No free IP addresses"; the box tries again by itself`,
}

// Every reason an installer can get at connect time reads whole on a
// 360 px phone in English and in German (no English left in the German
// one), in the wizard's VPN step, without sideways scrolling; and the
// sixth round's import refusals (cipher none, an optional line that runs
// a program, a one-time code, key-direction inside <connection>) the
// same in the upload's answer. Screenshots: r6-vpn-*.
func TestBrowserPhoneVPNReasonsAt360(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	fake := &fakeNetctl{vpnState: openvpn.StateReconnecting, profile: "office.ovpn", realImport: true}
	serveUnix(t, "netctl", fake.handler())
	serveUnix(t, "gateway", fakeGateway())
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	files := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(files, name)
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	head := "client\r\ndev tun\r\nremote vpn.firma.example 1194\r\n"
	imports := []struct{ name, path, en, de string }{
		{"cipher-none", write("Standort-Zentrale.ovpn", head+"cipher none\r\n"), "not encrypted", "nicht verschlüsselt"},
		{"optional-up", write("office.ovpn", head+"ignore-unknown-option up\r\nup /etc/openvpn/update-firewall.sh\r\n"), "runs a program", "startet ein Programm"},
		{"static-challenge", write("totp.ovpn", head+"auth-user-pass\r\nstatic-challenge \"Enter Google Authenticator Code\" 1\r\n"), "one-time code", "Einmal"},
		{"key-direction-in-connection", write("conn.ovpn", "client\ndev tun\n<connection>\nremote vpn.firma.example 1194\nkey-direction 1\n</connection>\n"), "<connection>", "<connection>"},
	}
	for _, lang := range []struct{ code, accept string }{{"en", "en-US,en"}, {"de", "de-DE,de"}} {
		ctx := narrowPhone(t, lang.accept)
		do(t, ctx, "login "+lang.code, append(login(httpsURL), waitURL("/wizard/mobile"))...)
		for name, reason := range vpnConnectReasons {
			fake.mu.Lock()
			fake.vpnLastError = reason
			fake.mu.Unlock()
			do(t, ctx, name, chromedp.Navigate(httpsURL+"/wizard/vpn"), chromedp.WaitVisible(chromedp.CSS("#vpn-now")))
			shown := textOf(ctx, "#vpn-now")
			if lang.code == "de" {
				if halfEnglish(shown) {
					t.Errorf("%s (de): English in %q", name, shown)
				}
			} else if !strings.Contains(shown, reason[:20]) {
				t.Errorf("%s (en): %q not shown in %q", name, reason[:20], shown)
			}
			if name == "unreachable" || name == "pushed-compression" || name == "bridge-dhcp" || name == "one-time-code-asked" {
				do(t, ctx, "snap "+name, snap(dir, "r6-vpn-"+name+"-"+lang.code))
			}
			noOverflow(t, ctx, name+" ("+lang.code+")")
		}
		for _, c := range imports {
			want := c.en
			if lang.code == "de" {
				want = c.de
			}
			do(t, ctx, c.name, chromedp.Navigate(httpsURL+"/wizard/vpn"), chromedp.WaitVisible(chromedp.CSS("#profile")),
				chromedp.SetUploadFiles(chromedp.CSS("#profile"), []string{c.path}), chromedp.Click(chromedp.CSS("#vpn-form #step-submit")),
				waitText(`.err[data-for="profile"]`, want), snap(dir, "r6-vpn-import-"+c.name+"-"+lang.code))
			s := textOf(ctx, `.err[data-for="profile"]`)
			if lang.code == "de" {
				if halfEnglish(s) || strings.Contains(s, "refused") {
					t.Errorf("%s (de): English in the refusal: %q", c.name, s)
				}
			}
			t.Logf("%s (%s): %s", c.name, lang.code, s)
			noOverflow(t, ctx, c.name+" ("+lang.code+")")
		}
	}
}
