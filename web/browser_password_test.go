package web

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"edgebox/netctl/openvpn"
)

// TestBrowserPasswordChangeSaysWhatHappened: the password form said
// "every API token was revoked" and reloaded. Now the page says how many
// tokens were kept (or, with the checkbox, revoked) and how many other
// browsers were logged out, and goes on with the new session's CSRF
// token without a reload: the next form on the page still works.
func TestBrowserPasswordChangeSaysWhatHappened(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	serveUnix(t, "netctl", (&fakeNetctl{vpnState: openvpn.StateConnected}).handler())
	serveUnix(t, "gateway", fakeGateway())
	setupAdmin(t, e)
	if _, _, err := e.srv.accounts.NewToken("fleet", ScopeAdmin, 0); err != nil {
		t.Fatal(err)
	}
	_, httpsURL := liveServer(t, e)
	ctx := phone(t)
	const pwForm = "form[data-action='/api/v1/password']"
	do(t, ctx, "admin page", append(login(httpsURL), waitURL("/wizard/mobile"), chromedp.Navigate(httpsURL+"/admin"), chromedp.WaitVisible(chromedp.CSS("#oldpw")))...)
	do(t, ctx, "change, tokens kept", chromedp.SetValue(chromedp.CSS("#oldpw"), testPassword), chromedp.SetValue(chromedp.CSS("#newpw"), "the installer's new password"),
		chromedp.Click(chromedp.CSS(pwForm+" button[type=submit]")), waitText(pwForm+" .notice", "API tokens kept: 1"))

	do(t, ctx, "change, tokens revoked", chromedp.SetValue(chromedp.CSS("#oldpw"), "the installer's new password"), chromedp.SetValue(chromedp.CSS("#newpw"), "after the break-in"),
		chromedp.Click(chromedp.CSS("#revoke-tokens")), chromedp.Click(chromedp.CSS(pwForm+" button[type=submit]")), waitText(pwForm+" .notice", "API tokens revoked: 1"))
	if rows := textOf(ctx, "#token-table tbody"); strings.Contains(rows, "fleet") {
		t.Errorf("the revoked token is still listed: %q", rows)
	}
	if len(e.srv.accounts.Tokens()) != 0 {
		t.Errorf("tokens after the change with the checkbox: %+v", e.srv.accounts.Tokens())
	}
	// Same page, no reload: the new session's CSRF token is in use.
	do(t, ctx, "token after the change", chromedp.SetValue(chromedp.CSS("#tokname"), "laptop"),
		chromedp.Click(chromedp.CSS("form[data-action='/api/v1/tokens'] button[type=submit]")), waitText("form[data-action='/api/v1/tokens'] .notice", "Token created"))
}
