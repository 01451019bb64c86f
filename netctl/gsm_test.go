package netctl

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/api/netapi"
	"edgebox/internal/localapi"
	"edgebox/internal/testenv"
	"edgebox/modem"
	"edgebox/modem/modemsim"
)

// gsmRig is netctl's GSM API over a real unix socket, on a modem.Modem
// driving an embedded modemsim over a pty (with its PCM port).
type gsmRig struct {
	sim   *modemsim.Sim
	c     netapi.Client
	hub   *gsmHub
	after uint64
}

// gsmRigHooks run at points of newGSMRig (nil: nothing).
type gsmRigHooks struct {
	beforeHub   func(*modemsim.Sim, *modem.Modem) // modem open, hub not made yet
	beforeStart func(*modemsim.Sim, *modem.Modem) // hub made, no API call yet
}

func newGSMRig(t *testing.T, profile string, hooks ...gsmRigHooks) *gsmRig {
	t.Helper()
	var hk gsmRigHooks
	if len(hooks) > 0 {
		hk = hooks[0]
	}
	sim, err := modemsim.New(modemsim.Config{Profile: profile, BootTime: 50 * time.Millisecond, Number: "+4915550199"})
	if err != nil {
		t.Fatal(err)
	}
	sim.SetVoiceTiming(modemsim.VoiceTiming{Ring: 200 * time.Millisecond, Alert: 50 * time.Millisecond, Outcome: 600 * time.Millisecond, NoAnswer: 700 * time.Millisecond, Report: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	path, wait, err := sim.ServePTY(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	audioSock := filepath.Join(dir, "audio.sock")
	aln, err := net.Listen("unix", audioSock)
	if err != nil {
		t.Fatal(err)
	}
	audioDone := make(chan error, 1)
	go func() { audioDone <- sim.ServeAudio(ctx, aln) }()
	opts := modem.Options{Device: modem.Device{Port: path, Profile: profile}, SMSDir: filepath.Join(dir, "sms"), CommandTimeout: 3 * time.Second}
	m, err := modem.Open(ctx, opts)
	if errors.Is(err, modem.ErrNeedsReset) { // EC25 switched to ECM: open again, as netctl does
		time.Sleep(300 * time.Millisecond)
		m, err = modem.Open(ctx, opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	var drv ModemDriver = realModem{m}
	driver := func() (ModemDriver, error) { return drv, nil }
	log := slog.New(slog.DiscardHandler)
	if hk.beforeHub != nil {
		hk.beforeHub(sim, m)
	}
	hub := newGSMHub(driver, func() context.Context { return ctx }, log)
	hub.audioPort = func() string { return audioSock }
	if hk.beforeStart != nil {
		hk.beforeStart(sim, m)
	}
	mux := http.NewServeMux()
	hub.mount(mux)
	mux.HandleFunc("POST /v1/sms", sendSMSHandler(func(string) (ModemDriver, error) { return driver() }, log))
	sock := filepath.Join(dir, "netctl.sock")
	ln, err := localapi.ListenPath(sock)
	if err != nil {
		t.Fatal(err)
	}
	srvDone := make(chan error, 1)
	go func() { srvDone <- localapi.Serve(ctx, ln, mux) }()
	t.Cleanup(func() {
		cancel()
		<-srvDone
		<-audioDone
		m.Close()
		wait()
	})
	r := &gsmRig{sim: sim, c: netapi.NewClientPath(sock), hub: hub}
	// The hub sets voice up once it saw the modem.
	testenv.Until(10*time.Second, "voice set up", testenv.Cond(func() bool {
		st, err := r.c.GSMStatus(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		r.after = st.Seq
		return st.Voice
	}))
	return r
}

// next long-polls for the next event.
func (r *gsmRig) next(t *testing.T) netapi.GSMEvent {
	t.Helper()
	var ev netapi.GSMEvent
	testenv.WaitFor(t, 10*time.Second, "a GSM event", testenv.Cond(func() bool {
		evs, err := r.c.GSMEvents(context.Background(), r.after, 2*time.Second) // a long poll
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return false
		}
		r.after, ev = evs[0].Seq, evs[0]
		return true
	}))
	return ev
}

func (r *gsmRig) expect(t *testing.T, kind string) netapi.GSMEvent {
	t.Helper()
	ev := r.next(t)
	if ev.Kind != kind {
		t.Fatalf("want a %s event, got %+v", kind, ev)
	}
	return ev
}

func TestGSMIncomingCalls(t *testing.T) {
	r := newGSMRig(t, "quectel-ec25")
	ctx := context.Background()
	st, err := r.c.GSMStatus(ctx)
	if err != nil || !st.Voice || st.AudioFormat != netapi.GSMAudioFormat || st.AudioPort == "" || len(st.Calls) != 0 {
		t.Fatalf("status %+v %v", st, err)
	}
	if err := r.c.GSMAnswer(ctx, 0); err == nil || !strings.Contains(err.Error(), "no call is ringing") {
		t.Fatalf("answer without a call: %v", err)
	}

	// A caller with a number; answered; audio flows; the far end hangs up.
	if _, err := r.sim.IncomingCall("+4915550100"); err != nil {
		t.Fatal(err)
	}
	ev := r.expect(t, netapi.GSMIncoming)
	if ev.Number != "+4915550100" || ev.Withheld || ev.Call != 1 {
		t.Fatalf("incoming %+v", ev)
	}
	st, _ = r.c.GSMStatus(ctx)
	if len(st.Calls) != 1 || st.Calls[0].State != netapi.GSMCallIncoming || !st.Calls[0].Incoming {
		t.Fatalf("ringing: %+v", st.Calls)
	}
	if err := r.c.GSMAnswer(ctx, 2); err == nil {
		t.Fatal("answered call 2, which does not exist")
	}
	if err := r.c.GSMAnswer(ctx, ev.Call); err != nil {
		t.Fatal(err)
	}
	if ev := r.expect(t, netapi.GSMConnected); ev.Call != 1 || ev.Number != "+4915550100" {
		t.Fatalf("connected %+v", ev)
	}
	// The gateway's side of the audio: open the port, echo the tone.
	a, err := net.Dial("unix", st.AudioPort)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.SetDeadline(time.Now().Add(5 * time.Second))
	frames := make([]byte, 10*modemsim.AudioFrameBytes)
	if _, err := io.ReadFull(a, frames); err != nil {
		t.Fatal(err)
	}
	x := make([]int16, len(frames)/2)
	for i := range x {
		x[i] = int16(binary.LittleEndian.Uint16(frames[2*i:]))
	}
	if share, _, _ := modemsim.ToneLevel(x, 1000); share < 0.9 {
		t.Fatalf("the card's audio is not the caller's 1000 Hz tone (share %.2f)", share)
	}
	a.Write(frames)
	testenv.WaitFor(t, 5*time.Second, "echoed audio", func() (bool, error) {
		st := r.sim.AudioStats()
		return st.ToneFrames >= 10, fmt.Errorf("audio stats %+v", st)
	})
	if err := r.sim.RemoteHangup(0); err != nil {
		t.Fatal(err)
	}
	if ev := r.expect(t, netapi.GSMEnded); ev.Call != 1 || ev.Reason != netapi.GSMEndRemoteHangup {
		t.Fatalf("far-end hangup %+v", ev)
	}

	// A withheld caller, hung up by us while ringing.
	r.sim.IncomingCall("withheld")
	ev = r.expect(t, netapi.GSMIncoming)
	if !ev.Withheld || ev.Number != "" || ev.Reason != "withheld" {
		t.Fatalf("withheld %+v", ev)
	}
	if err := r.c.GSMHangup(ctx, 5); err == nil {
		t.Fatal("hung up call 5, which does not exist")
	}
	if err := r.c.GSMHangup(ctx, ev.Call); err != nil {
		t.Fatal(err)
	}
	if ev := r.expect(t, netapi.GSMEnded); ev.Reason != netapi.GSMEndLocalHangup || !ev.Withheld {
		t.Fatalf("local hangup %+v", ev)
	}
	// A caller who gives up before we answer.
	r.sim.IncomingCall("+4915550100")
	r.expect(t, netapi.GSMIncoming)
	r.sim.RemoteHangup(0)
	if ev := r.expect(t, netapi.GSMEnded); ev.Reason != netapi.GSMEndRemoteHangup {
		t.Fatalf("caller gave up: %+v", ev)
	}
}

func TestGSMOutgoingCalls(t *testing.T) {
	for _, profile := range []string{"quectel-ec25", "huawei-me909s"} {
		t.Run(profile, func(t *testing.T) {
			r := newGSMRig(t, profile)
			ctx := context.Background()
			cases := []struct{ result, reason string }{
				{"busy", netapi.GSMEndBusy},
				{"noanswer", netapi.GSMEndNoAnswer},
				{"nocarrier", netapi.GSMEndNoCarrier},
				{"invalid", netapi.GSMEndInvalidNumber},
			}
			for _, c := range cases {
				r.sim.SetDialResult(c.result)
				res, err := r.c.GSMDial(ctx, "+4915550100")
				if err != nil {
					t.Fatalf("%s: %v", c.result, err)
				}
				if res.Call == 0 {
					// Ended before +CLCC listed it: the answer says why.
					if res.Ended != c.reason {
						t.Errorf("%s: dial %+v", c.result, res)
					}
					continue
				}
				for {
					ev := r.next(t)
					if ev.Kind == netapi.GSMAlerting {
						continue
					}
					if ev.Kind != netapi.GSMEnded || ev.Call != res.Call || ev.Reason != c.reason {
						t.Errorf("%s: %+v", c.result, ev)
					}
					break
				}
			}
			r.sim.SetDialResult("nonetwork")
			if res, err := r.c.GSMDial(ctx, "+4915550100"); err != nil || res.Call != 0 || res.Ended != netapi.GSMEndNoNetwork {
				t.Errorf("no network: %+v %v", res, err)
			}

			// Answered: ringback, connected, DTMF, our hangup.
			res, err := r.c.GSMDial(ctx, "+4915550100")
			if err != nil || res.Call == 0 {
				t.Fatalf("dial %+v %v", res, err)
			}
			if ev := r.expect(t, netapi.GSMAlerting); ev.Call != res.Call {
				t.Fatalf("alerting %+v", ev)
			}
			if ev := r.expect(t, netapi.GSMConnected); ev.Call != res.Call || ev.Number != "+4915550100" {
				t.Fatalf("connected %+v", ev)
			}
			if err := r.c.GSMDTMF(ctx, "12#"); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(r.sim.VoiceState().DTMF, ""); got != "12#" {
				t.Fatalf("the card got DTMF %q", got)
			}
			if profile == "huawei-me909s" && !r.sim.AudioStats().InCall {
				t.Fatal("Huawei voice path closed: ^DDSETEX=2 not sent after the call connected")
			}
			if err := r.c.GSMHangup(ctx, 0); err != nil {
				t.Fatal(err)
			}
			if ev := r.expect(t, netapi.GSMEnded); ev.Reason != netapi.GSMEndLocalHangup {
				t.Fatalf("hangup %+v", ev)
			}

			// Refused input never reaches the card.
			before := len(r.sim.VoiceState().Dialed)
			for _, bad := range []string{"123abc", "123;", "", "+"} {
				if _, err := r.c.GSMDial(ctx, bad); err == nil || !strings.Contains(err.Error(), "digits") {
					t.Errorf("dial %q: %v", bad, err)
				}
			}
			if n := len(r.sim.VoiceState().Dialed); n != before {
				t.Errorf("bad numbers reached the card: %d dials", n-before)
			}
			if err := r.c.GSMDTMF(ctx, "X"); err == nil || !strings.Contains(err.Error(), "DTMF") {
				t.Errorf("dtmf X: %v", err)
			}
			if err := r.c.GSMDTMF(ctx, "1"); err == nil || !strings.Contains(err.Error(), "no active call") {
				t.Errorf("dtmf without a call: %v", err)
			}
		})
	}
}

func TestGSMSMSEvents(t *testing.T) {
	r := newGSMRig(t, "huawei-me909s")
	ctx := context.Background()
	if _, err := r.sim.DeliverSMS("+4915550100", "ring me back"); err != nil {
		t.Fatal(err)
	}
	ev := r.expect(t, netapi.GSMSMSReceived)
	if ev.SMS == nil || ev.SMS.Text != "ring me back" || ev.SMS.From != "+4915550100" || ev.Number != "+4915550100" {
		t.Fatalf("sms event %+v", ev)
	}
	res, err := r.c.SendSMSReport(ctx, "+4915550101", strings.Repeat("long ", 40))
	if err != nil || len(res.Refs) != 2 || res.Parts != 2 || res.ID == "" {
		t.Fatalf("send %+v %v", res, err)
	}
	got := map[int]string{}
	for len(got) < 2 {
		ev := r.expect(t, netapi.GSMSMSStatus)
		if ev.Number != "+4915550101" {
			t.Fatalf("report %+v", ev)
		}
		got[ev.Ref] = ev.Status
	}
	for _, ref := range res.Refs {
		if got[ref] != netapi.GSMSMSDelivered {
			t.Errorf("ref %d: %q (reports %v)", ref, got[ref], got)
		}
	}
	r.sim.Control("smsreport fail")
	res, err = r.c.SendSMSReport(ctx, "+4915550101", "x")
	if err != nil || len(res.Refs) != 1 {
		t.Fatal(res, err)
	}
	if ev := r.expect(t, netapi.GSMSMSStatus); ev.Ref != res.Refs[0] || ev.Status != netapi.GSMSMSFailed || ev.Reason != "41" {
		t.Fatalf("failed report %+v", ev)
	}
	// The old client method still decodes the answer.
	if m, err := r.c.SendSMS(ctx, "+4915550101", "y"); err != nil || m.Text != "y" {
		t.Fatalf("SendSMS %+v %v", m, err)
	}
}

// The events long-poll over the socket: at once when events wait, after
// the wait when none come, woken by a new one; a gap event when the ring
// lost events or netctl restarted; bad parameters refused.
func TestGSMEventsLongPoll(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hub := newGSMHub(func() (ModemDriver, error) { return nil, errors.New("the modem is disabled") }, func() context.Context { return ctx }, slog.New(slog.DiscardHandler))
	mux := http.NewServeMux()
	hub.mount(mux)
	sock := filepath.Join(t.TempDir(), "netctl.sock")
	ln, err := localapi.ListenPath(sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- localapi.Serve(ctx, ln, mux) }()
	defer func() { cancel(); <-done }()
	c := netapi.NewClientPath(sock)

	if evs, err := c.GSMEvents(ctx, 0, 0); err != nil || len(evs) != 0 {
		t.Fatalf("no events yet: %+v %v", evs, err)
	}
	st, err := c.GSMStatus(ctx)
	if err != nil || st.Voice || !strings.Contains(st.VoiceWhy, "disabled") {
		t.Fatalf("status without modem: %+v %v", st, err)
	}
	if err := c.GSMAnswer(ctx, 0); err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Fatalf("answer without modem: %v", err)
	}
	// Woken by an event.
	go func() {
		time.Sleep(100 * time.Millisecond)
		hub.emit(netapi.GSMEvent{Kind: netapi.GSMIncoming, Call: 1, Number: "+4915550100"})
	}()
	evs, err := c.GSMEvents(ctx, 0, 10*time.Second)
	if err != nil || len(evs) != 1 || evs[0].Seq != 1 || evs[0].Kind != netapi.GSMIncoming {
		t.Fatalf("woken: %+v %v", evs, err)
	}
	// None within the wait: an empty answer.
	if evs, err := c.GSMEvents(ctx, 1, 50*time.Millisecond); err != nil || len(evs) != 0 {
		t.Fatalf("timeout: %+v %v", evs, err)
	}
	// The ring keeps the last 256: older `after` gets a gap first.
	for i := 0; i < 300; i++ {
		hub.emit(netapi.GSMEvent{Kind: netapi.GSMDTMF, Call: 1, Number: "5"})
	}
	evs, _ = c.GSMEvents(ctx, 1, 0)
	if len(evs) != gsmRingSize+1 || evs[0].Kind != netapi.GSMGap || evs[0].Seq != 301-gsmRingSize || evs[1].Seq != 302-gsmRingSize || evs[len(evs)-1].Seq != 301 {
		t.Fatalf("gap: %d events, first %+v, second seq %d", len(evs), evs[0], evs[1].Seq)
	}
	if !strings.Contains(evs[0].Reason, "44 events lost") {
		t.Errorf("gap reason %q", evs[0].Reason)
	}
	// Only newer ones.
	if evs, _ := c.GSMEvents(ctx, 299, 0); len(evs) != 2 || evs[0].Seq != 300 {
		t.Fatalf("after 299: %+v", evs)
	}
	// A client from before a restart.
	if evs, _ := c.GSMEvents(ctx, 5000, 0); len(evs) != 1 || evs[0].Kind != netapi.GSMGap || evs[0].Seq != 301 {
		t.Fatalf("restart: %+v", evs)
	}
	for _, q := range []string{"after=x", "after=-1", "wait=forever", "wait=-1s"} {
		var out any
		if err := c.Get(ctx, "/v1/gsm/events?"+q, &out); err == nil {
			t.Errorf("%s accepted", q)
		}
	}
	for _, body := range []string{`{"call":9}`, `{"call":-1}`, `{"bogus":1}`} {
		if err := c.Post(ctx, "/v1/gsm/hangup", rawJSON(body), nil); err == nil {
			t.Errorf("hangup %s accepted", body)
		}
	}
}

type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

// The Service mounts the GSM API; without a modem it says why.
func TestGSMRoutesOnService(t *testing.T) {
	s := &Service{Mux: http.NewServeMux(), log: slog.New(slog.DiscardHandler)}
	s.gsmRoutes(s.Mux)
	rec := httptest.NewRecorder()
	s.Mux.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/gsm/status", nil))
	var st netapi.GSMStatus
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || rec.Code != 200 || st.Voice || !strings.Contains(st.VoiceWhy, "disabled") {
		t.Fatalf("%d %s %v", rec.Code, rec.Body, err)
	}
	rec = httptest.NewRecorder()
	s.Mux.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/gsm/dial", strings.NewReader(`{"number":"+4915550100"}`)))
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "disabled") {
		t.Fatalf("dial without modem: %d %s", rec.Code, rec.Body)
	}
}

// Every call-control request checks its body before it asks for the
// modem: bad input is 400 even without one, good input then 409.
func TestGSMRequestRefusals(t *testing.T) {
	s := &Service{Mux: http.NewServeMux(), log: slog.New(slog.DiscardHandler)}
	s.gsmRoutes(s.Mux)
	cases := []struct {
		path, body string
		code       int
	}{
		{"/v1/gsm/answer", `{"call":`, http.StatusBadRequest},
		{"/v1/gsm/answer", `{"call":8}`, http.StatusBadRequest},
		{"/v1/gsm/hangup", `{"call":-1}`, http.StatusBadRequest},
		{"/v1/gsm/hangup", `{"call":0}`, http.StatusConflict},
		{"/v1/gsm/dial", `{"number":"12;ATH"}`, http.StatusBadRequest},
		{"/v1/gsm/dial", `[]`, http.StatusBadRequest},
		{"/v1/gsm/dtmf", `{"digits":"12x"}`, http.StatusBadRequest},
		{"/v1/gsm/dtmf", `{"digits":"12#"}`, http.StatusConflict},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		s.Mux.ServeHTTP(rec, httptest.NewRequest("POST", c.path, strings.NewReader(c.body)))
		if rec.Code != c.code {
			t.Errorf("%s %s: %d %s, want %d", c.path, c.body, rec.Code, rec.Body, c.code)
		}
	}
}

// An SMS stored while netctl was still opening the modem (before the
// gateway's first poll started the hub) is announced; one stored by an
// earlier netctl is not.
func TestGSMSMSStoredBeforeHubStart(t *testing.T) {
	deliver := func(text string) func(*modemsim.Sim, *modem.Modem) {
		return func(sim *modemsim.Sim, m *modem.Modem) {
			if _, err := sim.DeliverSMS("+4915550100", text); err != nil {
				t.Fatal(err)
			}
			testenv.WaitFor(t, 10*time.Second, "SMS "+text+" stored", testenv.Cond(func() bool {
				l, _ := m.ListSMS()
				for _, s := range l {
					if s.Text == text {
						return true
					}
				}
				return false
			}))
		}
	}
	r := newGSMRig(t, "quectel-ec25", gsmRigHooks{beforeHub: deliver("old news"), beforeStart: deliver("while opening")})
	var texts []string
	testenv.WaitFor(t, 10*time.Second, "the SMS event", testenv.Cond(func() bool {
		evs, err := r.c.GSMEvents(context.Background(), 0, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		texts = nil
		for _, ev := range evs {
			if ev.Kind == netapi.GSMSMSReceived {
				texts = append(texts, ev.SMS.Text)
			}
		}
		return len(texts) > 0
	}))
	time.Sleep(300 * time.Millisecond) // a wrong second event would be there by now
	evs, _ := r.c.GSMEvents(context.Background(), 0, 0)
	texts = nil
	for _, ev := range evs {
		if ev.Kind == netapi.GSMSMSReceived {
			texts = append(texts, ev.SMS.Text)
		}
	}
	if len(texts) != 1 || texts[0] != "while opening" {
		t.Fatalf("announced %q, want only \"while opening\"", texts)
	}
}
