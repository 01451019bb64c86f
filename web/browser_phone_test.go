package web

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/net/icmp"

	"edgebox/internal/config"
	"edgebox/internal/localapi"
	"edgebox/internal/sysapi"
	"edgebox/internal/testenv"
	"edgebox/internal/update"
	"edgebox/netctl/openvpn"
)

// Phone-sized browser tests for issue 24 (the installer's first hour).
// Every page they visit is kept as a PNG: in out/screens when
// EDGEBOX_SCREENS is set (or in the folder it names, when absolute), else in the test's temporary folder.

func phoneScreens(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if v := os.Getenv("EDGEBOX_SCREENS"); v != "" {
		dir, _ = filepath.Abs(filepath.Join("..", "out", "screens"))
		if filepath.IsAbs(v) { // EDGEBOX_SCREENS=/some/dir keeps them there
			dir = v
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// phone is Chromium as a 390x844 phone.
func phone(t *testing.T) context.Context {
	t.Helper()
	ctx := browser(t, chromedp.WindowSize(390, 844))
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// snap writes the whole page as dir/name.png.
func snap(dir, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
	})
}

// waitURL waits until the page's address ends with suffix.
// waitURL waits until the page at suffix is loaded: its location alone
// changes before the new document is in, and an action in between hit a
// node of the old one ("No node with given id found", seen in a clean-clone
// make test).
func waitURL(suffix string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		return testenv.Until(20*time.Second, "page …"+suffix, func() (bool, error) {
			page, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[location.href, document.readyState]`))
			if err != nil || len(page) != 2 {
				return false, fmt.Errorf("page not read: %v", err)
			}
			return strings.HasSuffix(page[0], suffix) && page[1] == "complete", fmt.Errorf("page is %s (%s)", page[0], page[1])
		})
	})
}

func do(t *testing.T, ctx context.Context, name string, acts ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, acts...); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func login(url string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(url + "/login"),
		chromedp.WaitVisible(chromedp.CSS("#login-submit")),
		chromedp.SetValue(chromedp.CSS("#pw"), testPassword),
		chromedp.Click(chromedp.CSS("#login-submit")),
	}
}

// A new box's first HTTPS page is the wizard; the landing page offers the
// fingerprint's start and end and a QR code of the secure address (item 2).
func TestBrowserPhoneFirstPage(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	serveUnix(t, "netctl", (&fakeNetctl{}).handler())
	serveUnix(t, "gateway", fakeGateway())
	httpURL, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	ctx := phone(t)

	do(t, ctx, "landing", chromedp.Navigate(httpURL+"/"), chromedp.WaitVisible(chromedp.CSS("#fingerprint")), snap(dir, "01-landing"))
	fp := e.srv.Fingerprint()
	groups := strings.Split(fp, ":")
	short := textOf(ctx, "#fp-short")
	if !strings.HasPrefix(short, groups[0]+":"+groups[1]) || !strings.HasSuffix(short, groups[len(groups)-2]+":"+groups[len(groups)-1]) || len(short) > 20 {
		t.Errorf("short fingerprint %q (of %s)", short, fp)
	}
	src, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#qr"), "src"))
	secure := strings.Replace(httpURL, "http://", "https://", 1) + "/"
	if src.Value != string(qrDataURI(secure)) {
		t.Errorf("the QR code is not of %s", secure)
	}
	w, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.getElementById("qr").naturalWidth`))
	if err != nil || w < 100 {
		t.Errorf("QR image does not load (width %v, %v)", w, err)
	}

	// The link opens HTTPS on the port the browser used (port 80 also
	// answers HTTPS), which is the only one forwarded under make run.
	do(t, ctx, "secure link", chromedp.Click(chromedp.CSS("#secure-link")), waitURL("/setup"), chromedp.WaitVisible(chromedp.CSS("#setup-submit")), snap(dir, "01b-setup-over-https"))
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); loc != secure+"setup" {
		t.Errorf("the secure link led to %s, want %ssetup", loc, secure)
	}

	setupAdmin(t, e)
	do(t, ctx, "login on a new box", append(login(httpsURL), waitURL("/wizard/mobile"), snap(dir, "02-first-login-wizard"))...)
	// Once something is saved the box is no longer new: the dashboard.
	do(t, ctx, "save",
		chromedp.SetValue(chromedp.CSS(`[data-path="network.modem.apn"]`), "internet"),
		chromedp.Click(chromedp.CSS("#step-submit")),
		waitText("#step-form .notice", "Saved"))
	do(t, ctx, "root", chromedp.Navigate(httpsURL+"/"), waitURL("/dashboard"), snap(dir, "03-dashboard"))
}

// gatewayReporting plays the gateway with a registration the test sets.
func gatewayReporting(reg *atomic.Value) http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		localapi.WriteJSON(w, 200, map[string]any{"enabled": true, "active_calls": 0, "ice_port": 8478, "pbx": "pbx.example.net:5060", "registration": reg.Load().(string)})
	})
	return m
}

