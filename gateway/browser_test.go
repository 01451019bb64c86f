package gateway_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/config"
	"edgebox/internal/testenv"

	"github.com/chromedp/chromedp"
)

const chromiumPath = "/usr/bin/chromium"

// newBrowser starts headless Chromium with fake media devices and a fresh
// profile; it is stopped when the test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium not installed (Debian package chromium, listed in scripts/deps.sh): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// waitDemoState polls window.demo.state on the page.
func waitDemoState(t *testing.T, ctx context.Context, want string, d time.Duration) {
	t.Helper()
	testenv.WaitFor(t, d, fmt.Sprintf("demo page state %q", want), func() (bool, error) {
		state, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.demo.state`))
		if err != nil {
			t.Fatal(err)
		}
		if state == want {
			return true, nil
		}
		logText, _ := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID("log")))
		return false, fmt.Errorf("state %q; page log:\n%s", state, logText)
	})
}

// callFromDemoPage opens page in a new Chromium, clicks "Get help" and
// waits for the call to be answered; the context lives as long as the test.
func callFromDemoPage(t *testing.T, page string) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(newBrowser(t), 60*time.Second)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(page),
		chromedp.WaitVisible(chromedp.ID("call")),
		chromedp.Click(chromedp.ID("call")),
	); err != nil {
		t.Fatal(err)
	}
	waitDemoState(t, ctx, gateway.EventAnswered, 20*time.Second)
	return ctx
}

func TestBrowserDemoPageCall(t *testing.T) {
	t.Parallel()
	forEachStack(t, testBrowserDemoPageCall)
}

func testBrowserDemoPageCall(t *testing.T) {
	uas := startSIPp(t, "uas_echo", 1)
	svc := startGateway(t, demoConfig(t, uas.addr()))
	tok, _ := authorize(t, svc, testFrom, "sip:agent@127.0.0.1", testContext)

	ctx := callFromDemoPage(t, portalBase(svc)+"/demo/?token="+url.QueryEscape(tok))

	// RTP reaches the UAS: its echo comes back to the PBX leg and on to
	// the browser.
	type pageStats struct {
		Sent, Received float64
		Cipher         string
	}
	var stats pageStats
	var pbxIn, pbxOut uint64
	testenv.WaitFor(t, 15*time.Second, "audio flowing", func() (bool, error) {
		if calls := svc.Snapshot(); len(calls) == 1 {
			pbxIn, pbxOut = calls[0].PBX.In.Packets, calls[0].PBX.Out.Packets
		}
		var err error
		if stats, err = chromedp.Run(ctx, chromedp.Evaluate[pageStats](`window.demo.stats()`, chromedp.EvalAwaitPromise)); err != nil {
			t.Fatal(err)
		}
		return pbxOut > 25 && pbxIn > 25 && stats.Received > 25,
			fmt.Errorf("to UAS %d, echoed back %d, browser received %v (sent %v)", pbxOut, pbxIn, stats.Received, stats.Sent)
	})
	calls := svc.Snapshot()
	if len(calls) != 1 || calls[0].Codec == "" {
		t.Fatalf("calls = %+v", calls)
	}
	// Chromium decrypted what the fast path encrypted, and the other way
	requireFastPath(t, svc, calls, 25)
	if stats.Cipher != "SRTP_AEAD_AES_128_GCM" {
		t.Errorf("browser leg SRTP cipher %q, want SRTP_AEAD_AES_128_GCM", stats.Cipher)
	}
	t.Logf("browser call: codec %s, to UAS %d packets, from UAS %d, browser got %v", calls[0].Codec, pbxOut, pbxIn, stats.Received)

	// In-band DTMF from the browser (RTCDTMFSender, RFC 4733) crosses the
	// relay to the UAS, whose echo comes back as DTMF from the PBX side.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("key-5"))); err != nil {
		t.Fatal(err)
	}
	var digits string
	testenv.Until(10*time.Second, "DTMF echoed back", func() (bool, error) {
		var err error
		if digits, err = chromedp.Run(ctx, chromedp.Evaluate[string](`window.demo.dtmf.join("")`)); err != nil {
			t.Fatal(err)
		}
		return digits != "", nil
	})
	if digits != "5" {
		t.Errorf("DTMF echoed back to the page = %q, want 5", digits)
	}

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("hangup"))); err != nil {
		t.Fatal(err)
	}
	waitDemoState(t, ctx, gateway.EventEnded, 10*time.Second)
	uas.wait(t, 10*time.Second)
}

// TestBrowserCodecChangeByReinvite: the PBX answers PCMU, then re-INVITEs
// with PCMA only; the box renegotiates the browser to PCMA (no
// transcoding) and audio keeps flowing.
func TestBrowserCodecChangeByReinvite(t *testing.T) {
	t.Parallel()
	forEachStack(t, testBrowserCodecChangeByReinvite)
}

func testBrowserCodecChangeByReinvite(t *testing.T) {
	browserCallEndsOnPCMA(t, "uas_recodec", "the PBX's re-INVITE")
}

// browserCallEndsOnPCMA calls a SIPp PBX (scenario) from the demo page in
// Chromium and checks that the call, answered, is bridged as PCMA after
// what the PBX did (after) and that audio flows both ways then.
func browserCallEndsOnPCMA(t *testing.T, scenario, after string) {
	uas := startSIPp(t, scenario, 1)
	svc := startGateway(t, demoConfig(t, uas.addr()))
	tok, _ := authorize(t, svc, testFrom, "sip:agent@127.0.0.1", testContext)
	bctx := newBrowser(t)
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(portalBase(svc)+"/demo/?token="+url.QueryEscape(tok)),
		chromedp.WaitVisible(chromedp.ID("call")),
		chromedp.Click(chromedp.ID("call")),
	); err != nil {
		t.Fatal(err)
	}
	waitDemoState(t, ctx, gateway.EventAnswered, 20*time.Second)
	var ci gateway.CallInfo
	testenv.WaitFor(t, 15*time.Second, "codec pcma after "+after, func() (bool, error) {
		if calls := svc.Snapshot(); len(calls) == 1 {
			ci = calls[0]
		}
		return ci.Codec == "pcma", fmt.Errorf("codec %q", ci.Codec)
	})
	in, out := ci.PBX.In.Packets, ci.PBX.Out.Packets
	testenv.Until(25*time.Second, "audio after the codec change", testenv.Cond(func() bool {
		ci = svc.Snapshot()[0]
		return ci.PBX.In.Packets > in+25 && ci.PBX.Out.Packets > out+25 && ci.Browser.Out.Packets > 25
	}))
	if ci.PBX.In.Packets <= in+25 || ci.PBX.Out.Packets <= out+25 {
		t.Fatalf("audio stopped after the codec change: pbx in %d->%d out %d->%d", in, ci.PBX.In.Packets, out, ci.PBX.Out.Packets)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("hangup"))); err != nil {
		t.Fatal(err)
	}
	waitDemoState(t, ctx, gateway.EventEnded, 10*time.Second)
	uas.wait(t, 10*time.Second)
}

// demoConfig is testConfig with the demo page on (it is off by default).
func demoConfig(t *testing.T, pbx string) config.Gateway {
	c := testConfig(t, pbx)
	c.Portal.Demo = true
	return c
}

// TestBrowserDemoIgnoresForeignWS: a link to the demo page with ?ws=
// naming another host must not hand the token to that host: the page
// calls through the box, and the other host sees no connection at all.
func TestBrowserDemoIgnoresForeignWS(t *testing.T) {
	t.Parallel()
	uas := startSIPp(t, "uas_echo", 1)
	svc := startGateway(t, demoConfig(t, uas.addr()))
	tok, _ := authorize(t, svc, testFrom, "sip:agent@127.0.0.1", testContext)

	evil, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { evil.Close() })
	var mu sync.Mutex
	var seen []string
	go func() {
		for {
			c, err := evil.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 512)
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, _ := c.Read(buf)
			mu.Lock()
			seen = append(seen, string(buf[:n]))
			mu.Unlock()
			c.Close()
		}
	}()

	ctx := callFromDemoPage(t, portalBase(svc)+"/demo/?token="+url.QueryEscape(tok)+"&ws="+url.QueryEscape("ws://"+evil.Addr().String()+"/v1/signal"))
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("hangup"))); err != nil {
		t.Fatal(err)
	}
	waitDemoState(t, ctx, gateway.EventEnded, 10*time.Second)
	uas.wait(t, 10*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(seen) > 0 {
		t.Errorf("the page connected to the foreign host named by ?ws= %d times: %q", len(seen), seen)
	}
}
