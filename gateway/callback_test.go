package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"
	"edgebox/internal/config"
	"edgebox/internal/testenv"

	"github.com/chromedp/chromedp"
)

// Callbacks: a page waits with a receive token, SIPp as the PBX calls
// sip:<sip_user>@box (testdata/sipp/uac_callback*.xml), and the page rings.

// callbackBox is a gateway whose test key may issue callback tokens, and
// whose PBX is SIPp on 127.0.0.1 (any port: the box takes new requests from
// the PBX's address).
func callbackBox(t *testing.T, tune func(*config.Gateway)) (*gateway.Service, string) {
	t.Helper()
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	cfg.Portal.APIKeys[0].Destinations = append(cfg.Portal.APIKeys[0].Destinations, gateway.CallbackPermission)
	if tune != nil {
		tune(&cfg)
	}
	return startGateway(t, cfg), cfg.SIP.Listen[0].Address
}

// callbackToken asks the portal for a receive token and checks its
// callback URI names the token's SIP user at the box's SIP address.
func callbackToken(t *testing.T, svc *gateway.Service, sipAddr string) gateway.AuthorizeResponse {
	t.Helper()
	res, err := clientAuthorize(svc, gateway.AuthorizeRequest{From: testFrom, Receive: true, Context: map[string]string{"customer_id": "42"}})
	if err != nil {
		t.Fatalf("callback token: %v", err)
	}
	if want := "sip:" + res.SIPUser + "@" + sipAddr; res.SIPUser == "" || res.CallbackURI != want {
		t.Fatalf("callback_uri %q, want %q", res.CallbackURI, want)
	}
	return res
}

// pbxCalls runs SIPp as the PBX (from ip) calling user at the box once,
// and returns what its scenario logged. It runs SIPp to its end itself: a
// SIPp on another loopback address than 127.0.0.1 is not one startSIPp can
// see listening.
func pbxCalls(t *testing.T, ip, scenario, user, box string, d time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	dir := t.TempDir()
	abs, _ := filepath.Abs(filepath.Join("testdata", "sipp", scenario+".xml"))
	cmd := exec.CommandContext(ctx, "sipp", "-sf", abs, "-i", ip, "-p", strconv.Itoa(freeUDPTCPPort(t)),
		"-mi", ip, "-mp", strconv.Itoa(freeRTPEven(t)), "-rtp_echo", "-m", "1", "-nostdin",
		"-trace_err", "-trace_msg", "-trace_logs", "-timeout", "4s", "-s", user, box)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("SIPp (%s) did not finish within %v\n%s", scenario, d, out)
	}
	t.Logf("SIPp %s from %s: %v", scenario, ip, err)
	return sippLog(&sipp{logs: dir})
}

// callbackPage serves testdata/callback and opens wait.html in Chromium
// with the token; mode is answer, decline or ignore.
func callbackPage(t *testing.T, svc *gateway.Service, res gateway.AuthorizeResponse, mode string) context.Context {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir("testdata/callback")))
	t.Cleanup(srv.Close)
	q := url.Values{"box": {portalBase(svc)}, "ws": {res.WebSocketURL}, "token": {res.Token}, "mode": {mode}}
	ctx, cancel := context.WithTimeout(newBrowser(t), 90*time.Second)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/wait.html?"+q.Encode())); err != nil {
		t.Fatal(err)
	}
	appState(t, ctx, gateway.EventWaiting, 20*time.Second)
	return ctx
}

