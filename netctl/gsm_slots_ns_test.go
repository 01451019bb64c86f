package netctl_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/api/netapi"
	"edgebox/modem/modemsim"
	"edgebox/netctl"
)

// TestNamespaceGSMTwoModems runs the netctl binary with two modemsim
// processes: the data modem (Quectel EC25, slot mpcie1, LTE up as the
// uplink) and a voice-only modem (Huawei ME909s, slot mpcie2,
// network.modem.voice_modems) with another number and its own PCM port.
// The GSM API lists both SIMs; events carry the slot; answer, dial and
// SMS act on the modem the slot names and on no other; the voice modem
// never connects data; a hung voice modem is recovered on its own while
// the data modem's call and uplink carry on.
func TestNamespaceGSMTwoModems(t *testing.T) {
	t.Parallel()
	r := newRig(t, "g2")
	r.setCarrier("ltep", false)
	r.startDNSMasq("ltep", lteNet)
	audio1, audio2 := filepath.Join(r.dir, "pcm1.sock"), filepath.Join(r.dir, "pcm2.sock")
	sim1 := r.startModemsimArgs("quectel-ec25", "", "--number", "+491701111111", "--audio", audio1)
	sim2 := r.startModemsimAt("modemsim2.ctl", "huawei-me909s", "4321", "--number", "+491702222222", "--audio", audio2)
	cfg := lteConfig(sim1.pty, "")
	m := cfg["network"].(map[string]any)["modem"].(map[string]any)
	m["profile"], m["audio_port"], m["slot"] = "quectel-ec25", audio1, "mpcie1"
	m["voice_modems"] = []any{map[string]any{"slot": "mpcie2", "port": sim2.pty, "profile": "huawei-me909s", "pin": "4321", "audio_port": audio2}}
	r.writeConfig(cfg)
	r.startNetctl()
	ctx := context.Background()

	var st netapi.GSMStatus
	r.waitFor("both SIMs ready", 90*time.Second, func() (bool, string) {
		var err error
		st, err = r.client.GSMStatus(ctx)
		ok := err == nil && len(st.SIMs) == 2
		for _, s := range st.SIMs {
			ok = ok && s.Voice && s.Registered && s.Number != ""
		}
		return ok, fmt.Sprintf("%+v %v", st, err)
	})
	s1, s2 := st.SIMs[0], st.SIMs[1]
	if s1.Slot != "mpcie1" || !s1.Data || s1.Number != "+491701111111" || s1.AudioPort != audio1 ||
		s2.Slot != "mpcie2" || s2.Data || s2.Number != "+491702222222" || s2.AudioPort != audio2 || s2.Modem != netapi.ModemRegistered {
		t.Fatalf("SIMs %+v", st.SIMs)
	}
	if st.Slot != "mpcie1" || st.Number != s1.Number {
		t.Fatalf("the default SIM (top of the status) is not the data modem's: %+v", st.GSMSIMStatus)
	}
	r.waitFor("LTE uplink up on the data modem", 60*time.Second, func() (bool, string) {
		ns := r.status()
		return ns.Modem.State == netctl.ModemConnected && uplink(ns, "modem").State == "healthy" && r.defaultRoute() == "lte0", fmt.Sprintf("%+v", ns.Modem)
	})
	if ns := r.status(); len(ns.VoiceModems) != 1 || ns.VoiceModems[0].State != netapi.ModemRegistered || ns.VoiceModems[0].Link != nil {
		t.Fatalf("voice modem status %+v", ns.VoiceModems)
	}
	// the AT passthrough reaches the card of the slot named
	for slot, num := range map[string]string{"": "+491701111111", "mpcie2": "+491702222222"} {
		res, err := r.client.ATRequest(ctx, netapi.ATRequest{Command: "AT+CNUM", Slot: slot})
		if err != nil || !strings.Contains(strings.Join(res.Lines, " "), num) {
			t.Errorf("AT+CNUM on slot %q: %+v %v, want %s", slot, res, err, num)
		}
	}
	for _, c := range sim2.commands() {
		if u := strings.ToUpper(c); strings.HasPrefix(u, "AT^NDISDUP") || strings.HasPrefix(u, "AT+CGACT=1") || strings.HasPrefix(u, "ATD*99") {
			t.Fatalf("the voice modem was asked for data: %q", c)
		}
	}

	ev := r.gsmEvents(st.Seq)
	next := func(kind, slot string) netapi.GSMEvent { t.Helper(); return ev.next(kind, slot) }

	// A call into SIM 2 rings on slot mpcie2 and is answered there.
	sim2.control("call +4915550100")
	in := next(netapi.GSMIncoming, "mpcie2")
	if in.Number != "+4915550100" {
		t.Fatalf("incoming %+v", in)
	}
	if err := r.client.GSMAnswer(ctx, in.Call); err == nil {
		t.Fatal("answer without a slot answered on the data modem, where nothing rings")
	}
	if err := r.client.GSMAnswerOn(ctx, "mpcie2", in.Call); err != nil {
		t.Fatal(err)
	}
	next(netapi.GSMConnected, "mpcie2")
	if share := toneOn(t, audio2); share < 0.9 {
		t.Fatalf("SIM 2's audio port does not carry its caller's tone (share %.2f)", share)
	}

	// While SIM 2 talks, a dial on mpcie1 goes out on the data modem.
	res, err := r.client.GSMDialOn(ctx, "mpcie1", "+4915550177")
	if err != nil || res.Call == 0 {
		t.Fatalf("dial on mpcie1: %+v %v", res, err)
	}
	next(netapi.GSMConnected, "mpcie1")
	if d := dialed(t, sim1); len(d) != 1 || d[0] != "+4915550177" {
		t.Fatalf("SIM 1 dialled %v", d)
	}
	if d := dialed(t, sim2); len(d) != 0 {
		t.Fatalf("SIM 2 dialled %v", d)
	}

	// SMS: sent on mpcie2 with its report there; received on mpcie2.
	sent, err := r.client.SendSMSReportOn(ctx, "mpcie2", "+4915550101", "from sim two")
	if err != nil || len(sent.Refs) != 1 {
		t.Fatalf("send %+v %v", sent, err)
	}
	if ev := next(netapi.GSMSMSStatus, "mpcie2"); ev.Ref != sent.Refs[0] || ev.Status != netapi.GSMSMSDelivered {
		t.Fatalf("report %+v", ev)
	}
	if n1, n2 := sentCount(t, sim1), sentCount(t, sim2); n1 != 0 || n2 != 1 {
		t.Fatalf("SMS sent by SIM 1: %d, by SIM 2: %d (want 0, 1)", n1, n2)
	}
	sim2.control("sms +4915550100 to sim two")
	if ev := next(netapi.GSMSMSReceived, "mpcie2"); ev.SMS == nil || ev.SMS.Text != "to sim two" {
		t.Fatalf("sms %+v", ev)
	}
	if _, err := r.client.GSMDialOn(ctx, "mpcie9", "+4915550177"); err == nil || !strings.Contains(err.Error(), `no modem in slot "mpcie9" (modems: mpcie1, mpcie2)`) {
		t.Fatalf("dial on an unknown slot: %v", err)
	}

	// SIM 2's card hangs: netctl recovers it on its own; the call on
	// SIM 1 and the LTE uplink are not touched.
	sim2.control("hang on")
	r.waitFor("the voice modem seen hung", 60*time.Second, func() (bool, string) {
		ns := r.status()
		return len(ns.VoiceModems) == 1 && ns.VoiceModems[0].State != netapi.ModemRegistered, fmt.Sprintf("%+v", ns.VoiceModems)
	})
	st1, err := r.client.GSMStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st1.SIMs[0].Calls) != 1 || st1.SIMs[0].Calls[0].State != netapi.GSMCallActive {
		t.Fatalf("SIM 1's call while SIM 2 hangs: %+v", st1.SIMs[0])
	}
	if ns := r.status(); ns.Modem.State != netctl.ModemConnected || uplink(ns, "modem").State != "healthy" {
		t.Fatalf("data modem while SIM 2 hangs: %+v", ns.Modem)
	}
	sim2.control("hang off")
	r.waitFor("the voice modem registered again", 90*time.Second, func() (bool, string) {
		ns := r.status()
		return len(ns.VoiceModems) == 1 && ns.VoiceModems[0].State == netapi.ModemRegistered, fmt.Sprintf("%+v", ns.VoiceModems)
	})
	if err := r.client.GSMHangupOn(ctx, "mpcie1", 0); err != nil {
		t.Fatal(err)
	}
	if ev := next(netapi.GSMEnded, "mpcie1"); ev.Reason != netapi.GSMEndLocalHangup {
		t.Fatalf("ended %+v", ev)
	}
}