func hasClass(ctx context.Context, sel, class string) bool {
	v, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.querySelector(`+strconvQuote(sel)+`)||{classList:{contains:()=>false}}).classList.contains(`+strconvQuote(class)+`)`))
	return v
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// visibleNotices is the text of every notice on the page that shows.
func visibleNotices(ctx context.Context) []string {
	v, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".notice")].filter(n => n.offsetParent !== null && !n.hidden).map(n => n.textContent.trim())`))
	return v
}

// The wizard says what is true (issue 24 item 3): an empty APN is named,
// stale notices go, secrets can be shown, unsaved input is not dropped
// silently, ticks come from the services, and the PBX, WAN, SIP and time
// steps say what happened in words.
func TestBrowserPhoneWizardHonesty(t *testing.T) {
	var clockSet atomic.Value
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c", SetClock: func(t time.Time) error { clockSet.Store(t); return nil }})
	nc := &fakeNetctl{vpnState: openvpn.StateNoProfile}
	serveUnix(t, "netctl", nc.handler())
	var reg atomic.Value
	reg.Store("registering")
	serveUnix(t, "gateway", gatewayReporting(&reg))
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	ctx := phone(t)
	pin := `[data-path="network.modem.pin"]`
	apn := `[data-path="network.modem.apn"]`

	do(t, ctx, "login", append(login(httpsURL), waitURL("/wizard/mobile"))...)
	// Ticks mean working: the LAN has its address, the VPN has no profile.
	if !hasClass(ctx, "#step-lan", "done") || hasClass(ctx, "#step-vpn", "done") || hasClass(ctx, "#step-mobile", "done") {
		t.Errorf("ticks: lan %v vpn %v mobile %v", hasClass(ctx, "#step-lan", "done"), hasClass(ctx, "#step-vpn", "done"), hasClass(ctx, "#step-mobile", "done"))
	}
	if ph, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(apn), "placeholder")); !strings.HasPrefix(ph.Value, "e.g.") {
		t.Errorf("APN placeholder %q looks like a value", ph.Value)
	}
	do(t, ctx, "empty APN", chromedp.Click(chromedp.CSS("#step-submit")), waitText("#check", "No APN: the box cannot connect"), snap(dir, "10-wizard-empty-apn"))

	// A good save, then a bad PIN: the old "Saved" must not stay beside the error.
	do(t, ctx, "bad PIN",
		chromedp.SendKeys(chromedp.CSS(apn), "internet.example"),
		chromedp.Click(chromedp.CSS("#step-submit")), waitText("#step-form .notice", "Saved"), waitText("#check", "Modem connected"),
		chromedp.SendKeys(chromedp.CSS(pin), "12ab"),
		chromedp.Click(chromedp.CSS("#step-submit")), waitText(`.err[data-for="network.modem.pin"]`, "4 to 8 digits"))
	if n := textOf(ctx, "#step-form .notice"); strings.Contains(n, "Saved") {
		t.Errorf("stale notice %q beside the PIN error", n)
	}
	if c := textOf(ctx, "#check"); c != "" {
		t.Errorf("stale check %q beside the PIN error", c)
	}
	// Show/hide on the PIN.
	do(t, ctx, "show PIN", chromedp.Click(chromedp.CSS(`[aria-controls="f-network.modem.pin"]`)), snap(dir, "11-wizard-pin-error-shown"))
	if typ, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(pin), "type")); typ.Value != "text" {
		t.Errorf("PIN field is %q after Show", typ.Value)
	}
	// Unsaved input: Next warns once, then goes.
	do(t, ctx, "next with unsaved input", chromedp.Click(chromedp.CSS("#next-step")), waitText("#page-notice", "not saved"), snap(dir, "12-wizard-unsaved-warning"))
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasSuffix(loc, "/wizard/mobile") {
		t.Errorf("Next left unsaved input for %s", loc)
	}
	do(t, ctx, "next again", chromedp.Click(chromedp.CSS("#next-step")), waitURL("/wizard/wan"))
	// Back shows what the box has, not what was typed and dropped.
	do(t, ctx, "back", chromedp.NavigateBack(), waitURL("/wizard/mobile"), chromedp.WaitVisible(chromedp.CSS(pin)))
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(pin))); v != "" {
		t.Errorf("after Back the PIN field shows %q, which the box does not have", v)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(apn))); v != "internet.example" {
		t.Errorf("after Back the APN field shows %q, the box has internet.example", v)
	}
	do(t, ctx, "forward", chromedp.Navigate(httpsURL+"/wizard/wan"))

	// The LAN step lists who got an address from the box.
	do(t, ctx, "lan leases", chromedp.Navigate(httpsURL+"/wizard/lan"), waitText("#leases", "installer-phone"), snap(dir, "13-wizard-lan-leases"))
	if l := textOf(ctx, "#leases"); !strings.Contains(l, "192.168.1.100") || !strings.Contains(l, "3a:5c:11:90:ab:cd") || !strings.Contains(l, "192.168.1.199") {
		t.Errorf("leases: %q", l)
	}
	do(t, ctx, "to wan", chromedp.Navigate(httpsURL+"/wizard/wan"))

	// WAN without cable.
	do(t, ctx, "wan", chromedp.WaitVisible(chromedp.CSS("#step-submit")), chromedp.Click(chromedp.CSS("#step-submit")), waitText("#check", "No cable in the WAN port"), snap(dir, "13-wizard-wan"))

	// SIP: no port means 5060; an unreachable PBX is not a password problem.
	reg.Store("unreachable: The PBX at pbx.example.net:5060 does not answer: check the address and that the PBX runs.")
	do(t, ctx, "sip", chromedp.Navigate(httpsURL+"/wizard/sip"), chromedp.WaitVisible(chromedp.CSS("#step-submit")),
		chromedp.SendKeys(chromedp.CSS(`[data-path="gateway.pbx.address"]`), "pbx.example.net"),
		chromedp.SendKeys(chromedp.CSS(`[data-path="gateway.trunk.username"]`), "edgebox17"),
		chromedp.Click(chromedp.CSS("#step-submit")), waitText("#check", "does not answer"), snap(dir, "14-wizard-sip-unreachable"))
	if c := textOf(ctx, "#check"); strings.Contains(c, "password") {
		t.Errorf("unreachable PBX reported as %q", c)
	}
	cfg, _ := e.srv.loadConfig()
	if hp := cfg.Gateway.PBX.HostPort(); hp != "pbx.example.net:5060" {
		t.Errorf("PBX without a port is %s", hp)
	}
	// SIP only over the VPN: the listener's interface.
	do(t, ctx, "sip over the VPN only", chromedp.SendKeys(chromedp.CSS(`[data-path="gateway.sip.listen[0].interface"]`), "tun0"),
		chromedp.Click(chromedp.CSS("#step-submit")), waitText("#step-form .notice", "Saved"))
	cfg, _ = e.srv.loadConfig()
	if l := cfg.Gateway.SIP.Listen; len(l) != 1 || l[0].Interface != "tun0" || l[0].Address == "" {
		t.Errorf("SIP listeners %+v", l)
	}
	reg.Store("rejected: The PBX answered 403 Forbidden: check the trunk user name and password.")
	do(t, ctx, "sip rejected", chromedp.Click(chromedp.CSS("#step-submit")), waitText("#check", "check user name and password"))

	// Time: a city alone is refused with the zone it means; the clock shows in the zone.
	tz := `[data-path="system.timezone"]`
	do(t, ctx, "time zone", chromedp.Navigate(httpsURL+"/wizard/time"), chromedp.WaitVisible(chromedp.CSS("#step-submit")),
		chromedp.SendKeys(chromedp.CSS(tz), "Berlin"), chromedp.Click(chromedp.CSS("#step-submit")),
		waitText(`.err[data-for="system.timezone"]`, "Europe/Berlin"), snap(dir, "15-wizard-time-zone-refused"),
		chromedp.SetValue(chromedp.CSS(tz), "Europe/Berlin"), chromedp.Click(chromedp.CSS("#step-submit")),
		waitText("#check", "Europe/Berlin time"))
	do(t, ctx, "phone time", chromedp.Click(chromedp.CSS("#phone-time")), waitText("#step-form .notice", "matches the phone"), snap(dir, "16-wizard-time-phone"))
	if v, _ := clockSet.Load().(time.Time); time.Since(v).Abs() > time.Minute {
		t.Errorf("clock set to %v", v)
	}
	for _, n := range [][]string{visibleNotices(ctx)} {
		seen := map[string]bool{}
		for _, s := range n {
			if seen[s] {
				t.Errorf("notice %q shows twice", s)
			}
			seen[s] = true
		}
	}

	// The VPN connects: its tick comes from netctl's status, on any page load.
	nc.mu.Lock()
	nc.vpnState = openvpn.StateConnected
	nc.mu.Unlock()
	reg.Store("registered")
	do(t, ctx, "ticks", chromedp.Navigate(httpsURL+"/wizard/gateway"), chromedp.WaitVisible(chromedp.CSS("#step-submit")), snap(dir, "17-wizard-ticks"))
	for _, id := range []string{"vpn", "sip", "mobile", "lan", "time"} {
		if !hasClass(ctx, "#step-"+id, "done") {
			t.Errorf("step %s is working but has no tick", id)
		}
	}
}

