package netctl_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"edgebox/api/netapi"
)

// TestNamespaceGSMService runs the netctl binary with a modemsim process
// (its PCM port on --audio, network.modem.audio_port pointing at it) and
// drives the GSM API as the gateway does: status, an incoming call
// answered with audio on the card's port, hung up by the far end, a busy
// outgoing call, an SMS received and a delivery report.
func TestNamespaceGSMService(t *testing.T) {
	t.Parallel()
	r := newRig(t, "gs")
	r.setCarrier("ltep", false)
	r.startDNSMasq("ltep", lteNet)
	audio := filepath.Join(r.dir, "modem-audio.sock")
	sim := r.startModemsimArgs("quectel-ec25", "", "--number", "+491701234567", "--audio", audio)
	cfg := lteConfig(sim.pty, "")
	m := cfg["network"].(map[string]any)["modem"].(map[string]any)
	m["profile"], m["audio_port"] = "quectel-ec25", audio
	r.writeConfig(cfg)
	r.startNetctl()
	ctx := context.Background()

	var st netapi.GSMStatus
	r.waitFor("GSM voice ready", 60*time.Second, func() (bool, string) {
		var err error
		st, err = r.client.GSMStatus(ctx)
		return err == nil && st.Voice && st.Registered && st.Number != "", fmt.Sprintf("%+v %v", st, err)
	})
	if st.AudioPort != audio || st.AudioFormat != netapi.GSMAudioFormat || st.IMSI == "" {
		t.Fatalf("status %+v", st)
	}
	evs := r.gsmEvents(st.Seq)
	next := func(kind string) netapi.GSMEvent { t.Helper(); return evs.next(kind, "") }

	sim.control("call +4915550100")
	ev := next(netapi.GSMIncoming)
	if ev.Number != "+4915550100" || ev.Withheld {
		t.Fatalf("incoming %+v", ev)
	}
	if err := r.client.GSMAnswer(ctx, ev.Call); err != nil {
		t.Fatal(err)
	}
	next(netapi.GSMConnected)
	if share := toneOn(t, st.AudioPort); share < 0.9 {
		t.Fatalf("card audio is not the caller's tone (share %.2f)", share)
	}
	sim.control("hangup")
	if ev := next(netapi.GSMEnded); ev.Reason != netapi.GSMEndRemoteHangup {
		t.Fatalf("ended %+v", ev)
	}

	sim.control("dialresult busy")
	res, err := r.client.GSMDial(ctx, "+4915550100")
	if err != nil {
		t.Fatal(err)
	}
	if res.Call == 0 {
		if res.Ended != netapi.GSMEndBusy {
			t.Fatalf("dial %+v", res)
		}
	} else if ev := next(netapi.GSMEnded); ev.Reason != netapi.GSMEndBusy {
		t.Fatalf("busy: %+v", ev)
	}

	sim.control("sms +4915550100 call me")
	if ev := next(netapi.GSMSMSReceived); ev.SMS == nil || ev.SMS.Text != "call me" {
		t.Fatalf("sms %+v", ev)
	}
	sent, err := r.client.SendSMSReport(ctx, "+4915550101", "on my way")
	if err != nil || len(sent.Refs) != 1 {
		t.Fatalf("send %+v %v", sent, err)
	}
	if ev := next(netapi.GSMSMSStatus); ev.Ref != sent.Refs[0] || ev.Status != netapi.GSMSMSDelivered {
		t.Fatalf("report %+v", ev)
	}
}
