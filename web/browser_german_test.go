package web

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The dashboard, admin, signal, logs and SMS pages in German on a German
// phone: their headings, labels and buttons (issue 24: languages).
func TestBrowserPhoneGermanPages(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	serveUnix(t, "netctl", (&fakeNetctl{rsrp: -95}).handler())
	serveUnix(t, "gateway", fakeGateway())
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	ctx := browser(t, chromedp.WindowSize(390, 844), chromedp.Flag("accept-lang", "de-DE,de"))
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "login", append(login(httpsURL), waitURL("/wizard/mobile"))...)
	for _, p := range []struct {
		path, shot    string
		want, english []string
	}{
		{"/dashboard", "83-dashboard-de", []string{"Übersicht", "Internet-Verbindung", "Mobilfunkmodem", "Dienste", "Neu starten", "Letzte Protokollzeilen", "Laufende Anrufe:"},
			[]string{"Internet uplink", "Mobile modem", "Services", "Recent log", "Active calls"}},
		{"/admin", "84-admin-de", []string{"Verwaltung", "Sicherung herunterladen", "Support-Paket", "Diagnose", "Schnelltests", "SIP testen", "Firmware-Aktualisierung", "Ausschalten", "API-Tokens", "Passwort ändern"},
			[]string{"Download backup", "Quick tests", "Firmware update", "Power off", "Change password", "Create token"}},
		{"/signal", "85-signal-de", []string{"Empfang und SIM", "Antenne ausrichten", "Zellen-ID", "SIM-Karte", "Verbleibende PIN-Versuche", "Empfangsleistung: über −90 ist gut", "vom Modemdienst nicht gemeldet", "auf der SIM nicht gespeichert"},
			[]string{"Antenna alignment", "Cell ID", "SIM card", "PIN tries left", "received power", "not reported", "not known", "not stored"}},
		{"/logs", "86-logs-de", []string{"Protokolle", "Dienst"}, []string{"No log lines yet"}},
		{"/sms", "87-sms-de", []string{"SMS", "Senden", "Nachricht", "SMS senden", "Posteingang"}, []string{"Send SMS", "Inbox", "Message"}},
	} {
		do(t, ctx, p.path, chromedp.Navigate(httpsURL+p.path), waitText("h1", p.want[0]), snap(dir, p.shot))
		m := textOf(ctx, "main")
		for _, w := range p.want {
			if !strings.Contains(m, w) {
				t.Errorf("%s lacks %q", p.path, w)
			}
		}
		for _, en := range p.english {
			if strings.Contains(m, en) {
				t.Errorf("%s still says %q in English", p.path, en)
			}
		}
	}
}