// Pages speak in words (issue 24 item 4): sizes in MiB as the help says,
// no build paths, no "Applied live by", no Go timeouts, log lines
// rendered instead of key=value.
func TestBrowserPhoneWords(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	e.init.mu.Lock()
	e.init.logs["netctl"] = []sysapi.LogLine{{Seq: 1, Time: time.Now(), Text: `time=2026-12-07T03:00:00Z level=WARN msg="modem registration lost" operator=Vodafone.de reason="network detached"`}}
	e.init.mu.Unlock()
	// netctl hangs: the dashboard's status gives up after its timeout.
	hang := http.NewServeMux()
	hang.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
		}
	})
	serveUnix(t, "netctl", hang)
	serveUnix(t, "gateway", fakeGateway())
	setupAdmin(t, e)
	os.WriteFile(e.srv.opt.ConfigPath, []byte("{}"), 0o600) // not a new box: login goes to the dashboard
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	ctx := phone(t)

	do(t, ctx, "dashboard", append(login(httpsURL), waitURL("/dashboard"), chromedp.WaitVisible(chromedp.CSS("#card-services")), snap(dir, "20-dashboard-netctl-hangs"))...)
	if m := textOf(ctx, "main"); strings.Contains(m, "deadline") || strings.Contains(m, "http://unix") || !strings.Contains(m, "no answer in time") {
		t.Errorf("dashboard says %q", m)
	}
	do(t, ctx, "logs", chromedp.Navigate(httpsURL+"/logs?service=netctl"), waitText("main", "modem registration lost"), snap(dir, "21-logs"))
	if m := textOf(ctx, "main table"); strings.Contains(m, "msg=") || strings.Contains(m, "level=") || !strings.Contains(m, "operator: Vodafone.de") || !strings.Contains(m, "reason: network detached") {
		t.Errorf("log line shown as %q", m)
	}

	big := filepath.Join(t.TempDir(), "big.ovpn")
	os.WriteFile(big, []byte(strings.Repeat("# padding\n", 500_000)), 0o600)
	do(t, ctx, "big profile", chromedp.Navigate(httpsURL+"/wizard/vpn"), chromedp.WaitVisible(chromedp.CSS("#vpn-form")),
		chromedp.SetUploadFiles(chromedp.CSS("#profile"), []string{big}), chromedp.Click(chromedp.CSS("#step-submit")),
		waitText("#vpn-form", "too large"), snap(dir, "22-vpn-too-large"))
	if m := textOf(ctx, "#vpn-form"); !strings.Contains(m, "4 MiB") || strings.Contains(m, "bytes") {
		t.Errorf("too-large profile: %q", m)
	}

	junk := filepath.Join(t.TempDir(), "photo.jpg")
	os.WriteFile(junk, []byte("\xff\xd8\xff\xe0 not firmware"), 0o600)
	do(t, ctx, "wrong firmware file", chromedp.Navigate(httpsURL+"/admin"), chromedp.WaitVisible(chromedp.CSS("#fw-form")),
		chromedp.SetUploadFiles(chromedp.CSS("#fw"), []string{junk}), chromedp.Click(chromedp.CSS("#fw-form button[type=submit]")),
		waitText("#fw-form", "this is a document or a picture, not firmware: choose the .bundle file"), snap(dir, "23-firmware-wrong-file"))
	if m := textOf(ctx, "#fw-form"); strings.Contains(m, "make image") || strings.Contains(m, "out/") {
		t.Errorf("firmware refusal: %q", m)
	}

	do(t, ctx, "save", chromedp.Navigate(httpsURL+"/wizard/time"), chromedp.WaitVisible(chromedp.CSS("#step-submit")),
		chromedp.SetValue(chromedp.CSS(`[data-path="system.timezone"]`), "Europe/Berlin"), // a form sends only what changed
		chromedp.Click(chromedp.CSS("#step-submit")), waitText("#step-form .notice", "Saved"))
	if n := textOf(ctx, "#step-form .notice"); strings.Contains(n, "Applied live by") || strings.Contains(n, "netctl") {
		t.Errorf("save notice %q", n)
	}
}

