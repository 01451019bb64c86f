package web

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"edgebox/netctl/openvpn"
)

// The installer's first hour again, with what the field brings that the
// first round did not try: a login that ends while a form is half typed,
// a password in any script with spaces, a huge profile, the language
// switched mid-step, the browser's back button, two phones at once.

// storedAt reads one config value as the box stored it.
func storedAt(t *testing.T, e *testEnv, path string) any {
	t.Helper()
	cfg, err := e.srv.loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := toDoc(cfg)
	v, _ := getPath(doc, path)
	return v
}

// The page was left open for an hour (the session's idle end) with the
// APN and PIN typed: Save must not lose them. The page asks for the
// password in place and then saves what was typed, the PIN too. Before,
// the save answered "log in", and logging in meant leaving the page: the
// PIN (never kept in a draft) was gone.
func TestBrowserPhoneSessionEndsMidForm(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	serveUnix(t, "netctl", (&fakeNetctl{vpnState: openvpn.StateNoProfile, realImport: true}).handler())
	serveUnix(t, "gateway", fakeGateway())
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	ctx := germanPhone(t)
	do(t, ctx, "login", append(login(httpsURL), waitURL("/wizard/mobile"))...)
	do(t, ctx, "type", chromedp.SetValue(chromedp.CSS(`[data-path="network.modem.apn"]`), "internet.telekom"),
		chromedp.SendKeys(chromedp.CSS(`[data-path="network.modem.pin"]`), "4711"))
	idleOut(e.srv.sessions) // an hour without a request
	do(t, ctx, "save after the login ended", chromedp.Click(chromedp.CSS("#step-submit")),
		chromedp.WaitVisible(chromedp.CSS("#relogin-pw")), snap(dir, "80-relogin-de"))
	if s := textOf(ctx, "#relogin"); !strings.Contains(s, "nach 60 Minuten ohne Nutzung abgelaufen") {
		t.Errorf("the login prompt reads %q", s)
	}
	do(t, ctx, "log in again", chromedp.SendKeys(chromedp.CSS("#relogin-pw"), testPassword),
		chromedp.Click(chromedp.CSS("#relogin-submit")), waitText("#step-form .notice", "Gespeichert"), snap(dir, "81-saved-after-relogin-de"))
	if v := storedAt(t, e, "network.modem.apn"); v != "internet.telekom" {
		t.Errorf("APN stored as %v", v)
	}
	if v := storedAt(t, e, "network.modem.pin"); v != "4711" {
		t.Errorf("PIN stored as %v", v)
	}
	if textOf(ctx, "#relogin") != "" {
		t.Error("the login prompt stays after logging in")
	}

	// The same for the VPN upload with its passphrase typed.
	prof := filepath.Join(t.TempDir(), "office.ovpn")
	os.WriteFile(prof, []byte("client\ndev tun\nproto udp\nremote vpn.example.net 1194\n<ca>\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n</ca>\n"), 0o600)
	do(t, ctx, "vpn step", chromedp.Navigate(httpsURL+"/wizard/vpn"), chromedp.WaitVisible(chromedp.CSS("#profile")),
		chromedp.SetUploadFiles(chromedp.CSS("#profile"), []string{prof}))
	e.srv.sessions.dropAll()
	do(t, ctx, "upload after the login ended", chromedp.Click(chromedp.CSS("#vpn-form #step-submit")),
		chromedp.WaitVisible(chromedp.CSS("#relogin-pw")),
		chromedp.SendKeys(chromedp.CSS("#relogin-pw"), testPassword), chromedp.Click(chromedp.CSS("#relogin-submit")),
		waitText("#vpn-form .notice", "office.ovpn"), snap(dir, "82-upload-after-relogin-de"))
	// A wrong password in the prompt says so and keeps the prompt.
	do(t, ctx, "mobile again", chromedp.Navigate(httpsURL+"/wizard/mobile"), chromedp.WaitVisible(chromedp.CSS("#step-form")),
		chromedp.SetValue(chromedp.CSS(`[data-path="network.modem.apn"]`), "internet.t-d1.de"))
	e.srv.sessions.dropAll()
	do(t, ctx, "wrong password", chromedp.Click(chromedp.CSS("#step-submit")), chromedp.WaitVisible(chromedp.CSS("#relogin-pw")),
		chromedp.SendKeys(chromedp.CSS("#relogin-pw"), "not the password"), chromedp.Click(chromedp.CSS("#relogin-submit")),
		waitText("#relogin .notice", "Passwort"))
	if v := storedAt(t, e, "network.modem.apn"); v != "internet.telekom" {
		t.Errorf("saved without a login: APN %v", v)
	}
}

