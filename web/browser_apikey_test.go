package web

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"edgebox/internal/config"
	"edgebox/netctl/openvpn"
)

// A portal key created from the phone asks what it may call: left empty it
// is said to call nothing; filled, the stored key allows exactly that, so
// the portal can call without the admin editing raw config (issue 24).
func TestBrowserPhoneAPIKeyAllowList(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	serveUnix(t, "netctl", (&fakeNetctl{vpnState: openvpn.StateConnected}).handler())
	serveUnix(t, "gateway", fakeGateway())
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	ctx := phone(t)
	do(t, ctx, "gateway step", append(login(httpsURL), waitURL("/wizard/mobile"), chromedp.Navigate(httpsURL+"/wizard/gateway"), chromedp.WaitVisible(chromedp.CSS("#keydest")))...)
	if m := textOf(ctx, "main"); !strings.Contains(m, "Left empty, this key can call nothing") {
		t.Errorf("the key form does not say what an empty list means: %q", m)
	}

	// Empty lists: created, with the sentence that it calls nothing.
	do(t, ctx, "empty key", chromedp.SetValue(chromedp.CSS("#keyname"), "bare"), chromedp.Click(chromedp.CSS("form[data-action$='api-keys'] button")),
		waitText("form[data-action$='api-keys'] .notice", "can call nothing"), snap(dir, "90-apikey-empty"))

	// A pattern that is none is refused next to its field, nothing stored.
	do(t, ctx, "bad pattern", chromedp.SetValue(chromedp.CSS("#keyname"), "broken"), chromedp.SetValue(chromedp.CSS("#keydest"), "sales-["),
		chromedp.Click(chromedp.CSS("form[data-action$='api-keys'] button")), waitText("[data-for=destinations]", "is not a queue name"))

	do(t, ctx, "full key", chromedp.SetValue(chromedp.CSS("#keyname"), "portal"),
		chromedp.SetValue(chromedp.CSS("#keydest"), "support, sip:*@pbx.example.com"), chromedp.SetValue(chromedp.CSS("#keyfrom"), "example.com"),
		chromedp.Click(chromedp.CSS("form[data-action$='api-keys'] button")), waitText("form[data-action$='api-keys'] .notice", "Key created"))
	if n := textOf(ctx, "form[data-action$='api-keys'] .notice"); strings.Contains(n, "call nothing") {
		t.Errorf("a key with lists is said to call nothing: %q", n)
	}
	if k := textOf(ctx, "form[data-action$='api-keys'] [data-out=key]"); !strings.HasPrefix(k, "gwk_") {
		t.Errorf("key not shown: %q", k)
	}
	do(t, ctx, "listed", chromedp.Reload(), waitText("ul.keys", "calls support"), snap(dir, "91-apikey-listed"))
	if l := textOf(ctx, "ul.keys"); !strings.Contains(l, "bare: calls nothing") {
		t.Errorf("key list: %q", l)
	}

	c, err := config.Load(e.srv.opt.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]config.GatewayAPIKey{}
	for _, k := range c.Gateway.Portal.APIKeys {
		keys[k.Name] = k
	}
	if _, ok := keys["broken"]; ok || len(keys) != 2 {
		t.Fatalf("stored keys: %+v", keys)
	}
	bare, portal := keys["bare"], keys["portal"]
	if bare.AllowsDestination("support") || bare.AllowsFromDomain("example.com") {
		t.Errorf("a key created with empty lists may call: %+v", bare)
	}
	if !portal.AllowsDestination("support") || !portal.AllowsDestination("sip:alice@pbx.example.com") || portal.AllowsDestination("sales") || !portal.AllowsFromDomain("example.com") || portal.AllowsFromDomain("evil.test") {
		t.Errorf("stored key does not allow what was typed: %+v", portal)
	}
}
