package web

import (
	"testing"

	"github.com/chromedp/chromedp"

	"edgebox/netctl/openvpn"
)

// The mobile step offers network.modem.roaming in the installer's
// language: allow (the default, shown for a config without it) or deny,
// and a save stores what was chosen.
func TestBrowserPhoneRoamingSetting(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	serveUnix(t, "netctl", (&fakeNetctl{vpnState: openvpn.StateNoProfile}).handler())
	serveUnix(t, "gateway", fakeGateway())
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	ctx := germanPhone(t)
	sel := `[data-path="network.modem.roaming"]`
	do(t, ctx, "login", append(login(httpsURL), waitURL("/wizard/mobile"))...)
	do(t, ctx, "roaming field", chromedp.WaitVisible(chromedp.CSS(sel)), waitText(sel, "erlauben"))
	do(t, ctx, "deny roaming", chromedp.SetValue(chromedp.CSS(`[data-path="network.modem.apn"]`), "internet"),
		chromedp.SetValue(chromedp.CSS(sel), "deny"), chromedp.Click(chromedp.CSS("#step-submit")),
		waitText("#step-form .notice", "Gespeichert"))
	if v := storedAt(t, e, "network.modem.roaming"); v != "deny" {
		t.Errorf("roaming stored as %v, want deny", v)
	}
}