// A password with spaces inside and at its ends, umlauts, Cyrillic and an
// emoji: set on first boot from a phone and used to log in again. The
// phone's keyboard may add nothing, and the box may take nothing away.
func TestBrowserPhoneUnicodePassword(t *testing.T) {
	e := newTestEnv(t, false, Options{Hostname: "edgebox-4f2a1c"})
	serveUnix(t, "netctl", (&fakeNetctl{vpnState: openvpn.StateNoProfile}).handler())
	serveUnix(t, "gateway", fakeGateway())
	_, httpsURL := liveServer(t, e)
	ctx := phone(t)
	const pw = " Grüße aus Köln, пароль 🙂 "
	do(t, ctx, "first boot", chromedp.Navigate(httpsURL+"/setup"), chromedp.WaitVisible(chromedp.CSS("#setup-submit")),
		chromedp.SendKeys(chromedp.CSS("#pw"), pw), chromedp.SendKeys(chromedp.CSS("#pw2"), pw),
		chromedp.Click(chromedp.CSS("#setup-submit")), chromedp.WaitVisible(chromedp.CSS("#step-form")))
	if !e.srv.accounts.Check(AdminUser, pw) {
		t.Fatal("the stored password is not the one typed")
	}
	e.srv.sessions.dropAll()
	do(t, ctx, "log in", chromedp.Navigate(httpsURL+"/login"), chromedp.WaitVisible(chromedp.CSS("#login-submit")),
		chromedp.SendKeys(chromedp.CSS("#pw"), pw), chromedp.Click(chromedp.CSS("#login-submit")), waitURL("/wizard/mobile"))
}

// A huge file chosen as the VPN profile (a 6 MB log, a whole backup):
// the step says what is wrong and what to choose, in German, and the
// stored profile stays.
func TestBrowserPhoneHugeVPNProfile(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	serveUnix(t, "netctl", (&fakeNetctl{vpnState: openvpn.StateNoProfile, realImport: true}).handler())
	serveUnix(t, "gateway", fakeGateway())
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	files := t.TempDir()
	var b strings.Builder
	b.WriteString("client\ndev tun\nremote vpn.example.net 1194\n")
	for b.Len() < 6<<20 {
		b.WriteString("# a comment line the exporter repeated, as a broken one did\n")
	}
	huge := filepath.Join(files, "huge.ovpn")
	os.WriteFile(huge, []byte(b.String()), 0o644)
	// Under the upload limit but over a profile's: 2 MB of profile.
	mid := filepath.Join(files, "big.ovpn")
	os.WriteFile(mid, []byte(b.String()[:2<<20]), 0o644)
	ctx := germanPhone(t)
	do(t, ctx, "login", append(login(httpsURL), waitURL("/wizard/mobile"))...)
	for _, f := range []string{huge, mid} {
		do(t, ctx, filepath.Base(f), chromedp.Navigate(httpsURL+"/wizard/vpn"), chromedp.WaitVisible(chromedp.CSS("#profile")),
			chromedp.SetUploadFiles(chromedp.CSS("#profile"), []string{f}), chromedp.Click(chromedp.CSS("#vpn-form #step-submit")),
			chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
				return testenvUntil(ctx, "an answer to the upload", `document.querySelector('#vpn-form .err[data-for="profile"]').textContent + document.querySelector("#vpn-form .notice").textContent !== ""`)
			}), snap(dir, "83-vpn-"+filepath.Base(f)+"-de"))
		shown := textOf(ctx, `#vpn-form .err[data-for="profile"]`) + textOf(ctx, "#vpn-form .notice")
		t.Logf("%s: %s", filepath.Base(f), shown)
		if !strings.Contains(shown, "MiB") || !strings.Contains(shown, "Datei") || strings.Contains(shown, "bytes") {
			t.Errorf("%s: the step says %q; want the limit in MiB and what to choose, in German", filepath.Base(f), shown)
		}
	}
}

