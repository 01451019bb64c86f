package web

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"edgebox/internal/sysapi"
	"edgebox/internal/testenv"
	"edgebox/netctl/openvpn"
)

// screenshotDir is where the browser tests leave their PNGs: out/ at the
// repository root, so they survive the test and can be looked at.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("EDGEBOX_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "out", "web-screenshots")
	}
	abs, _ := filepath.Abs(dir)
	if err := os.MkdirAll(abs, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", abs)
	return abs
}

// browser starts headless Chromium with a fresh profile.
func browser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	bin := "/usr/bin/chromium"
	if _, err := exec.LookPath(bin); err != nil {
		t.Fatalf("chromium not installed (scripts/deps.sh installs it): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	}
	opts = append(opts, extra...)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 150*time.Second)
	t.Cleanup(cancel3)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// liveServer runs the real Serve (filtering listener, TLS) on loopback.
func liveServer(t *testing.T, e *testEnv) (httpURL, httpsURL string) {
	t.Helper()
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.srv.opt.HTTPSAddr = sl.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, hl, sl) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + hl.Addr().String(), "https://" + sl.Addr().String()
}

func shot(dir, name string, mobile bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if mobile {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
				return err
			}
			defer chromedp.Do(ctx, chromedp.EmulateViewport(1200, 900))
		}
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
	})
}

func textOf(ctx context.Context, sel string) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	return s
}

func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		return testenv.Until(20*time.Second, fmt.Sprintf("%s showing %q", sel, want), func() (bool, error) {
			got := textOf(ctx, sel)
			return strings.Contains(got, want), fmt.Errorf("%s: %q does not contain %q", sel, got, want)
		})
	})
}