func pageEvents(t *testing.T, ctx context.Context) []string {
	t.Helper()
	ev, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.app.events`))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestBrowserCallback: Chromium waits with a callback token; SIPp as the
// PBX calls it; the page rings, answers with the SDK; audio goes both ways
// (the page's microphone -> box -> SIPp's echo -> box -> page, with audio
// energy at the page), DTMF comes back, and the call ends from each side.
// A declined call gets 603, and the spent token a 404 on the next INVITE.
func TestBrowserCallback(t *testing.T) {
	t.Parallel()
	forEachStack(t, testBrowserCallbackAnswered)
	t.Run("declined", testBrowserCallbackDeclined)
}

func testBrowserCallbackAnswered(t *testing.T) {
	for _, who := range []string{"page", "pbx"} {
		t.Run("answered, "+who+" hangs up", func(t *testing.T) {
			svc, box := callbackBox(t, nil)
			res := callbackToken(t, svc, box)
			ctx := callbackPage(t, svc, res, "answer")
			scenario := "uac_callback"
			if who == "pbx" {
				scenario = "uac_callback_pbx_bye"
			}
			s := startSIPpAt(t, "", "127.0.0.1", scenario, 1, "-trace_logs", "-s", res.SIPUser, box)
			appState(t, ctx, gateway.EventAnswered, 30*time.Second)
			inc, _ := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`window.app.incoming`))
			if inc["display_name"] != "Agent 7" || !strings.HasPrefix(inc["from"], "sip:agent7@127.0.0.1") {
				t.Errorf("incoming = %v, want Agent 7 <sip:agent7@127.0.0.1...>", inc)
			}
			type stats struct{ Sent, Received, Energy float64 }
			var st stats
			var calls []gateway.CallInfo
			testenv.WaitFor(t, 20*time.Second, "audio both ways through the box", func() (bool, error) {
				st, _ = chromedp.Run(ctx, chromedp.Evaluate[stats](`window.app.stats()`, chromedp.EvalAwaitPromise))
				calls = svc.Snapshot()
				ok := st.Sent > 50 && st.Received > 50 && st.Energy > 0 && len(calls) == 1 &&
					calls[0].PBX.In.Packets > 50 && calls[0].PBX.Out.Packets > 50
				return ok, fmt.Errorf("page %+v, calls %+v", st, calls)
			})
			requireStack(t, calls)
			requireFastPath(t, svc, calls, 25) // the same media path as any call
			if c := calls[0]; c.State != gateway.StateAnswered || c.From != testFrom || !strings.HasPrefix(c.Destination, "sip:agent7@") || c.Codec != "pcmu" {
				t.Errorf("the box shows the callback as %+v", c)
			}
			t.Logf("callback: codec %s, page sent %v received %v (energy %.3f), to SIPp %d, from SIPp %d",
				calls[0].Codec, st.Sent, st.Received, st.Energy, calls[0].PBX.Out.Packets, calls[0].PBX.In.Packets)
			// DTMF through the box (RFC 4733), echoed by SIPp, back as a dtmf message
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](`window.app.call.dtmf("7")`)); err != nil {
				t.Fatal(err)
			}
			testenv.WaitFor(t, 10*time.Second, "the digit echoed back", func() (bool, error) {
				d, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`window.app.dtmf`))
				return d == "7", fmt.Errorf("page got digits %q", d)
			})
			if who == "page" {
				if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](`window.app.call.hangup()`)); err != nil {
					t.Fatal(err)
				}
			}
			appState(t, ctx, gateway.EventEnded, 30*time.Second)
			s.wait(t, 20*time.Second)
			log := sippLog(s)
			if logValue(log, "FINAL") != "200" || logValue(log, "RANG") != "180" || logValue(log, "BYE") != map[string]string{"page": "box", "pbx": "pbx"}[who] {
				t.Errorf("SIPp log:\n%s\nwant 180, 200 and the %s's BYE", log, who)
			}
			if logValue(log, "CUSTOMER") != "42" {
				t.Errorf("the 200 carried X-Customer-Id %q, want the portal's context 42", logValue(log, "CUSTOMER"))
			}
			waitFor(t, 10*time.Second, "no call left on the box", func() bool { return len(svc.Snapshot()) == 0 })
			// the token was spent by the callback
			if log := pbxCalls(t, "127.0.0.1", "uac_callback", res.SIPUser, box, 20*time.Second); logValue(log, "FINAL") != "404" {
				t.Errorf("a second INVITE for the spent token: SIPp log\n%s\nwant 404", log)
			}
		})
	}
}

func testBrowserCallbackDeclined(t *testing.T) {
	{
		svc, box := callbackBox(t, nil)
		res := callbackToken(t, svc, box)
		ctx := callbackPage(t, svc, res, "decline")
		log := pbxCalls(t, "127.0.0.1", "uac_callback", res.SIPUser, box, 30*time.Second)
		if logValue(log, "FINAL") != "603" || logValue(log, "RANG") != "180" {
			t.Errorf("SIPp log:\n%s\nwant 180 then 603", log)
		}
		appState(t, ctx, gateway.EventEnded, 10*time.Second)
		if ev := pageEvents(t, ctx); !strings.Contains(strings.Join(ev, ","), "incoming,ended 603") {
			t.Errorf("page events %v, want incoming then ended 603", ev)
		}
		if h := svc.History(1); len(h) != 1 || h[0].SIPCode != 603 {
			t.Errorf("history %+v, want the declined callback with 603", h)
		}
		if log := pbxCalls(t, "127.0.0.1", "uac_callback", res.SIPUser, box, 20*time.Second); logValue(log, "FINAL") != "404" {
			t.Errorf("a second INVITE for the spent token: SIPp log\n%s\nwant 404", log)
		}
	}
}

// TestCallbackWaitBounds: the token's lifetime bounds the wait (the page
// is told and the socket closed; the PBX then gets 404), a token whose
// page is not waiting gets 480 and stays valid, and an INVITE from an
// address that is not the PBX rings nobody.
func TestCallbackWaitBounds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	svc, box := callbackBox(t, func(c *config.Gateway) { c.Portal.CallbackTTLSec = 5 })

	t.Run("expired", func(t *testing.T) {
		res := callbackToken(t, svc, box)
		if exp, err := time.Parse(time.RFC3339, res.ExpiresAt); err != nil || time.Until(exp) > 6*time.Second {
			t.Errorf("expires_at %q, want within callback_ttl_sec (5 s)", res.ExpiresAt)
		}
		p := openProbe(t, ctx, res.WebSocketURL)
		p.sendMsg(gateway.Message{Type: gateway.MsgAuth, Token: res.Token})
		m, err := p.next(gateway.MsgEvent)
		if err != nil || m.Event != gateway.EventWaiting || m.ExpiresAt == "" {
			t.Fatalf("after auth: %+v, %v; want event waiting with expires_at", m, err)
		}
		m, err = p.next(gateway.MsgEvent)
		if err != nil || m.Event != gateway.EventEnded || !strings.Contains(m.Reason, "expired") {
			t.Fatalf("at the token's expiry: %+v, %v; want ended saying it expired", m, err)
		}
		if d := p.after(false); d.code != 1000 || d.reason != gateway.CloseCallEnded {
			t.Errorf("socket closed with %+v, want 1000 %q", d, gateway.CloseCallEnded)
		}
		if log := pbxCalls(t, "127.0.0.1", "uac_callback", res.SIPUser, box, 20*time.Second); logValue(log, "FINAL") != "404" {
			t.Errorf("INVITE after the expiry: SIPp log\n%s\nwant 404", log)
		}
	})

	t.Run("not waiting, then a stranger", func(t *testing.T) {
		res := callbackToken(t, svc, box)
		if log := pbxCalls(t, "127.0.0.1", "uac_callback", res.SIPUser, box, 20*time.Second); logValue(log, "FINAL") != "480" {
			t.Errorf("INVITE before the page waits: SIPp log\n%s\nwant 480", log)
		}
		p := openProbe(t, ctx, res.WebSocketURL)
		p.sendMsg(gateway.Message{Type: gateway.MsgAuth, Token: res.Token})
		if m, err := p.next(gateway.MsgEvent); err != nil || m.Event != gateway.EventWaiting {
			t.Fatalf("the token after the 480: %+v, %v; want it still good (waiting)", m, err)
		}
		// 127.0.0.2 is not the PBX (gateway.pbx.allowed_sources: 127.0.0.1)
		log := pbxCalls(t, "127.0.0.2", "uac_callback", res.SIPUser, box, 30*time.Second)
		if f := logValue(log, "FINAL"); f != "" && f != "403" {
			t.Errorf("an INVITE from a stranger got %s, want 403 or nothing\n%s", f, log)
		}
		if logValue(log, "RANG") != "" {
			t.Errorf("a stranger's INVITE rang the page\n%s", log)
		}
		// the page was not told anything and still waits: the PBX rings it
		got := make(chan gateway.Message, 1)
		go func() {
			m, _ := p.next(gateway.MsgEvent)
			got <- m
		}()
		s := startSIPpAt(t, "", "127.0.0.1", "uac_callback", 1, "-trace_logs", "-s", res.SIPUser, box)
		if m := <-got; m.Event != gateway.EventIncoming || m.Display != "Agent 7" || m.CallID == "" {
			t.Errorf("the first event after the stranger: %+v, want incoming from Agent 7 (the PBX)", m)
		}
		p.sendMsg(gateway.Message{Type: gateway.MsgHangup})
		s.wait(t, 20*time.Second)
		if f := logValue(sippLog(s), "FINAL"); f != "603" {
			t.Errorf("the PBX's INVITE got %s, want 603 (declined)", f)
		}
	})
}

// TestCallbackPortal: a receive token needs @callback in the key's
// destinations ("*" does not grant it) and no destination; it cannot
// place a call over SIP-WS.
func TestCallbackPortal(t *testing.T) {
	plain := startGateway(t, testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t))))
	_, err := clientAuthorize(plain, gateway.AuthorizeRequest{From: testFrom, Receive: true})
	var he *client.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusForbidden || !strings.Contains(he.Error(), gateway.CallbackPermission) {
		t.Errorf("a key with destinations * asked for a callback token: %v, want 403 naming %s", err, gateway.CallbackPermission)
	}
	svc, box := callbackBox(t, nil)
	_, err = clientAuthorize(svc, gateway.AuthorizeRequest{From: testFrom, Destination: "support", Receive: true})
	if !errors.As(err, &he) || he.Status != http.StatusBadRequest {
		t.Errorf("a callback token with a destination: %v, want 400", err)
	}
	res := callbackToken(t, svc, box)
	if res.Token == "" || res.WebSocketURL == "" || res.SIPURL == "" {
		t.Errorf("answer %+v lacks the usual fields", res)
	}
}

// TestCallbackRingEnds: while the page rings, the PBX's CANCEL ends it
// (487, the page is told); a page that does not answer in time, or leaves,
// gets the PBX a 480.
func TestCallbackRingEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	svc, box := callbackBox(t, nil)
	ringing := func(t *testing.T, scenario string) (*wsProbe, *sipp) {
		t.Helper()
		res := callbackToken(t, svc, box)
		p := openProbe(t, ctx, res.WebSocketURL)
		p.sendMsg(gateway.Message{Type: gateway.MsgAuth, Token: res.Token})
		if m, err := p.next(gateway.MsgEvent); err != nil || m.Event != gateway.EventWaiting {
			t.Fatalf("after auth: %+v, %v; want waiting", m, err)
		}
		s := startSIPpAt(t, "", "127.0.0.1", scenario, 1, "-trace_logs", "-s", res.SIPUser, box)
		if m, err := p.next(gateway.MsgEvent); err != nil || m.Event != gateway.EventIncoming {
			t.Fatalf("the PBX called: %+v, %v; want incoming", m, err)
		}
		return p, s
	}

	t.Run("PBX cancels", func(t *testing.T) {
		p, s := ringing(t, "uac_callback_cancel")
		m, err := p.next(gateway.MsgEvent)
		if err != nil || m.Event != gateway.EventEnded || m.SIPCode != 487 {
			t.Errorf("after the CANCEL: %+v, %v; want ended 487", m, err)
		}
		s.wait(t, 20*time.Second)
		if f := logValue(sippLog(s), "FINAL"); f != "487" {
			t.Errorf("the cancelled INVITE got %q, want 487", f)
		}
	})

	t.Run("not answered", func(t *testing.T) {
		t.Cleanup(gateway.SetCallbackRingTimeout(2 * time.Second))
		p, s := ringing(t, "uac_callback")
		m, err := p.next(gateway.MsgEvent)
		if err != nil || m.Event != gateway.EventEnded || m.SIPCode != 480 || !strings.Contains(m.Reason, "not answered") {
			t.Errorf("after the ring timeout: %+v, %v; want ended 480, not answered", m, err)
		}
		s.wait(t, 20*time.Second)
		if f := logValue(sippLog(s), "FINAL"); f != "480" {
			t.Errorf("the unanswered INVITE got %q, want 480", f)
		}
	})

	t.Run("page leaves", func(t *testing.T) {
		p, s := ringing(t, "uac_callback")
		p.ws.CloseNow()
		s.wait(t, 20*time.Second)
		if f := logValue(sippLog(s), "FINAL"); f != "480" {
			t.Errorf("the INVITE to a page that left got %q, want 480", f)
		}
	})
	waitFor(t, 10*time.Second, "no call left on the box", func() bool { return len(svc.Snapshot()) == 0 })
}

// TestBrowserCallbackDemo: the demo page waits with a callback token
// (?receive=1), shows the PBX's call with Answer and Decline, and talks
// once answered.
func TestBrowserCallbackDemo(t *testing.T) {
	t.Parallel()
	svc, box := callbackBox(t, func(c *config.Gateway) { c.Portal.Demo = true })
	res := callbackToken(t, svc, box)
	ctx, cancel := context.WithTimeout(newBrowser(t), 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(portalBase(svc)+"/demo/?receive=1&token="+url.QueryEscape(res.Token)),
		chromedp.WaitVisible(chromedp.ID("call")),
		chromedp.Click(chromedp.ID("call")),
	); err != nil {
		t.Fatal(err)
	}
	waitDemoState(t, ctx, gateway.EventWaiting, 20*time.Second)
	s := startSIPpAt(t, "", "127.0.0.1", "uac_callback", 1, "-trace_logs", "-s", res.SIPUser, box)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("answer"))); err != nil {
		t.Fatal(err)
	}
	if caller, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("caller"))); caller != "Agent 7" {
		t.Errorf("the demo shows the call from %q, want Agent 7", caller)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("answer"))); err != nil {
		t.Fatal(err)
	}
	waitDemoState(t, ctx, gateway.EventAnswered, 20*time.Second)
	type pageStats struct{ Sent, Received float64 }
	testenv.WaitFor(t, 15*time.Second, "audio both ways", func() (bool, error) {
		st, err := chromedp.Run(ctx, chromedp.Evaluate[pageStats](`window.demo.stats()`, chromedp.EvalAwaitPromise))
		return err == nil && st.Sent > 25 && st.Received > 25, fmt.Errorf("page %+v, %v", st, err)
	})
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("hangup"))); err != nil {
		t.Fatal(err)
	}
	waitDemoState(t, ctx, gateway.EventEnded, 10*time.Second)
	s.wait(t, 20*time.Second)
	if log := sippLog(s); logValue(log, "FINAL") != "200" || logValue(log, "BYE") != "box" {
		t.Errorf("SIPp log:\n%s\nwant 200 and the box's BYE", log)
	}
}