// The language switched mid-step: what was typed comes back in the other
// language at once. Before, the first tap on "English" only warned that
// changes were unsaved, and a second tap was needed.
func TestBrowserPhoneLanguageSwitchMidStep(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	serveUnix(t, "netctl", (&fakeNetctl{vpnState: openvpn.StateNoProfile}).handler())
	serveUnix(t, "gateway", fakeGateway())
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	ctx := germanPhone(t)
	do(t, ctx, "login", append(login(httpsURL), waitURL("/wizard/mobile"))...)
	do(t, ctx, "type, then English", chromedp.SendKeys(chromedp.CSS(`[data-path="network.modem.apn"]`), "internet.v6.telekom"),
		chromedp.Click(chromedp.CSS("#lang-en")), chromedp.WaitVisible(chromedp.CSS("#lang-de")),
		waitText("#step-form .notice", "What you typed here"), snap(dir, "84-language-switched"))
	if v := valueOf(ctx, `[data-path="network.modem.apn"]`); v != "internet.v6.telekom" {
		t.Errorf("after switching to English the APN field holds %q", v)
	}
	// A typed secret is never kept in a draft: then the switch warns first.
	do(t, ctx, "PIN typed, then German", chromedp.SendKeys(chromedp.CSS(`[data-path="network.modem.pin"]`), "1234"),
		chromedp.Click(chromedp.CSS("#lang-de")), waitText("#page-notice", "not saved"))
}

// The browser's back button after each step: the step shows what was
// saved, says nothing about unsaved changes, and its links work at the
// first tap. A second phone saving another field meanwhile loses nothing.
func TestBrowserPhoneBackButtonAndTwoPhones(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	serveUnix(t, "netctl", (&fakeNetctl{vpnState: openvpn.StateNoProfile}).handler())
	serveUnix(t, "gateway", fakeGateway())
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	a := phone(t)
	do(t, a, "login", append(login(httpsURL), waitURL("/wizard/mobile"))...)
	b := phone(t)
	do(t, b, "login on the second phone", append(login(httpsURL), waitURL("/wizard/mobile"))...)

	do(t, a, "save APN", chromedp.SetValue(chromedp.CSS(`[data-path="network.modem.apn"]`), "internet"),
		chromedp.Click(chromedp.CSS("#step-submit")), waitText("#step-form .notice", "Saved"),
		chromedp.Click(chromedp.CSS("#next-step")), waitURL("/wizard/wan"))
	// The second phone, opened before, saves the PIN only.
	do(t, b, "save PIN", chromedp.SendKeys(chromedp.CSS(`[data-path="network.modem.pin"]`), "1234"),
		chromedp.Click(chromedp.CSS("#step-submit")), waitText("#step-form .notice", "Saved"))
	if v := storedAt(t, e, "network.modem.apn"); v != "internet" {
		t.Errorf("the second phone's save put the APN back to %v", v)
	}
	if v := storedAt(t, e, "network.modem.pin"); v != "1234" {
		t.Errorf("PIN stored as %v", v)
	}
	do(t, a, "back", chromedp.NavigateBack(), waitURL("/wizard/mobile"), chromedp.WaitVisible(chromedp.CSS("#step-form")), snap(dir, "85-back"))
	if v := valueOf(a, `[data-path="network.modem.apn"]`); v != "internet" {
		t.Errorf("after Back the APN field holds %q", v)
	}
	if s := textOf(a, "#step-form .notice") + textOf(a, "#page-notice"); strings.Contains(s, "not saved") || strings.Contains(s, "What you typed") {
		t.Errorf("after Back the step says %q", s)
	}
	do(t, a, "next at the first tap", chromedp.Click(chromedp.CSS("#next-step")), waitURL("/wizard/wan"))

	// Every step: Next, then Back; the step comes back clean, and its
	// Next works at the first tap.
	steps := []string{"wan", "lan", "vpn", "sip", "gateway", "time"}
	for i, id := range steps[:len(steps)-1] {
		do(t, a, "open "+id, chromedp.Navigate(httpsURL+"/wizard/"+id), chromedp.WaitVisible(chromedp.CSS("#next-step")))
		do(t, a, "next to "+steps[i+1], chromedp.Click(chromedp.CSS("#next-step")), waitURL("/wizard/"+steps[i+1]))
		// chromedp's node queries do not follow a page the browser's
		// history restores; the page is read with script instead.
		do(t, a, "back to "+id, runJS("history.back()"), waitURL("/wizard/"+id), chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			return testenvUntil(ctx, "the step back", `!!document.getElementById("next-step") && document.readyState === "complete"`)
		}))
		said, _ := chromedp.Run(a, chromedp.Evaluate[string](`[...document.querySelectorAll("#page-notice, main .notice")].map(n => n.textContent).join(" ")`))
		if strings.Contains(said, "not saved") || strings.Contains(said, "What you typed") {
			t.Errorf("Back to %s: the page says %q", id, said)
		}
		do(t, a, "next from "+id, runJS(`document.getElementById("next-step").click()`), waitURL("/wizard/"+steps[i+1]))
	}
}