// A ping whose target does not answer is not a "reply" from the box's own
// address (issue 24 item 6): the box's modem link 10.64.64.15/24 in a
// namespace, the carrier's 10.64.64.1 behind it, silent at first (the
// kernel answers host-unreachable from 10.64.64.15), then answering.
func TestBrowserPhoneDiagPingOwnAddress(t *testing.T) {
	testenv.RequireRoot(t, "ip")
	id := fmt.Sprint(os.Getpid())
	box, carrier := "ebdiag-box-"+id, "ebdiag-carrier-"+id
	for _, ns := range []string{box, carrier} {
		testenv.NewNetns(t, ns)
	}
	ipCmd(t, "link", "add", "wwan0", "netns", box, "type", "veth", "peer", "name", "eth0", "netns", carrier)
	for _, c := range [][]string{
		{box, "addr", "add", "10.64.64.15/24", "dev", "wwan0"}, {box, "link", "set", "wwan0", "up"}, {box, "link", "set", "lo", "up"},
		{carrier, "addr", "add", "10.64.64.1/24", "dev", "eth0"}, {carrier, "link", "set", "eth0", "up"},
	} {
		ipCmd(t, append([]string{"-n", c[0]}, c[1:]...)...)
	}
	// The carrier answers no ARP at first: the box's kernel reports
	// the target unreachable from its own address, as on a dead link.
	ipCmd(t, "-n", carrier, "link", "set", "eth0", "arp", "off")
	icmpInNetns(t, box)

	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	serveUnix(t, "netctl", (&fakeNetctl{}).handler())
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	ctx := phone(t)
	do(t, ctx, "login", append(login(httpsURL), waitURL("/wizard/mobile"))...)
	pingIt := func(name string) string {
		t.Helper()
		do(t, ctx, name+" open", chromedp.Navigate(httpsURL+"/admin"), chromedp.WaitVisible(chromedp.CSS("#diag-form")))
		do(t, ctx, name+" fill", chromedp.SetValue(chromedp.CSS("#tool"), "ping"), chromedp.SetValue(chromedp.CSS("#target"), "10.64.64.1"))
		do(t, ctx, name+" run", chromedp.Click(chromedp.CSS("#diag-form button")))
		do(t, ctx, name+" wait", waitText("#diag-form pre.out", "lost"))
		do(t, ctx, name+" snap", snap(dir, "30-"+name))
		return textOf(ctx, "#diag-form pre.out")
	}
	out := pingIt("ping-unreachable")
	if strings.Contains(out, "reply from") || !strings.Contains(out, "0 answered") {
		t.Errorf("ping of a silent 10.64.64.1:\n%s", out)
	}
	ipCmd(t, "-n", carrier, "link", "set", "eth0", "arp", "on")
	out = pingIt("ping-answered")
	if !strings.Contains(out, "reply from 10.64.64.1:") || strings.Contains(out, "10.64.64.15") {
		t.Errorf("ping of an answering 10.64.64.1:\n%s", out)
	}
}

