package web

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserGSMTwoSIMs renders the GSM page with two SIMs in headless
// Chromium (desktop and phone width) and leaves screenshots in
// out/web-screenshots: each SIM's card with its state and routing, both
// live calls.
func TestBrowserGSMTwoSIMs(t *testing.T) {
	e := gsmTwoSIMs(t)
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := screenshotDir(t)
	ctx := browser(t)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(httpsURL+"/login?next=/gsm"),
		chromedp.WaitVisible(chromedp.CSS("#login-submit")),
		chromedp.SendKeys(chromedp.CSS("#pw"), testPassword),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#gsm-sim-2")),
		waitText("#gsm-sim-1", "sip:queue-sales@pbx.example.com"),
		waitText("#gsm-sim-1", "busy"),
		waitText("#gsm-sim-2", "sip:queue-support@pbx.example.com"),
		waitText("#gsm-sim-2", "ready"),
		waitText("#gsm-live", "+4940555999"),
		shot(dir, "gsm-two-sims", false),
		shot(dir, "gsm-two-sims-phone", true),
	); err != nil {
		t.Fatal(err)
	}
}
