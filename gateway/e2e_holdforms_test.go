package gateway_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
)

// The forms of hold PBXs send besides a=sendonly (uas_hold.xml): a=inactive,
// and the old c=0.0.0.0 (RFC 2543, still sent by some PBXs and SBCs, with
// a=sendrecv). On hold the box sends the PBX nothing; on resume audio
// flows again. Before, a c=0.0.0.0 hold showed "held" but the box went on
// sending the customer's audio to the PBX's old address.
func TestHoldForms(t *testing.T) {
	t.Parallel()
	for _, form := range []struct{ name, sdp string }{
		{"inactive", "c=IN IP[media_ip_type] [media_ip]\n      t=0 0\n      m=audio [media_port] RTP/AVP 0 101\n      a=rtpmap:0 PCMU/8000\n      a=rtpmap:101 telephone-event/8000\n      a=fmtp:101 0-16\n      a=inactive"},
		{"c=0.0.0.0", "c=IN IP4 0.0.0.0\n      t=0 0\n      m=audio [media_port] RTP/AVP 0 101\n      a=rtpmap:0 PCMU/8000\n      a=rtpmap:101 telephone-event/8000\n      a=fmtp:101 0-16\n      a=sendrecv"},
	} {
		t.Run(form.name, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(filepath.Join("testdata", "sipp", "uas_hold.xml"))
			if err != nil {
				t.Fatal(err)
			}
			s := string(raw)
			old := "c=IN IP[media_ip_type] [media_ip]\n      t=0 0\n      m=audio [media_port] RTP/AVP 0 101\n      a=rtpmap:0 PCMU/8000\n      a=rtpmap:101 telephone-event/8000\n      a=fmtp:101 0-16\n      a=sendonly"
			i := strings.Index(s, old)
			if i < 0 {
				t.Fatal("uas_hold.xml: no sendonly offer")
			}
			s = s[:i] + form.sdp + s[i+len(old):]
			// hold for 3 s (the ACK's pause) instead of 0.5 s
			j := strings.Index(s[i:], `<pause milliseconds="500"/>`)
			if j < 0 {
				t.Fatal("uas_hold.xml: no pause after the hold")
			}
			s = s[:i+j] + `<pause milliseconds="3000"/>` + s[i+j+len(`<pause milliseconds="500"/>`):]
			scenario := filepath.Join(t.TempDir(), "uas_hold_form.xml")
			if err := os.WriteFile(scenario, []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
			forEachStack(t, func(t *testing.T) { testHoldForm(t, scenario) })
		})
	}
}

func testHoldForm(t *testing.T, scenario string) {
	uas := startSIPp(t, scenario, 1)
	svc := startGateway(t, testConfig(t, uas.addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	c.StartAudio(ctx, 0)
	if _, err := c.WaitEvent(ctx, gateway.EventHeld); err != nil {
		t.Fatal(err)
	}
	out := func() uint64 { return svc.Snapshot()[0].PBX.Out.Packets }
	before := out()
	time.Sleep(time.Second) // the client sends ~50 packets meanwhile
	if sent := out() - before; sent > 3 {
		t.Errorf("the box sent the PBX %d packets in 1 s of hold", sent)
	}
	if _, err := c.WaitEvent(ctx, gateway.EventResumed); err != nil {
		t.Fatal(err)
	}
	waitEchoed(t, c, c.Stats().Echoed+10)
	c.Hangup(ctx)
	c.WaitEvent(ctx, gateway.EventEnded)
	uas.wait(t, 15*time.Second)
}