// bundleFile writes a signed update bundle of version for board qemu.
func bundleFile(t *testing.T, version string) string {
	t.Helper()
	dir := t.TempDir()
	imgs := map[string]string{}
	for _, slot := range update.Slots {
		p := filepath.Join(dir, slot+".img")
		os.WriteFile(p, bytes.Repeat([]byte(slot+version), 64<<10/len(slot+version)+1)[:64<<10], 0o600)
		imgs[slot] = p
	}
	_, key, _ := ed25519.GenerateKey(nil)
	path := filepath.Join(dir, "edgebox-"+version+".bundle")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := update.BuildBundle(f, update.Manifest{Version: version, Boards: []string{"qemu"}, Created: time.Now()}, imgs, []ed25519.PrivateKey{key}); err != nil {
		t.Fatal(err)
	}
	return path
}

// The firmware page shows the installed and the chosen version before
// installing, warns on the same or an older one (installing that needs a
// deliberate tick), and offers "Reboot now" after the install (item 7).
func TestBrowserPhoneFirmware(t *testing.T) {
	e := newTestEnv(t, false, Options{Hostname: "edgebox-4f2a1c"})
	e.init = &fakeInit{version: "1.4.0", services: []sysapi.Service{{Name: "web", State: sysapi.StateRunning}}, logs: map[string][]sysapi.LogLine{}}
	serveUnix(t, sysapi.SocketName, e.init.handler())
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	ctx := phone(t)
	do(t, ctx, "login", append(login(httpsURL), waitURL("/wizard/mobile"))...)
	choose := func(name, path, want string) {
		t.Helper()
		do(t, ctx, name, chromedp.Navigate(httpsURL+"/admin"), chromedp.WaitVisible(chromedp.CSS("#fw-form")),
			chromedp.SetUploadFiles(chromedp.CSS("#fw"), []string{path}), waitText("#fw-info", want))
	}
	choose("same", bundleFile(t, "1.4.0"), "already installed")
	if c := textOf(ctx, "#fw-current"); c != "1.4.0" {
		t.Errorf("installed version shown as %q", c)
	}
	do(t, ctx, "same shot", chromedp.ScrollIntoView(chromedp.CSS("#fw-form")), snap(dir, "40-firmware-same"))

	older := bundleFile(t, "1.3.2")
	choose("older", older, "older than the installed 1.4.0")
	do(t, ctx, "older install refused", chromedp.Click(chromedp.CSS("#fw-submit")), waitText("#fw-form", "older than the running"), snap(dir, "41-firmware-older"))
	if i := textOf(ctx, "#fw-info"); !strings.Contains(i, "older than the installed") {
		t.Errorf("the refusal replaced the version comparison: %q", i)
	}
	do(t, ctx, "older install on purpose", chromedp.Click(chromedp.CSS("#fw-downgrade")), chromedp.Click(chromedp.CSS("#fw-submit")), waitText("#fw-form", "Installed into slot B"))

	choose("newer", bundleFile(t, "1.5.0"), "Installed: 1.4.0. This file: 1.5.0 (newer)")
	if v, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("fw-reboot").offsetParent !== null`)); v {
		t.Error("Reboot now shows before the install")
	}
	do(t, ctx, "newer install", chromedp.Click(chromedp.CSS("#fw-submit")), waitText("#fw-form", "Installed into slot B"),
		chromedp.WaitVisible(chromedp.CSS("#fw-reboot")), snap(dir, "42-firmware-installed"),
		chromedp.Click(chromedp.CSS("#fw-reboot")), waitText("#page-notice", "Rebooting"))
	e.init.mu.Lock()
	defer e.init.mu.Unlock()
	if fmt.Sprint(e.init.installs) != "[1.3.2 1.5.0]" || fmt.Sprint(e.init.power) != "[reboot]" {
		t.Errorf("installs %v, power %v", e.init.installs, e.init.power)
	}
}

// The signal page shows the LTE figures with bars and follows them every
// second; the SIM's details and its operator's usual APN, which the
// mobile step offers to fill in (issue 24, LuCI/Teltonika additions).
func TestBrowserPhoneSignalAndSIM(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	nc := &fakeNetctl{rsrp: -112, band: "LTE BAND 20", number: "+491701234567"}
	serveUnix(t, "netctl", nc.handler())
	serveUnix(t, "gateway", fakeGateway())
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	ctx := phone(t)
	do(t, ctx, "login", append(login(httpsURL), waitURL("/wizard/mobile"))...)
	do(t, ctx, "apn suggestion", waitText("#apn-suggest", "web.vodafone.de"), snap(dir, "50-wizard-apn-suggestion"),
		chromedp.Click(chromedp.CSS("#apn-suggest button")))
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`[data-path="network.modem.apn"]`))); v != "web.vodafone.de" {
		t.Errorf("Use it filled in %q", v)
	}
	do(t, ctx, "signal", chromedp.Navigate(httpsURL+"/signal"), waitText(`[data-meter="RSRP"]`, "-112 dBm"), snap(dir, "51-signal-weak"))
	main := textOf(ctx, "main")
	for _, want := range []string{"-11.5 dB", "14.2 dB", "01A2D30F", "8949022012345678901", "262021234567890", "PIN tries left\n3", "web.vodafone.de"} {
		if !strings.Contains(main, want) {
			t.Errorf("signal page lacks %q", want)
		}
	}
	if got := textOf(ctx, "#band"); got != "LTE BAND 20" {
		t.Errorf("band %q, want LTE BAND 20", got)
	}
	if got := textOf(ctx, "#sim-number"); got != "+491701234567" {
		t.Errorf("phone number %q, want +491701234567", got)
	}
	if !hasClass(ctx, ".meter .bars", "b0") {
		t.Error("RSRP -112 dBm should show no bars")
	}
	// The antenna is turned: the page follows without a reload.
	nc.mu.Lock()
	nc.rsrp = -84
	nc.mu.Unlock()
	do(t, ctx, "signal follows", waitText(`[data-meter="RSRP"]`, "-84 dBm"), snap(dir, "52-signal-better"))
	if !hasClass(ctx, ".meter .bars", "b3") {
		t.Error("RSRP -84 dBm should show 3 bars")
	}
}

// "Download support bundle" gives one file with every service's status
// and log, the versions and the config without its secrets.
func TestBrowserPhoneSupportBundle(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c", Version: "1.4.0"})
	serveUnix(t, "netctl", (&fakeNetctl{}).handler())
	serveUnix(t, "gateway", fakeGateway())
	c := config.Default()
	c.Gateway.Trunk.Username, c.Gateway.Trunk.Password = "edgebox17", "trunk-secret-1"
	c.Network.Modem.APN, c.Network.Modem.PIN = "internet", "4321"
	if err := config.Save(e.srv.opt.ConfigPath, c); err != nil {
		t.Fatal(err)
	}
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	ctx := phone(t)
	do(t, ctx, "download", append(login(httpsURL), waitURL("/dashboard"), chromedp.Navigate(httpsURL+"/admin"),
		chromedp.Click(chromedp.CSS("#support-submit")), waitText("#support-form .notice", "Support bundle saved as edgebox-support-edgebox-4f2a1c-"),
		chromedp.ScrollIntoView(chromedp.CSS("#support-form")), snap(dir, "60-support-bundle"))...)
	b64, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch("/api/v1/support-bundle", {method: "POST", headers: {"Content-Type": "application/json", "X-CSRF-Token": document.querySelector('meta[name="csrf"]').content}, body: "{}"}).then(r => r.arrayBuffer()).then(b => { let s = ""; for (const x of new Uint8Array(b)) s += String.fromCharCode(x); return btoa(s); })`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(b64)
	gz, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not a .tar.gz: %v", err)
	}
	files := map[string]string{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(tr)
		files[strings.TrimPrefix(h.Name, "edgebox-support/")] = string(b)
	}
	for _, want := range []struct{ file, text string }{
		{"config.json", "edgebox17"}, {"config.json", "internet"}, {"versions.json", "test-1"}, {"versions.json", "1.4.0"},
		{"status.json", "Vodafone.de"}, {"status.json", "pbx.example.net"}, {"logs/netctl.log", "netctl: started"}, {"logs/web.log", ""},
	} {
		if f, ok := files[want.file]; !ok || !strings.Contains(f, want.text) {
			t.Errorf("%s lacks %q (files: %d)", want.file, want.text, len(files))
		}
	}
	for name, f := range files {
		if strings.Contains(f, "trunk-secret-1") || strings.Contains(f, "4321") {
			t.Errorf("%s carries a secret", name)
		}
	}
}

