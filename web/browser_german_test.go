package web

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"edgebox/api/vpnapi"
	"edgebox/netctl/openvpn"
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

// goStrings are the texts Go code in web builds for people: the literals
// of tr(lang, "…") and trf(lang, "…"), and the services' state words.
func goStrings(t *testing.T) []string {
	t.Helper()
	lit := regexp.MustCompile(`\btrf?\(lang, ("(?:[^"\\]|\\.)*")`)
	files, _ := filepath.Glob("*.go")
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
			s, err := strconv.Unquote(m[1])
			if err != nil {
				t.Fatalf("%s: %s: %v", f, m[1], err)
			}
			out = append(out, s)
		}
	}
	if len(out) < 40 {
		t.Fatalf("found only %d Go strings: the pattern no longer matches the code", len(out))
	}
	for _, r := range plainReplacements {
		if r.with != "" {
			out = append(out, r.with)
		}
	}
	return append(out, stateWords...)
}

// A service's error, put in plain words, reads in German on a German page.
func TestPlainWordsInGerman(t *testing.T) {
	err := `Get "http://unix/v1/status": dial unix /run/edgebox/netctl.sock: connect: no such file or directory`
	got := trf("de", "Network service not available: %s", plainWords(err))
	if got != "Netzwerkdienst nicht verfügbar: der Dienst läuft nicht: er wird von selbst neu gestartet, siehe Übersicht" {
		t.Errorf("got %q", got)
	}
	if got := trf("en", "Network service not available: %s", plainWords(err)); !strings.Contains(got, "the service is not running") {
		t.Errorf("English: %q", got)
	}
}

// Every text Go builds has its German, with the same values in it.
func TestGoStringsHaveGerman(t *testing.T) {
	for _, s := range goStrings(t) {
		de, ok := catalogs()["de"][s]
		if !ok {
			t.Errorf("no German for %q", s)
			continue
		}
		if a, b := verbRE.FindAllString(s, -1), verbRE.FindAllString(de, -1); strings.Join(a, " ") != strings.Join(b, " ") {
			t.Errorf("%q: German %q has values %v, English %v", s, de, b, a)
		}
	}
}

// englishParts are the pieces of the Go-built texts a German page must not
// show: their fixed words between the values (five letters or more, so
// units and short names do not count), unless German shares them. State
// words are left to the pills: services' log lines use them in English.
func englishParts(t *testing.T) []string {
	var out []string
	for _, s := range goStrings(t) {
		if slices.Contains(stateWords, s) {
			continue
		}
		de := tr("de", s)
		for _, p := range verbRE.Split(s, -1) {
			p = strings.Trim(p, " .,:;()—…")
			if len(p) < 5 || strings.Contains(de, p) {
				continue
			}
			out = append(out, p)
		}
	}
	return out
}

// Every page of a German phone, with every card filled (VPN up with
// import notes, the modem's slot, an uplink down, the SIM's APN
// suggestion): no text that Go builds shows in English, no state pill
// either (issue 24: languages).
func TestBrowserPhoneGermanGoStrings(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	nc := &fakeNetctl{vpnState: openvpn.StateConnected, vpnDetail: "SUCCESS", profile: "remote vpn.example.net 1194",
		vpnNotes: []string{"converted for openvpn 2.6: cipher BF-CBC became data-ciphers AES-256-GCM:BF-CBC"},
		slot:     map[string]any{"name": "mPCIe 1", "sim": "J13", "source": "usb-guessed"},
		vpnDNS:   &vpnapi.DNS{Servers: []string{"10.8.0.1"}, Domains: []string{"corp.example"}, Use: vpnapi.DNSSplit}}
	serveUnix(t, "netctl", nc.handler())
	serveUnix(t, "gateway", fakeGateway())
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	ctx := browser(t, chromedp.WindowSize(390, 844), chromedp.Flag("accept-lang", "de-DE,de"))
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "login", append(login(httpsURL), waitURL("/wizard/mobile"))...)
	english := englishParts(t)
	// Go-built texts that were English on German pages before, by name.
	english = append(english, "SIP trunk", "Tunnel address", "Via uplink", "WebRTC port", "This SIM is from", "its usual APN", "Set it on the", "not reported", "guessed from", "Upload and connect", "What the import",
		"Devices on the LAN", "Portal API keys", "Create key", "What it may call", "Installed:", "DNS through the VPN", "are asked of")
	pages := []string{"/dashboard", "/signal", "/admin", "/logs", "/sms"}
	for _, s := range wizardSteps {
		pages = append(pages, "/wizard/"+s.ID)
	}
	for i, p := range pages {
		do(t, ctx, p, chromedp.Navigate(httpsURL+p), chromedp.WaitVisible(chromedp.CSS("main h1")),
			snap(dir, fmt.Sprintf("88-%02d-%s-de", i, strings.ReplaceAll(strings.Trim(p, "/"), "/", "-"))))
		m := textOf(ctx, "main")
		for _, en := range english {
			if strings.Contains(m, en) {
				t.Errorf("%s shows %q in English", p, en)
			}
		}
		pills, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("main .pill")].map(n => n.textContent.trim())`))
		for _, pill := range pills {
			if slices.Contains(stateWords, pill) && tr("de", pill) != pill {
				t.Errorf("%s: state pill %q in English", p, pill)
			}
		}
	}
	// A time zone that is none is refused in German, with suggestions.
	tz := `[data-path="system.timezone"]`
	do(t, ctx, "time zone refused", chromedp.Navigate(httpsURL+"/wizard/time"), chromedp.WaitVisible(chromedp.CSS(tz)),
		chromedp.SetValue(chromedp.CSS(tz), "Berlin"), chromedp.Click(chromedp.CSS("#step-submit")),
		waitText(`.err[data-for="system.timezone"]`, "ist keine Zeitzone: meinten Sie Europe/Berlin"), snap(dir, "88-12-wizard-time-refused-de"))
	// The wizard's checks answer in German too, values and all.
	for _, step := range []string{"mobile", "lan", "vpn", "sip", "time"} {
		msg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const x = new XMLHttpRequest(); x.open("GET", "/api/v1/wizard/`+step+`/check", false); x.send(); return JSON.parse(x.responseText).message; })()`))
		if err != nil {
			t.Fatalf("check %s: %v", step, err)
		}
		for _, en := range english {
			if strings.Contains(msg, en) {
				t.Errorf("check %s says %q in English: %q", step, en, msg)
			}
		}
	}
}