// gsmEventReader follows netctl's GSM events for a test.
type gsmEventReader struct {
	r     *rig
	after uint64
}

func (r *rig) gsmEvents(after uint64) *gsmEventReader { return &gsmEventReader{r: r, after: after} }

// next waits up to 20 s for the next event of kind on slot; any other
// event but a ringback (alerting) fails the test.
func (e *gsmEventReader) next(kind, slot string) netapi.GSMEvent {
	t := e.r.t
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		evs, err := e.r.client.GSMEvents(context.Background(), e.after, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			e.after = ev.Seq
			if ev.Kind == kind && ev.Slot == slot {
				return ev
			}
			if ev.Kind != netapi.GSMAlerting {
				t.Fatalf("want %s on slot %q, got %+v", kind, slot, ev)
			}
		}
	}
	t.Fatalf("no %s event on slot %q", kind, slot)
	return netapi.GSMEvent{}
}

// toneOn reads a few frames from a modemsim PCM port and says how much
// of them is its caller's 1 kHz tone.
func toneOn(t *testing.T, sock string) float64 {
	t.Helper()
	a, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 5*modemsim.AudioFrameBytes)
	if _, err := io.ReadFull(a, buf); err != nil {
		t.Fatalf("no audio from %s: %v", sock, err)
	}
	x := make([]int16, len(buf)/2)
	for i := range x {
		x[i] = int16(binary.LittleEndian.Uint16(buf[2*i:]))
	}
	share, _, _ := modemsim.ToneLevel(x, 1000)
	return share
}

func dialed(t *testing.T, s *simulator) []string {
	var st struct{ Dialed []string }
	if err := json.Unmarshal([]byte(s.control("calls")), &st); err != nil {
		t.Fatal(err)
	}
	return st.Dialed
}

func sentCount(t *testing.T, s *simulator) int {
	var st struct{ Sent []json.RawMessage }
	if err := json.Unmarshal([]byte(s.control("state")), &st); err != nil {
		t.Fatal(err)
	}
	return len(st.Sent)
}