// The quick tests: internet (DNS and HTTPS to an address) and VPN (a ping
// to the tunnel's server address) from the admin page.
func TestBrowserPhoneQuickTests(t *testing.T) {
	testenv.RequireRoot(t, "ip") // a network namespace for the VPN ping
	site := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	t.Cleanup(site.Close)
	// The VPN ping goes into an empty namespace of the test's: no traffic leaves.
	ns := "ebquick-" + fmt.Sprint(os.Getpid())
	testenv.NewNetns(t, ns)
	icmpInNetns(t, ns)

	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	serveUnix(t, "netctl", (&fakeNetctl{vpnState: openvpn.StateConnected}).handler())
	serveUnix(t, "gateway", fakeGateway())
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	ctx := phone(t)
	do(t, ctx, "admin", append(login(httpsURL), waitURL("/wizard/mobile"), chromedp.Navigate(httpsURL+"/admin"), chromedp.WaitVisible(chromedp.CSS("#test-internet")))...)

	// A certificate the box does not trust is named as such.
	port := site.Listener.Addr().(*net.TCPAddr).Port
	do(t, ctx, "internet untrusted", chromedp.SetValue(chromedp.CSS("#test-url"), fmt.Sprintf("https://localhost:%d/", port)),
		chromedp.Click(chromedp.CSS("#test-internet")), waitText("#diag-form pre.out", "HTTPS:"), snap(dir, "70-test-internet-untrusted"))
	if out := textOf(ctx, "#diag-form pre.out"); !strings.Contains(out, "DNS: localhost is") || !strings.Contains(out, "certificate the box does not trust") {
		t.Errorf("internet test, untrusted certificate:\n%s", out)
	}
	oldT := internetTransport
	internetTransport = site.Client().Transport
	t.Cleanup(func() { internetTransport = oldT })
	do(t, ctx, "internet works", chromedp.SetValue(chromedp.CSS("#test-url"), site.URL),
		chromedp.Click(chromedp.CSS("#test-internet")), waitText("#diag-form pre.out", "the internet works"), snap(dir, "71-test-internet-ok"))
	if out := textOf(ctx, "#diag-form pre.out"); !strings.Contains(out, "200 OK") {
		t.Errorf("internet test:\n%s", out)
	}
	do(t, ctx, "vpn", chromedp.Click(chromedp.CSS("#test-vpn")), waitText("#diag-form pre.out", "lost"), snap(dir, "72-test-vpn"))
	if out := textOf(ctx, "#diag-form pre.out"); !strings.Contains(out, "PING 10.8.0.1") || strings.Contains(out, "reply from") || strings.Contains(out, "sendto") || !strings.Contains(out, "no route there") {
		t.Errorf("VPN test:\n%s", out)
	}
}