// setModem replaces the fake modem's report.
func (f *fakeNetctl) setModem(over map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.modemOver = over
}

// The mobile step on a German phone with the modems of the field: a wrong
// APN that the network refuses, then the right one; a save whose answer is
// lost with the cable; a modem without a SIM; a box without a modem.
func TestBrowserPhoneMobileStepField(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	nc := &fakeNetctl{vpnState: openvpn.StateNoProfile}
	serveUnix(t, "netctl", nc.handler())
	serveUnix(t, "gateway", fakeGateway())
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	ctx := germanPhone(t)
	do(t, ctx, "login", append(login(httpsURL), waitURL("/wizard/mobile"))...)
	registered := map[string]any{"state": "home", "tech": "lte", "operator": "Telekom.de"}
	nc.setModem(map[string]any{"state": "connecting", "registration": registered,
		"error": `the network refused the data connection for APN "internet.telekom.de" (cause 27): the APN is wrong: check it against the operator's`})
	do(t, ctx, "wrong APN", chromedp.SetValue(chromedp.CSS(`[data-path="network.modem.apn"]`), "internet.telekom.de"),
		chromedp.Click(chromedp.CSS("#step-submit")), waitText("#check", "der APN ist falsch"), snap(dir, "86-wrong-apn-de"))
	// The right APN: netctl still reports the old refusal for a moment.
	do(t, ctx, "right APN", chromedp.SetValue(chromedp.CSS(`[data-path="network.modem.apn"]`), "internet.telekom"),
		chromedp.Click(chromedp.CSS("#step-submit")), waitText("#check", "Angemeldet bei Telekom.de, verbindet"))
	nc.setModem(map[string]any{"state": "connected", "registration": registered})
	do(t, ctx, "connected", waitText("#check", "Modem verbunden"), snap(dir, "87-right-apn-de"))

	// The cable is pulled while Save is on its way: the box stores the
	// value, its answer never arrives. The page says so; saving again
	// works once the cable is back.
	do(t, ctx, "answer lost", runJS(`window.realFetch = window.fetch; window.fetch = (u, o) => window.realFetch(u, o).then(() => { throw new TypeError("Failed to fetch"); })`),
		chromedp.SetValue(chromedp.CSS(`[data-path="network.modem.apn"]`), "internet.t-mobile"),
		chromedp.Click(chromedp.CSS("#step-submit")), waitText("#step-form .notice", "Die Box hat nicht geantwortet"),
		runJS(`window.fetch = window.realFetch`),
		chromedp.Click(chromedp.CSS("#step-submit")), waitText("#step-form .notice", "Gespeichert"))
	if v := storedAt(t, e, "network.modem.apn"); v != "internet.t-mobile" {
		t.Errorf("APN stored as %v", v)
	}

	nc.setModem(map[string]any{"state": "sim", "sim": map[string]any{"state": "absent"}, "registration": nil, "error": "no SIM card; insert one"})
	do(t, ctx, "no SIM", chromedp.Navigate(httpsURL+"/wizard/mobile"), chromedp.WaitVisible(chromedp.CSS("#step-form")),
		chromedp.Click(chromedp.CSS("#step-submit")), waitText("#check", "SIM"), snap(dir, "88-no-sim-de"))
	nc.setModem(map[string]any{"state": "absent", "sim": nil, "registration": nil, "identity": nil, "signal": nil,
		"error": "no modem found; check that the card is seated", "error_time": time.Now().Add(-5 * time.Minute).Format(time.RFC3339)})
	do(t, ctx, "no modem", chromedp.Navigate(httpsURL+"/wizard/mobile"), chromedp.WaitVisible(chromedp.CSS("#step-form")),
		chromedp.Click(chromedp.CSS("#step-submit")), waitText("#check", "Kein Modem gefunden"), snap(dir, "89-no-modem-de"))
}