// TestBrowserInstallerFlow drives Chromium through first boot, every
// wizard step, a VPN profile upload, the dashboard, SMS, admin and a new
// login, writing a screenshot of each page.
func TestBrowserInstallerFlow(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c", Version: "1.0.0-test"})
	e.init.mu.Lock()
	e.init.services = append(e.init.services, sysapi.Service{Name: "gateway", State: sysapi.StateRunning, PID: 31, Restarts: 3, UptimeSec: 7200, LastExit: "exit status 1"})
	e.init.services[0].UptimeSec = 86000
	e.init.services[1].UptimeSec = 86000
	e.init.logs["netctl"] = []sysapi.LogLine{
		{Seq: 1, Time: time.Now().Add(-3 * time.Minute), Text: `level=INFO msg="modem registered" operator=Vodafone.de tech=lte`},
		{Seq: 2, Time: time.Now().Add(-2 * time.Minute), Text: `level=INFO msg="uplink switched" from=wan to=modem reason="wan no carrier"`},
		{Seq: 3, Time: time.Now().Add(-1 * time.Minute), Text: `level=INFO msg="dhcp lease" iface=usb0 addr=10.64.12.7/30`},
	}
	e.init.mu.Unlock()
	nc := &fakeNetctl{vpnState: openvpn.StateNoProfile, sms: []smsMessage{{ID: "1", From: "+4917012345", Text: "Your data bundle has been renewed.", Time: time.Now().Add(-2 * time.Hour)}}}
	serveUnix(t, "netctl", nc.handler())
	serveUnix(t, "gateway", fakeGateway())
	httpURL, httpsURL := liveServer(t, e)
	dir := screenshotDir(t)
	ctx := browser(t)

	profile := filepath.Join(t.TempDir(), "office.ovpn")
	os.WriteFile(profile, []byte("client\ndev tun\nproto udp\nremote vpn.example.net 1194\n<ca>\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n</ca>\n"), 0o600)

	run := func(name string, acts ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, acts...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	var fp string
	run("landing over HTTP",
		chromedp.Navigate(httpURL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#fingerprint")),
		shot(dir, "01-landing-http", false),
		shot(dir, "01-landing-http-phone", true),
	)
	fp = textOf(ctx, "#fingerprint")
	if fp != e.srv.Fingerprint() {
		t.Fatalf("landing page shows fingerprint %q, want %q", fp, e.srv.Fingerprint())
	}
	// Over HTTPS every page leads to the first-boot form.
	run("first boot",
		chromedp.Navigate(httpsURL+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS("#setup-submit")),
		chromedp.SendKeys(chromedp.CSS("#pw"), "short"),
		chromedp.SendKeys(chromedp.CSS("#pw2"), "short"),
		chromedp.Click(chromedp.CSS("#setup-submit")),
		waitText(`.err[data-for="password"]`, "at least 12"),
		shot(dir, "02-setup-error", false),
		chromedp.SetValue(chromedp.CSS("#pw"), testPassword),
		chromedp.SetValue(chromedp.CSS("#pw2"), testPassword),
		chromedp.Click(chromedp.CSS("#setup-submit")),
		chromedp.WaitVisible(chromedp.CSS("#step-form")),
	)
	if !e.srv.accounts.HasAdmin() {
		t.Fatal("admin password not set after the setup form")
	}

	// Mobile: a bad PIN first (the error shows next to the field), then good values.
	run("mobile step",
		chromedp.SendKeys(chromedp.CSS(`[data-path="network.modem.apn"]`), "internet.example"),
		chromedp.SendKeys(chromedp.CSS(`[data-path="network.modem.pin"]`), "12ab"),
		chromedp.Click(chromedp.CSS("#step-submit")),
	)
	// Whether the PIN rule exists depends on the network section's
	// Validate; the page must show either a field error or success.
	run("mobile result",
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			fieldError := false
			if err := testenv.Until(15*time.Second, "a result after saving the mobile step", testenv.Cond(func() bool {
				fieldError = textOf(ctx, `.err[data-for="network.modem.pin"]`) != ""
				return fieldError || strings.Contains(textOf(ctx, "#step-form .notice"), "Saved")
			})); err != nil || !fieldError {
				return err
			}
			// Fix the PIN and save again.
			return chromedp.Do(ctx,
				shot(dir, "03-mobile-field-error", false),
				chromedp.SetValue(chromedp.CSS(`[data-path="network.modem.pin"]`), "1234"),
				chromedp.Click(chromedp.CSS("#step-submit")),
				waitText("#step-form .notice", "Saved"))
		}),
		waitText("#check", "Modem connected on Vodafone.de"),
		shot(dir, "03-wizard-mobile", false),
		shot(dir, "03-wizard-mobile-phone", true),
	)
	cfg, err := e.srv.loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := toDoc(cfg)
	if v, _ := getPath(doc, "network.modem.apn"); v != "internet.example" {
		t.Fatalf("APN stored as %v", v)
	}

	// Every other step: open, save, see the result.
	steps := []struct{ id, want string }{{"wan", "No cable in the WAN port"}, {"lan", "LAN eth0 has 192.168.1.1/24"}, {"sip", "Trunk registered"}, {"gateway", "Applied by the gateway"}, {"time", "clock"}}
	for _, st := range steps {
		acts := []chromedp.Action[chromedp.Void]{chromedp.Navigate(httpsURL + "/wizard/" + st.id), chromedp.WaitVisible(chromedp.CSS("#step-form"))}
		switch st.id {
		case "sip":
			acts = append(acts,
				chromedp.SendKeys(chromedp.CSS(`[data-path="gateway.pbx.address"]`), "pbx.example.net:5060"),
				chromedp.SendKeys(chromedp.CSS(`[data-path="gateway.trunk.username"]`), "edgebox17"),
				chromedp.SendKeys(chromedp.CSS(`[data-path="gateway.trunk.password"]`), "trunk-secret-1"))
		case "time":
			acts = append(acts, chromedp.SendKeys(chromedp.CSS(`[data-path="system.ntp"]`), "ntp1.example.net, ntp2.example.net"))
		}
		acts = append(acts, chromedp.Click(chromedp.CSS("#step-submit")), waitText("#check", st.want),
			shot(dir, "04-wizard-"+st.id, false))
		run("step "+st.id, acts...)
	}
	cfg, _ = e.srv.loadConfig()
	doc, _ = toDoc(cfg)
	if v, _ := getPath(doc, "gateway.trunk.password"); v != "trunk-secret-1" {
		t.Fatalf("trunk password stored as %v", v)
	}
	if v, _ := getPath(doc, "system.ntp"); fmt.Sprint(v) != "[ntp1.example.net ntp2.example.net]" {
		t.Fatalf("ntp stored as %v", v)
	}
	// The secret is never sent back to the browser.
	run("sip secret hidden", chromedp.Navigate(httpsURL+"/wizard/sip"), chromedp.WaitVisible(chromedp.CSS("#step-form")))
	html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if strings.Contains(html, "trunk-secret-1") {
		t.Fatal("the trunk password appears in the page")
	}

	run("vpn upload",
		chromedp.Navigate(httpsURL+"/wizard/vpn"),
		chromedp.WaitVisible(chromedp.CSS("#vpn-form")),
		chromedp.SetUploadFiles(chromedp.CSS("#profile"), []string{profile}),
		chromedp.Click(chromedp.CSS("#step-submit")),
		waitText("#vpn-form .notice", "Profile office.ovpn stored"),
		waitText("#check", "VPN connected"),
		shot(dir, "05-wizard-vpn", false),
	)
	nc.mu.Lock()
	gotProfile := nc.profile
	nc.mu.Unlock()
	if !strings.Contains(gotProfile, "remote vpn.example.net 1194") {
		t.Fatalf("netctl got profile %q", gotProfile)
	}

	run("dashboard",
		chromedp.Navigate(httpsURL+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS("#card-services")),
		shot(dir, "06-dashboard", false),
		shot(dir, "06-dashboard-phone", true),
	)
	dash := textOf(ctx, "main")
	for _, want := range []string{"Using modem because wan is no-carrier", "Vodafone.de", "-71 dBm", "registered", "Active calls: 2", "gateway", "uplink switched", "10.8.0.6", "pbx.example.net:5060"} {
		if !strings.Contains(dash, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	if strings.Contains(dash, `{"`) {
		t.Error("dashboard shows raw JSON")
	}

	run("sms",
		chromedp.Navigate(httpsURL+"/sms"),
		chromedp.SendKeys(chromedp.CSS("#to"), "+4917099999"),
		chromedp.SendKeys(chromedp.CSS("#text"), "Box installed at site 17."),
		chromedp.Click(chromedp.CSS(`form[data-action="/api/v1/sms"] button`)),
		waitText("main", "Box installed at site 17."),
		shot(dir, "07-sms", false),
	)
	run("admin",
		chromedp.Navigate(httpsURL+"/admin"),
		chromedp.SetValue(chromedp.CSS("#target"), "AT+CSQ"),
		chromedp.SetValue(chromedp.CSS("#tool"), "at"),
		chromedp.Click(chromedp.CSS("#diag-form button")),
		waitText("#diag-form pre.out", "+CSQ: 20,99"),
		shot(dir, "08-admin", false),
		shot(dir, "08-admin-phone", true),
	)
	run("logs",
		chromedp.Navigate(httpsURL+"/logs?service=netctl"),
		waitText("main", "dhcp lease"),
		shot(dir, "09-logs", false),
	)

	// Log out, then log in again through the login page.
	run("logout and login",
		chromedp.Click(chromedp.CSS("header form button")),
		chromedp.WaitVisible(chromedp.CSS("#login-submit")),
		chromedp.SendKeys(chromedp.CSS("#pw"), "wrong password"),
		chromedp.Click(chromedp.CSS("#login-submit")),
		waitText("form .notice", "wrong user name or password"),
		shot(dir, "10-login-failed", false),
		chromedp.SetValue(chromedp.CSS("#pw"), testPassword),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#card-services")),
	)
}