// English and German: a German phone gets German pages, the footer
// switches (issue 24: languages, strings in one place).
func TestBrowserPhoneGerman(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	serveUnix(t, "netctl", (&fakeNetctl{}).handler())
	serveUnix(t, "gateway", fakeGateway())
	httpURL, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	ctx := browser(t, chromedp.WindowSize(390, 844), chromedp.Flag("accept-lang", "de-DE,de"))
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "landing", chromedp.Navigate(httpURL+"/"), waitText("main", "Zertifikat prüfen"), snap(dir, "80-landing-de"))
	do(t, ctx, "setup", chromedp.Navigate(httpsURL+"/setup"), waitText("#setup-submit", "Passwort setzen"))
	setupAdmin(t, e)
	do(t, ctx, "login", chromedp.Navigate(httpsURL+"/login"), waitText("#login-submit", "Anmelden"), snap(dir, "81-login-de"),
		chromedp.SetValue(chromedp.CSS("#pw"), testPassword), chromedp.Click(chromedp.CSS("#login-submit")),
		waitURL("/wizard/mobile"), waitText("h1", "Einrichtung: Mobilfunk"), snap(dir, "82-wizard-de"))
	if m := textOf(ctx, "main"); !strings.Contains(m, "Mobilfunkmodem verwenden") || !strings.Contains(m, "Speichern und anwenden") || !strings.Contains(m, "Zeigen") || !strings.Contains(m, "Übernehmen") {
		t.Errorf("wizard not in German: %q", m)
	}
	do(t, ctx, "empty APN in German", chromedp.Click(chromedp.CSS("#step-submit")), waitText("#check", "Kein APN: die Box kann sich nicht"))
	do(t, ctx, "to English", chromedp.Click(chromedp.CSS("#lang-en")), waitURL("/wizard/mobile"), waitText("h1", "Setup: Mobile"))
}