// A profile whose login file stayed on the laptop (auth-user-pass
// login.txt): the box takes it and asks for the login; the installer types
// it into the VPN step and taps the button without choosing the file again.
// Before, the upload was refused, and after a "login needed" the only way
// was to pick the file once more.
func TestBrowserPhoneVPNLoginWithoutFileAgain(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	nc := &fakeNetctl{vpnState: openvpn.StateNoProfile, realImport: true}
	serveUnix(t, "netctl", nc.handler())
	serveUnix(t, "gateway", fakeGateway())
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	prof := filepath.Join(t.TempDir(), "office.ovpn")
	os.WriteFile(prof, []byte("client\r\ndev tun\r\nproto udp\r\nremote vpn.example.net 1194\r\nauth-user-pass login.txt\r\n<ca>\r\n-----BEGIN CERTIFICATE-----\r\nMIIB\r\n-----END CERTIFICATE-----\r\n</ca>\r\n"), 0o600)
	ctx := germanPhone(t)
	do(t, ctx, "login", append(login(httpsURL), waitURL("/wizard/mobile"))...)
	do(t, ctx, "upload", chromedp.Navigate(httpsURL+"/wizard/vpn"), chromedp.WaitVisible(chromedp.CSS("#profile")),
		chromedp.SetUploadFiles(chromedp.CSS("#profile"), []string{prof}), chromedp.Click(chromedp.CSS("#vpn-form #step-submit")),
		waitText("#vpn-form .notice", "office.ovpn"), waitText("#check", "Benutzername und Passwort"), snap(dir, "90-vpn-needs-login-de"))
	do(t, ctx, "login typed, no file", chromedp.Navigate(httpsURL+"/wizard/vpn"), chromedp.WaitVisible(chromedp.CSS("#profile")),
		chromedp.SendKeys(chromedp.CSS("#vpnuser"), "alice"), chromedp.SendKeys(chromedp.CSS("#vpnpw"), "geheim 123"),
		chromedp.Click(chromedp.CSS("#vpn-form #step-submit")), waitText("#vpn-form .notice", "Gespeichert"),
		waitText("#check", "VPN verbunden"), snap(dir, "91-vpn-login-sent-de"))
	nc.mu.Lock()
	defer nc.mu.Unlock()
	if len(nc.vpnCreds) != 1 || nc.vpnCreds[0].Username == nil || *nc.vpnCreds[0].Username != "alice" || nc.vpnCreds[0].Password == nil || *nc.vpnCreds[0].Password != "geheim 123" {
		t.Errorf("netctl was given %+v", nc.vpnCreds)
	}
}

// idleOut ends every session as an hour without a request would: past
// its idle end on the wall clock and on the monotonic one.
func idleOut(ss *sessions) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, se := range ss.all {
		se.expires = ss.now().Add(-time.Second)
	}
	ss.since = func(time.Time) time.Duration { return 2 * time.Hour }
}
