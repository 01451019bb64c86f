package gateway_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"
	"edgebox/internal/config"

	"github.com/chromedp/chromedp"
)

// nsBrowserIn starts headless Chromium with fake media inside namespace ns
// (chromedp talks to it over the pipe `ip netns exec` passes on).
func nsBrowserIn(t *testing.T, ns string) context.Context {
	t.Helper()
	wrapper := filepath.Join(t.TempDir(), "chromium.sh")
	os.WriteFile(wrapper, []byte("#!/bin/sh\nexec ip netns exec "+ns+" "+chromiumPath+" \"$@\"\n"), 0o755)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(wrapper), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()))
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium in %s: %v", ns, err)
	}
	return bctx
}

// TestBrowserNetworkChangeKeepsCall: a customer's phone (Chromium in a
// namespace with a Wi-Fi and a mobile link to the box) is on a call with
// the SIPp agent. Wi-Fi goes away: its link drops and its address with it,
// so the signaling socket and the ICE path die together. The SDK takes the
// call over on a new socket over the mobile link (resume) and restarts
// ICE; the call never ends and audio flows again both ways, now from the
// mobile address. On both stacks; the ICE restart must be taken (the
// SDK reports no error).
func TestBrowserNetworkChangeKeepsCall(t *testing.T) {
	t.Parallel()
	forEachStack(t, testBrowserNetworkChangeKeepsCall)
}

func testBrowserNetworkChangeKeepsCall(t *testing.T) {
	rig := newNetnsRig(t, "nc")
	box, phone, pbx := rig.ns("box"), rig.ns("phone"), rig.ns("pbx")
	rig.link(phone, "wifi0", "10.72.1.2/24", box, "wifi", "10.72.1.1/24")
	rig.link(phone, "lte0", "10.72.2.2/24", box, "lte", "10.72.2.1/24")
	rig.link(box, "pbx0", "10.72.3.1/24", pbx, "eth0", "10.72.3.2/24")
	// The box's public address, reached over either link; Wi-Fi preferred.
	const public = "10.72.0.1"
	rig.ip("-n", box, "addr", "add", public+"/32", "dev", "lo")
	rig.ip("-n", phone, "route", "add", public+"/32", "via", "10.72.1.1", "metric", "10")
	rig.ip("-n", phone, "route", "add", public+"/32", "via", "10.72.2.1", "metric", "20")
	// No IPv6: its addresses appearing late tell Chromium the network
	// changed while it loads the page (ERR_NETWORK_CHANGED).
	rig.netns(phone).Exec("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")

	uas := startSIPpAt(t, pbx, "10.72.3.2", "uas_echo", 1)
	cfg := testConfig(t, uas.addr())
	cfg.Portal.Demo = true
	cfg.Portal.Listen = public + ":8443"
	cfg.Portal.PlainHTTP = false // its own self-signed certificate, as on a box
	cfg.SIP.Listen = []config.GatewaySIPListen{{Transport: "udp", Address: "10.72.3.1:5060"}}
	cfg.Media.ICEAddress, cfg.Media.PublicAddress, cfg.Media.ICEPort = public, public, 8478
	cfg.Media.RTPAddress = "10.72.3.1"
	api := startGatewayIn(t, box, cfg)

	portal := "https://" + public + ":8443"
	res, err := client.Authorize(context.Background(), rig.netns(phone).HTTPClient(), portal, testAPIKey,
		gateway.AuthorizeRequest{From: testFrom, Destination: "sip:agent@10.72.3.2", Context: testContext})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(nsBrowserIn(t, phone), 2*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(portal+"/demo/?token="+url.QueryEscape(res.Token)),
		chromedp.WaitVisible(chromedp.ID("call")),
	); err != nil {
		t.Fatal(err)
	}
	// Record the SDK's own events (reconnecting, reconnected, ice_restart).
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](`window.demo.sdk = []; (() => { const orig = EdgeboxCall.prototype._emit;
		EdgeboxCall.prototype._emit = function (type, d) { if (type !== "event" && type !== "track") window.demo.sdk.push(type); return orig.call(this, type, d); }; })()`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("call"))); err != nil {
		t.Fatal(err)
	}
	waitDemoState(t, ctx, gateway.EventAnswered, 30*time.Second)

	type stats struct{ Sent, Received float64 }
	audioFlows := func(what string) {
		t.Helper()
		var before stats
		var pbxBefore uint64
		waitFor(t, 10*time.Second, "stats", func() bool {
			before, _ = chromedp.Run(ctx, chromedp.Evaluate[stats](`window.demo.stats()`, chromedp.EvalAwaitPromise))
			calls, _ := api.Calls(context.Background())
			if len(calls) == 1 {
				pbxBefore = calls[0].PBX.Out.Packets
			}
			return before.Received > 0
		})
		waitFor(t, 30*time.Second, "audio both ways "+what, func() bool {
			now, _ := chromedp.Run(ctx, chromedp.Evaluate[stats](`window.demo.stats()`, chromedp.EvalAwaitPromise))
			calls, _ := api.Calls(context.Background())
			return len(calls) == 1 && now.Received > before.Received+100 && calls[0].PBX.Out.Packets > pbxBefore+100
		})
	}
	audioFlows("over Wi-Fi")

	// Wi-Fi gone: the link and its address.
	rig.ip("-n", phone, "addr", "flush", "dev", "wifi0")
	rig.ip("-n", phone, "link", "set", "wifi0", "down")

	deadline := time.Now().Add(40 * time.Second)
	for {
		ev, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`window.demo.sdk.join(" ")`))
		if strings.Contains(ev, "reconnected") && strings.Contains(ev, "ice_restart") {
			break
		}
		if time.Now().After(deadline) {
			logText, _ := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID("log")))
			st, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`window.demo.state + " ice=" + (window.demo.iceState ? window.demo.iceState() : "")`))
			t.Fatalf("the SDK did not resume the call and restart ICE within 40 s: SDK events %q, state %s; page log:\n%s", ev, st, logText)
		}
		time.Sleep(200 * time.Millisecond)
	}
	audioFlows("over the mobile link after the change")
	if s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`window.demo.state`)); s != gateway.EventAnswered {
		t.Errorf("the call is %q after the network change, want it still answered", s)
	}
	ev, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`window.demo.sdk.join(" ")`))
	t.Logf("SDK events: %s", ev)
	if strings.Contains(ev, "error") {
		t.Errorf("the SDK reported an error (the box refused the ICE restart?): %s", ev)
	}

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("hangup"))); err != nil {
		t.Fatal(err)
	}
	waitDemoState(t, ctx, gateway.EventEnded, 15*time.Second)
	uas.wait(t, 15*time.Second)
}