// Every German string translates text the pages really show: their own,
// or a message of a service or check the pages pass on (trMessage).
func TestCatalogKeysAreUsed(t *testing.T) {
	var src strings.Builder
	for _, glob := range []string{"ui/templates/*.html", "*.go", "ui/static/app.js",
		"../internal/*/*.go", "../netctl/*.go", "../netctl/openvpn/*.go", "../gateway/*.go", "../modem/*.go",
		"../api/*/*.go", "../init/*.go"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, _ := os.ReadFile(f)
			src.Write(b)
		}
	}
	text := strings.ReplaceAll(src.String(), `\"`, `"`)
	// a key with values (a verb, or a number the source writes with one)
	// is shown when each of its literal pieces is in the source
	pieces := regexp.MustCompile(`%(\[\d+\])?[-+# 0-9.]*[a-zA-Z]|\d+`)
	for k := range catalogs()["de"] {
		if strings.Contains(text, k) {
			continue
		}
		found := false
		for _, p := range pieces.Split(k, -1) {
			p = strings.Trim(p, " ()[]:;,.")
			if len(p) < 5 {
				continue
			}
			if found = strings.Contains(text, p); !found {
				break
			}
		}
		if !found {
			t.Errorf("de.json translates %q, which no page shows", k)
		}
	}
}

// icmpInNetns makes the diagnostics open their ICMP sockets in the
// test's namespace ns, so no probe leaves it.
func icmpInNetns(t *testing.T, ns string) {
	old := openICMP
	openICMP = func() (c *icmp.PacketConn, raw bool, err error) {
		err = testenv.DoIn(ns, func() error {
			var e error
			c, raw, e = icmpConn()
			return e
		})
		return
	}
	t.Cleanup(func() { openICMP = old })
}
