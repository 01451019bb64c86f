package gateway_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/testenv"

	"github.com/chromedp/chromedp"
)

// sipwsApps serves the test pages of gateway/testdata/sipws and the JsSIP
// and SIP.js that scripts/deps.sh installed from its lockfile, on
// 127.0.0.1.
func sipwsApps(t *testing.T) string {
	t.Helper()
	lock, err := os.ReadFile("testdata/sipws/package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(lock)
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cache, "edgebox-test", "sipws-"+hex.EncodeToString(sum[:6]))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "jssip", "package.json")); err != nil {
		t.Fatalf("JsSIP and SIP.js are not installed (%v): run make deps, which installs them from testdata/sipws's lockfile", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/node_modules/", http.FileServer(http.Dir(dir)))
	mux.Handle("/", http.FileServer(http.Dir("testdata/sipws")))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// appState polls window.app.state until it is want.
func appState(t *testing.T, ctx context.Context, want string, d time.Duration) {
	t.Helper()
	testenv.WaitFor(t, d, fmt.Sprintf("app state %q", want), func() (bool, error) {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`window.app ? window.app.state : "no app"`))
		if state == want {
			return true, nil
		}
		logText, _ := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID("log")))
		cause, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`String(window.app && window.app.cause)`))
		return false, fmt.Errorf("app state %q (cause %s); page log:\n%s", state, cause, logText)
	})
}

// TestBrowserSIPWS: a JsSIP app and a SIP.js app, each in headless
// Chromium, call the SIPp agent through the box's SIP over WebSocket with
// the portal's one-time token as their digest password: the call is
// answered, audio flows both ways (browser -> box -> SIPp's echo -> box
// -> browser), and the app hangs up. JsSIP also registers first and sends
// a DTMF digit as INFO.
func TestBrowserSIPWS(t *testing.T) {
	t.Parallel()
	apps := sipwsApps(t)
	for _, app := range []string{"jssip", "sipjs"} {
		t.Run(app, func(t *testing.T) {
			uas := startSIPp(t, "uas_echo", 1)
			svc := startGateway(t, testConfig(t, uas.addr()))
			res, err := clientAuthorize(svc, gateway.AuthorizeRequest{From: testFrom, Destination: "sip:agent@127.0.0.1", Context: testContext})
			if err != nil {
				t.Fatal(err)
			}
			if res.SIPUser == "" || res.SIPURL == "" {
				t.Fatalf("the portal's answer names no SIP user or URL: %+v", res)
			}
			q := url.Values{"ws": {res.SIPURL}, "user": {res.SIPUser}, "password": {res.Token}, "target": {"sip:agent@127.0.0.1"}}
			if app == "jssip" {
				q.Set("register", "1")
			}
			ctx, cancel := context.WithTimeout(newBrowser(t), 90*time.Second)
			defer cancel()
			if err := chromedp.Do(ctx, chromedp.Navigate(apps+"/"+app+".html?"+q.Encode())); err != nil {
				t.Fatal(err)
			}
			appState(t, ctx, "confirmed", 30*time.Second)
			if app == "jssip" {
				if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.app.registered === true`)); !ok {
					t.Error("JsSIP did not register with the token's digest")
				}
			}
			type stats struct{ Sent, Received float64 }
			var st stats
			waitFor(t, 20*time.Second, "audio both ways through the box", func() bool {
				st, _ = chromedp.Run(ctx, chromedp.Evaluate[stats](`window.app.stats()`, chromedp.EvalAwaitPromise))
				calls := svc.Snapshot()
				return st.Received > 50 && st.Sent > 50 && len(calls) == 1 && calls[0].PBX.In.Packets > 50 && calls[0].PBX.Out.Packets > 50
			})
			calls := svc.Snapshot()
			if calls[0].From != testFrom || calls[0].Destination != "sip:agent@127.0.0.1" {
				t.Errorf("the call runs as %q -> %q, want the token's %q -> sip:agent@127.0.0.1", calls[0].From, calls[0].Destination, testFrom)
			}
			if app == "jssip" {
				if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](`window.app.dtmf("5")`)); err != nil {
					t.Error(err)
				}
			}
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](`window.app.hangup()`)); err != nil {
				t.Fatal(err)
			}
			appState(t, ctx, "ended", 10*time.Second)
			uas.wait(t, 10*time.Second)
			waitFor(t, 10*time.Second, "no call left on the box", func() bool { return len(svc.Snapshot()) == 0 })
		})
	}
}
