package gateway_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/testenv"

	"github.com/chromedp/chromedp"
)

// TestBrowserEarlyMediaThenOtherCodec: the PBX's 183 takes PCMU (the
// announcement), its 200 PCMA (the agent's phone), both offered by the
// browser. Before, the 200's codec was ignored: the box went on sending
// PCMU to a PBX that had agreed to PCMA. Now the browser is renegotiated
// to PCMA, as for a re-INVITE, and audio keeps flowing.
func TestBrowserEarlyMediaThenOtherCodec(t *testing.T) {
	t.Parallel()
	forEachStack(t, testBrowserEarlyMediaThenOtherCodec)
}

func testBrowserEarlyMediaThenOtherCodec(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "sipp", "uas_early.xml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	i := strings.LastIndex(s, "m=audio [media_port] RTP/AVP 0 101\n      a=rtpmap:0 PCMU/8000") // the 200's
	if i < 0 || !strings.Contains(s[i-1200:i], "200 OK") {
		t.Fatal("uas_early.xml: no PCMU media line in its 200")
	}
	s = s[:i] + "m=audio [media_port] RTP/AVP 8 101\n      a=rtpmap:8 PCMA/8000" + s[i+len("m=audio [media_port] RTP/AVP 0 101\n      a=rtpmap:0 PCMU/8000"):]
	scenario := filepath.Join(t.TempDir(), "uas_early_pcma.xml")
	if err := os.WriteFile(scenario, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
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
	testenv.WaitFor(t, 15*time.Second, "codec pcma after the PBX's 200", func() (bool, error) {
		if calls := svc.Snapshot(); len(calls) == 1 {
			ci = calls[0]
		}
		return ci.Codec == "pcma", fmt.Errorf("codec %q", ci.Codec)
	})
	in, out := ci.PBX.In.Packets, ci.PBX.Out.Packets
	testenv.Until(25*time.Second, "audio after the answer", testenv.Cond(func() bool {
		ci = svc.Snapshot()[0]
		return ci.PBX.In.Packets > in+25 && ci.PBX.Out.Packets > out+25
	}))
	if ci.PBX.In.Packets <= in+25 || ci.PBX.Out.Packets <= out+25 {
		t.Fatalf("audio stopped after the answer: pbx in %d->%d out %d->%d", in, ci.PBX.In.Packets, out, ci.PBX.Out.Packets)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("hangup"))); err != nil {
		t.Fatal(err)
	}
	waitDemoState(t, ctx, gateway.EventEnded, 10*time.Second)
	uas.wait(t, 10*time.Second)
}
