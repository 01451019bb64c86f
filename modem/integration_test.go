package modem_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edgebox/internal/testenv"
	"edgebox/modem"
	"edgebox/modem/modemsim"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/tpdu"
)

var allProfiles = []string{"huawei-mu609", "huawei-me909u", "huawei-me909s", "ericsson-f5521gw", "dell-dw5550", "quectel-ec25", "sierra-mc8775", "generic"}

type rig struct {
	sim    *modemsim.Sim
	path   string
	m      *modem.Modem
	smsDir string
	slot   *int
}

// startSim serves a simulated modem on a real pty.
func startSim(t *testing.T, cfg modemsim.Config) (*modemsim.Sim, string) {
	t.Helper()
	sim, err := modemsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	path, wait, err := sim.ServePTY(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); wait() })
	return sim, path
}

// newRig opens a Modem on a simulated modem. Timeouts are generous so a
// loaded CI machine does not fail tests; fault tests that need timeouts
// shorten them with optMod.
func newRig(t *testing.T, profile string, mod func(*modemsim.Config), optMod ...func(*modem.Options)) *rig {
	t.Helper()
	cfg := modemsim.Config{Profile: profile, BootTime: 100 * time.Millisecond, ConnectDelay: 20 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	sim, path := startSim(t, cfg)
	r := &rig{sim: sim, path: path, smsDir: filepath.Join(t.TempDir(), "sms"), slot: new(int)}
	var mu sync.Mutex
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	opts := modem.Options{
		Device:         modem.Device{Port: path, Profile: profile},
		CommandTimeout: 3 * time.Second,
		MaxTimeouts:    2,
		ProbeTimeout:   time.Second,
		RebootWait:     5 * time.Second,
		ConnectTimeout: 5 * time.Second,
		SlotReset: func() error {
			mu.Lock()
			*r.slot++
			mu.Unlock()
			sim.PowerCycle()
			return nil
		},
		SMSDir: r.smsDir,
	}
	for _, f := range optMod {
		f(&opts)
	}
	m, err := modem.Open(ctx, opts)
	if errors.Is(err, modem.ErrNeedsReset) {
		// EC25 in QMI mode: Init switched it to ECM and restarted it; the
		// box detects it again, as netctl does.
		time.Sleep(500 * time.Millisecond)
		m, err = modem.Open(ctx, opts)
	}
	if err != nil {
		t.Fatalf("open %s: %v", profile, err)
	}
	t.Cleanup(func() { m.Close() })
	r.m = m
	return r
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitEvent waits for an event of kind satisfying ok.
func waitEvent(t *testing.T, m *modem.Modem, kind modem.EventKind, ok func(modem.Event) bool) modem.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, open := <-m.Events():
			if !open {
				t.Fatalf("events closed waiting for %s", kind)
			}
			if ev.Kind == kind && (ok == nil || ok(ev)) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event", kind)
		}
	}
}

// known checks the engine ends in a known, working state with nothing lost.
func (r *rig) known(t *testing.T) {
	t.Helper()
	ctx := ctxT(t)
	if err := r.m.Engine().Faulty(); err != nil {
		t.Fatalf("engine faulty: %v", err)
	}
	if _, err := r.m.Engine().Command(ctx, "AT", 0); err != nil {
		t.Fatalf("AT after the test: %v", err)
	}
	if n := r.m.Engine().Lost(); n != 0 {
		t.Fatalf("%d URCs lost", n)
	}
	if r.sim.State().Echo {
		t.Fatal("echo is on: modem not (re)initialised")
	}
}

func TestProfilesAgainstSimulator(t *testing.T) {
	for _, p := range allProfiles {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, p, nil)
			ctx := ctxT(t)
			id, err := r.m.Identity(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if id.IMEI != "867223020123456" || id.IMSI != "262011234567890" || id.ICCID != "89490200001234567890" || id.Model == "" || id.Firmware == "" {
				t.Fatalf("identity %+v", id)
			}
			sim, err := r.m.SIM(ctx)
			if err != nil || sim.State != modem.SIMReady {
				t.Fatalf("SIM %+v %v", sim, err)
			}
			if sim.ICCID != id.ICCID {
				t.Fatalf("SIM ICCID %q", sim.ICCID)
			}
			if strings.HasPrefix(p, "ericsson") || strings.HasPrefix(p, "dell") {
				// Radio is off after boot (CFUN 4) until Connect turns it on.
				if _, err := r.m.Engine().Command(ctx, "AT+CFUN=1", 0); err != nil {
					t.Fatal(err)
				}
			}
			reg, err := r.m.Registration(ctx)
			if err != nil || reg.State != modem.RegHome || reg.Operator != "Telekom.de" || reg.Tech == modem.TechUnknown {
				t.Fatalf("registration %+v %v", reg, err)
			}
			sig, err := r.m.Signal(ctx)
			if err != nil || (sig.RSSI == nil && sig.RSRP == nil) {
				t.Fatalf("signal %+v %v", sig, err)
			}
			apn := modem.APN{Name: "internet", User: "web", Password: "web", Auth: modem.AuthPAP}
			if err := r.m.Connect(ctx, apn); err != nil {
				t.Fatalf("connect: %v", err)
			}
			if r.m.PPPOnly() {
				args := strings.Join(modem.PPPDArgs(r.m.PPP(apn)), " ")
				if !strings.Contains(args, "ATD*99***1#") || !strings.Contains(args, r.path) || !strings.Contains(args, `AT+CGDCONT=1,"IP","internet"`) {
					t.Fatalf("pppd args: %s", args)
				}
			} else {
				ls, err := r.m.Link(ctx)
				if err != nil || !ls.Connected {
					t.Fatalf("link %+v %v", ls, err)
				}
				if !r.sim.State().Carrier {
					t.Fatal("simulator carrier not up")
				}
				if r.sim.State().APN != "internet" {
					t.Fatalf("APN at the modem: %q", r.sim.State().APN)
				}
			}
			if strings.HasPrefix(p, "huawei") || p == "ericsson-f5521gw" || p == "dell-dw5550" {
				c, err := r.m.Address(ctx)
				if err != nil || c.Address.String() != "10.8.219.204/29" && c.Address.String() != "10.8.219.204/32" || c.Gateway.String() != "10.8.219.201" || len(c.DNS) != 2 {
					t.Fatalf("address %+v %v", c, err)
				}
			}
			if err := r.m.Disconnect(ctx); err != nil {
				t.Fatal(err)
			}
			if !r.m.PPPOnly() {
				testenv.Until(5*time.Second, "carrier down", testenv.Cond(func() bool { return !r.sim.State().Carrier }))
				if r.sim.State().Carrier {
					t.Fatal("carrier still up after disconnect")
				}
				// Disconnect again: already down is not an error.
				if err := r.m.Disconnect(ctx); err != nil {
					t.Fatalf("second disconnect: %v", err)
				}
			}
			if err := r.m.RadioOff(ctx); err != nil {
				t.Fatal(err)
			}
			want := map[string]int{"huawei-mu609": 0, "huawei-me909u": 0, "huawei-me909s": 0, "ericsson-f5521gw": 4, "dell-dw5550": 4, "quectel-ec25": 0, "sierra-mc8775": 0, "generic": 4}[p]
			if cf := r.sim.State().CFUN; cf != want {
				t.Fatalf("CFUN after radio off: %d, want %d", cf, want)
			}
			r.known(t)
		})
	}
}

// The sequences installers run from chat scripts today work unchanged.
func TestInstallerChatSequences(t *testing.T) {
	cases := map[string][]string{
		"huawei-mu609": {"ATZ", "AT+CFUN=1", "AT+CMEE=1", `AT^NDISDUP=1,1,"internet"`},
		"dell-dw5550":  {"AT+CFUN=1", `AT+CGDCONT=1,"IP","internet"`, "AT*ENAP=1,1"},
	}
	for p, seq := range cases {
		t.Run(p, func(t *testing.T) {
			r := newRig(t, p, nil)
			ctx := ctxT(t)
			for _, c := range seq {
				if _, err := r.m.Engine().Command(ctx, c, 0); err != nil {
					t.Fatalf("%s: %v", c, err)
				}
			}
			testenv.Until(5*time.Second, "carrier up", testenv.Cond(func() bool { return r.sim.State().Carrier }))
			ls, err := r.m.Link(ctx)
			if err != nil || !ls.Connected {
				t.Fatalf("link after chat sequence: %+v %v", ls, err)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	type fault struct {
		name string
		run  func(t *testing.T, r *rig)
	}
	faults := []fault{
		{"hang", func(t *testing.T, r *rig) {
			ctx := ctxT(t)
			r.sim.Hang(true)
			t0 := time.Now()
			// Commands time out; recovery escalates to the slot reset,
			// which power-cycles the simulator.
			if _, err := r.m.Engine().Command(ctx, "AT+CSQ", 0); !errors.Is(err, modem.ErrTimeout) {
				t.Fatalf("hung modem answered: %v", err)
			}
			for i := 0; i < 5; i++ {
				if _, err := r.m.Engine().Command(ctx, "AT+CSQ", 0); err == nil {
					break
				}
			}
			waitEvent(t, r.m, modem.EventReset, func(e modem.Event) bool { return e.Time.After(t0) })
			waitEchoOff(t, r)
			if *r.slot != 1 {
				t.Fatalf("slot reset %d times", *r.slot)
			}
		}},
		{"garbage", func(t *testing.T, r *rig) {
			ctx := ctxT(t)
			r.sim.Garbage(300)
			if _, err := r.m.Identity(ctx); err != nil {
				t.Fatal(err)
			}
			r.sim.Garbage(50)
			if _, err := r.m.SIM(ctx); err != nil {
				t.Fatal(err)
			}
		}},
		{"sim-removed", func(t *testing.T, r *rig) {
			ctx := ctxT(t)
			r.sim.RemoveSIM()
			st, err := r.m.SIM(ctx)
			if err != nil || st.State != modem.SIMAbsent {
				t.Fatalf("SIM %+v %v", st, err)
			}
			waitEvent(t, r.m, modem.EventSIM, func(e modem.Event) bool { return e.SIM.State == modem.SIMAbsent })
			r.sim.InsertSIM()
		}},
		{"pin-required", func(t *testing.T, r *rig) {
			ctx := ctxT(t)
			r.sim.RequirePIN("4321")
			st, err := r.m.SIM(ctx)
			if err != nil || st.State != modem.SIMPIN || st.PINAttempts != 3 {
				t.Fatalf("SIM %+v %v", st, err)
			}
			if err := r.m.EnterPIN(ctx, "1111"); !errors.Is(err, modem.ErrWrongPIN) {
				t.Fatalf("wrong PIN: %v", err)
			}
			if err := r.m.EnterPIN(ctx, "1111"); !errors.Is(err, modem.ErrPINAlreadyRejected) {
				t.Fatalf("same wrong PIN again: %v", err)
			}
			if n := r.sim.CountCommand(`AT+CPIN="1111"`); n != 1 {
				t.Fatalf("wrong PIN sent %d times", n)
			}
			st, _ = r.m.SIM(ctx)
			if !st.PINRejected || st.PINAttempts != 2 {
				t.Fatalf("SIM after wrong PIN %+v", st)
			}
			if err := r.m.EnterPIN(ctx, "4321"); err != nil {
				t.Fatal(err)
			}
			st, _ = r.m.SIM(ctx)
			if st.State != modem.SIMReady || st.PINRejected {
				t.Fatalf("SIM after right PIN %+v", st)
			}
		}},
		{"registration-denied", func(t *testing.T, r *rig) {
			ctx := ctxT(t)
			r.sim.SetRegistration("denied")
			waitEvent(t, r.m, modem.EventRegistration, func(e modem.Event) bool { return e.Registration.State == modem.RegDenied })
			reg, err := r.m.Registration(ctx)
			if err != nil || reg.State != modem.RegDenied {
				t.Fatalf("registration %+v %v", reg, err)
			}
			if !r.m.PPPOnly() {
				if err := r.m.Connect(ctx, modem.APN{Name: "internet"}); err == nil {
					t.Fatal("connect while registration is denied succeeded")
				}
				if r.sim.State().Carrier {
					t.Fatal("carrier up while denied")
				}
			}
			r.sim.SetRegistration("home")
			waitEvent(t, r.m, modem.EventRegistration, func(e modem.Event) bool { return e.Registration.State == modem.RegHome })
		}},
		{"data-dropped", func(t *testing.T, r *rig) {
			ctx := ctxT(t)
			if err := r.m.Connect(ctx, modem.APN{Name: "internet"}); err != nil {
				t.Fatal(err)
			}
			r.sim.DropData()
			if !r.m.PPPOnly() {
				ls, err := r.m.Link(ctx)
				if err != nil || ls.Connected {
					t.Fatalf("link after drop %+v %v", ls, err)
				}
				if r.sim.State().Carrier {
					t.Fatal("carrier still up")
				}
			}
		}},
		{"reboot", func(t *testing.T, r *rig) {
			t0 := time.Now()
			r.sim.Reboot()
			// Modems without a boot URC are noticed at the next command
			// by their echo coming back.
			testenv.Until(5*time.Second, "the reboot done", testenv.Cond(func() bool { return !r.sim.State().Booting }))
			r.m.Engine().Command(ctxT(t), "AT", 0)
			waitEvent(t, r.m, modem.EventReset, func(e modem.Event) bool { return e.Time.After(t0) })
			waitEchoOff(t, r)
		}},
		{"sms-single", func(t *testing.T, r *rig) {
			if _, err := r.sim.DeliverSMS("+491701234567", "Hallo Box, bitte neu starten"); err != nil {
				t.Fatal(err)
			}
			ev := waitEvent(t, r.m, modem.EventSMS, nil)
			if ev.SMS.Text != "Hallo Box, bitte neu starten" || ev.SMS.From != "+491701234567" {
				t.Fatalf("SMS %+v", ev.SMS)
			}
			checkStoredAndSIMEmpty(t, r, 1)
		}},
		{"sms-multipart", func(t *testing.T, r *rig) {
			long := strings.Repeat("Ünïcødé and a long text. ", 12)
			idx, err := r.sim.DeliverSMS("+491701234567", long)
			if err != nil || len(idx) < 2 {
				t.Fatalf("deliver: %v %v", idx, err)
			}
			ev := waitEvent(t, r.m, modem.EventSMS, nil)
			if ev.SMS.Text != long || ev.SMS.Parts != len(idx) {
				t.Fatalf("SMS %d parts %q", ev.SMS.Parts, ev.SMS.Text)
			}
			checkStoredAndSIMEmpty(t, r, 1)
		}},
	}
	for _, p := range allProfiles {
		for _, f := range faults {
			t.Run(p+"/"+f.name, func(t *testing.T) {
				t.Parallel()
				var short []func(*modem.Options)
				if f.name == "hang" {
					short = append(short, func(o *modem.Options) {
						o.CommandTimeout, o.ProbeTimeout, o.RebootWait = 400*time.Millisecond, 300*time.Millisecond, 3*time.Second
					})
				}
				r := newRig(t, p, nil, short...)
				if strings.HasPrefix(p, "ericsson") || strings.HasPrefix(p, "dell") {
					if _, err := r.m.Engine().Command(ctxT(t), "AT+CFUN=1", 0); err != nil {
						t.Fatal(err)
					}
				}
				f.run(t, r)
				r.known(t)
			})
		}
	}
}

// waitEchoOff waits (bounded) for the re-initialisation to finish.
func waitEchoOff(t *testing.T, r *rig) {
	t.Helper()
	testenv.Until(5*time.Second, "echo off", testenv.Cond(func() bool { return !r.sim.State().Echo }))
}

func checkStoredAndSIMEmpty(t *testing.T, r *rig, want int) {
	t.Helper()
	testenv.Until(5*time.Second, "the SIM emptied", testenv.Cond(func() bool { return len(r.sim.State().SMS) == 0 }))
	if n := len(r.sim.State().SMS); n != 0 {
		t.Fatalf("%d messages left on the SIM", n)
	}
	l, err := r.m.ListSMS()
	if err != nil || len(l) != want {
		t.Fatalf("stored %d messages (%v), want %d", len(l), err, want)
	}
	files, _ := filepath.Glob(filepath.Join(r.smsDir, "part-*"))
	if len(files) != 0 {
		t.Fatalf("parts left: %v", files)
	}
	if err := r.m.DeleteSMS(l[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(r.smsDir, "msg-"+l[0].ID+".json")); !os.IsNotExist(err) {
		t.Fatal("deleted message still on disk")
	}
}

// A message leaves the SIM only after it is on disk: with the store
// unwritable the SIM keeps it; once writable, FetchSMS moves it.
func TestSMSNeverDeletedBeforeStored(t *testing.T) {
	r := newRig(t, "huawei-me909s", nil)
	ctx := ctxT(t)
	// Replace the store directory by a file: every write fails, even as root.
	if err := os.RemoveAll(r.smsDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.smsDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.sim.DeliverSMS("+491701234567", "keep me"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.FetchSMS(ctx); err == nil {
		t.Fatal("fetch with an unwritable store reported success")
	}
	if n := len(r.sim.State().SMS); n != 1 {
		t.Fatalf("SIM has %d messages: deleted before stored", n)
	}
	os.Remove(r.smsDir)
	os.MkdirAll(r.smsDir, 0o700)
	// The +CMTI handler may retry first; either way it ends stored once.
	if _, err := r.m.FetchSMS(ctx); err != nil {
		t.Fatal(err)
	}
	l, err := r.m.ListSMS()
	if err != nil || len(l) != 1 || l[0].Text != "keep me" {
		t.Fatalf("stored: %+v %v", l, err)
	}
	checkStoredAndSIMEmpty(t, r, 1)
	r.known(t)
}

// URCs inside a response and right after its OK reach subscribers and do
// not end up in the response.
func TestURCsInsideResponsesOverPTY(t *testing.T) {
	r := newRig(t, "huawei-me909u", nil)
	ctx := ctxT(t)
	urcs, cancel := r.m.Engine().Subscribe(16)
	defer cancel()
	r.sim.URCInNextResponse("^RSSI: 17")
	r.sim.URCInNextResponse(`+CMTI: "SM",7`)
	resp, err := r.m.Engine().Command(ctx, "AT+CGMR", 0)
	if err != nil || len(resp.Lines) != 1 || resp.Lines[0] != "12.636.12.01.00" {
		t.Fatalf("response %q %v", resp.Lines, err)
	}
	want := map[string]int{"^RSSI: 17": 2, `+CMTI: "SM",7`: 2}
	deadline := time.After(5 * time.Second)
	for len(want) > 0 {
		select {
		case u := <-urcs:
			if _, ok := want[u.Line]; ok {
				want[u.Line]--
				if want[u.Line] == 0 {
					delete(want, u.Line)
				}
			}
		case <-deadline:
			t.Fatalf("URCs not delivered: %v", want)
		}
	}
	r.known(t)
}

// A DTMF digit the far end pressed, reported by an EC25 (+QTONEDET) while
// a command runs, is a URC: it reaches subscribers and is not taken as part
// of the command's answer.
func TestQuectelToneReportInsideResponse(t *testing.T) {
	r := newRig(t, "quectel-ec25", nil)
	ctx := ctxT(t)
	urcs, cancel := r.m.Engine().Subscribe(16)
	defer cancel()
	r.sim.URCInNextResponse("+QTONEDET: 53")
	resp, err := r.m.Engine().Command(ctx, "AT+CGMR", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range resp.Lines {
		if strings.HasPrefix(l, "+QTONEDET") {
			t.Fatalf("the tone report was taken as part of AT+CGMR's answer: %q", resp.Lines)
		}
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case u := <-urcs:
			if u.Line == "+QTONEDET: 53" {
				return
			}
		case <-deadline:
			t.Fatal("+QTONEDET not delivered as a URC")
		}
	}
}

// Open on a modem that never answers reports a faulty modem with what was
// tried, bounded in time.
func TestOpenDeadModemIsFaulty(t *testing.T) {
	sim, path := startSim(t, modemsim.Config{Profile: "ericsson-f5521gw"})
	sim.Dead(true)
	ctx := ctxT(t)
	_, err := modem.Open(ctx, modem.Options{
		Device:         modem.Device{Port: path, Profile: "ericsson-f5521gw"},
		CommandTimeout: 200 * time.Millisecond, MaxTimeouts: 2,
		ProbeTimeout: 100 * time.Millisecond, RebootWait: 500 * time.Millisecond,
		SlotReset: func() error { sim.PowerCycle(); return nil },
	})
	var fe *modem.FaultyModemError
	if !errors.As(err, &fe) || fe.Port != path || len(fe.Tried) == 0 {
		t.Fatalf("want FaultyModemError, got %v", err)
	}
}

// Close stops every goroutine: events channel closed, commands refused.
func TestCloseStops(t *testing.T) {
	r := newRig(t, "generic", nil)
	if err := r.m.Close(); err != nil {
		t.Fatal(err)
	}
	for range r.m.Events() {
	}
	if _, err := r.m.Engine().Command(context.Background(), "AT", 0); !errors.Is(err, modem.ErrClosed) {
		t.Fatalf("command after close: %v", err)
	}
}

func BenchmarkCommandOverPTY(b *testing.B) {
	sim, err := modemsim.New(modemsim.Config{Profile: "huawei-me909s"})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path, wait, err := sim.ServePTY(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer wait()
	e := modem.NewEngine(modem.EngineConfig{Open: func() (io.ReadWriteCloser, error) { return modem.OpenSerial(path, 0) }})
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	e.Command(ctx, "ATE0", 0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Command(ctx, "AT+CSQ", 0); err != nil {
			b.Fatal(err)
		}
	}
}

func TestOpenMissingPort(t *testing.T) {
	_, err := modem.Open(ctxT(t), modem.Options{Device: modem.Device{Port: "/dev/does-not-exist-modem", Profile: "generic"}})
	if err == nil || !strings.Contains(err.Error(), "does-not-exist-modem") {
		t.Fatalf("got %v", err)
	}
}

// A rejected PIN is not sent again even after netctl restarts (new Modem,
// same state directory): three automatic retries would lock the SIM.
func TestRejectedPINSurvivesRestart(t *testing.T) {
	sim, path := startSim(t, modemsim.Config{Profile: "huawei-me909s", PIN: "4321"})
	state := t.TempDir()
	open := func() *modem.Modem {
		m, err := modem.Open(ctxT(t), modem.Options{Device: modem.Device{Port: path, Profile: "huawei-me909s"}, StateDir: state, CommandTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := open()
	ctx := ctxT(t)
	if err := m.EnterPIN(ctx, "1111"); !errors.Is(err, modem.ErrWrongPIN) {
		t.Fatalf("wrong PIN: %v", err)
	}
	m.Close()
	m = open()
	defer m.Close()
	if err := m.EnterPIN(ctx, "1111"); !errors.Is(err, modem.ErrPINAlreadyRejected) {
		t.Fatalf("after restart: %v", err)
	}
	if n := sim.CountCommand(`AT+CPIN="1111"`); n != 1 {
		t.Fatalf("rejected PIN sent %d times", n)
	}
	st, err := m.SIM(ctx)
	if err != nil || !st.PINRejected || st.PINAttempts != 2 {
		t.Fatalf("SIM %+v %v", st, err)
	}
	if err := m.EnterPIN(ctx, "4321"); err != nil {
		t.Fatal(err)
	}
}

// A PUK-locked SIM: EnterPIN refuses (and says why), EnterPUK unblocks.
func TestPUKLockedSIM(t *testing.T) {
	r := newRig(t, "generic", func(c *modemsim.Config) { c.PIN = "4321" })
	ctx := ctxT(t)
	for i := 0; i < 3; i++ { // someone else burnt the attempts
		r.m.Engine().Command(ctx, `AT+CPIN="0000"`, 0)
	}
	st, err := r.m.SIM(ctx)
	if err != nil || st.State != modem.SIMPUK {
		t.Fatalf("SIM %+v %v", st, err)
	}
	if err := r.m.EnterPIN(ctx, "4321"); err == nil || !strings.Contains(err.Error(), "PUK") {
		t.Fatalf("EnterPIN on a PUK-locked SIM: %v", err)
	}
	if err := r.m.EnterPUK(ctx, "12345678", "5678"); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.m.SIM(ctx); st.State != modem.SIMReady {
		t.Fatalf("after PUK: %+v", st)
	}
	r.known(t)
}

// A message whose +CMTI was missed (CNMI off) is still collected by the
// periodic check.
func TestSMSPollFindsMissedMessage(t *testing.T) {
	sim, path := startSim(t, modemsim.Config{Profile: "quectel-ec25"})
	dir := t.TempDir()
	m, err := modem.Open(ctxT(t), modem.Options{Device: modem.Device{Port: path, Profile: "quectel-ec25"}, SMSDir: dir, SMSPoll: 100 * time.Millisecond, CommandTimeout: time.Second})
	if errors.Is(err, modem.ErrNeedsReset) {
		time.Sleep(500 * time.Millisecond)
		m, err = modem.Open(ctxT(t), modem.Options{Device: modem.Device{Port: path, Profile: "quectel-ec25"}, SMSDir: dir, SMSPoll: 100 * time.Millisecond, CommandTimeout: time.Second})
	}
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Engine().Command(ctxT(t), "AT+CNMI=0,0,0,0,0", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.DeliverSMS("+4930123", "no URC for me"); err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, m, modem.EventSMS, nil)
	if ev.SMS.Text != "no URC for me" {
		t.Fatalf("%+v", ev.SMS)
	}
}

// Every goroutine of a Modem (engine, reader, URC handler, SMS poll)
// stops with Close.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	_, path := startSim(t, modemsim.Config{Profile: "huawei-me909s"})
	time.Sleep(50 * time.Millisecond)
	before := runtime.NumGoroutine()
	for i := 0; i < 3; i++ {
		m, err := modem.Open(ctxT(t), modem.Options{Device: modem.Device{Port: path, Profile: "huawei-me909s"}, SMSDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Identity(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Until(3*time.Second, "goroutines ended", testenv.Cond(func() bool { return runtime.NumGoroutine() <= before }))
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestModemReset(t *testing.T) {
	r := newRig(t, "ericsson-f5521gw", nil)
	ctx := ctxT(t)
	if err := r.m.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if r.sim.CountCommand("AT*E2RESET") != 1 {
		t.Fatal("vendor reset not sent")
	}
	r.known(t)
}

// Periodic URCs every millisecond, landing between response lines and
// right after final results, never corrupt an answer and are not lost.
func TestURCStormDuringCommands(t *testing.T) {
	for _, p := range allProfiles {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			var sim *modemsim.Sim
			r := newRig(t, p, func(c *modemsim.Config) { c.PeriodicURC = time.Millisecond })
			sim = r.sim
			t.Cleanup(sim.Close)
			// 30 rounds of some 12 commands, each written 20 ms after
			// the last answer (the engine's answer guard) on a loaded box.
			ctx, cancelCtx := context.WithTimeout(context.Background(), time.Minute)
			defer cancelCtx()
			// Read while the storm lasts: a subscriber that is not read
			// loses URCs (counted in Lost), which says nothing of the engine.
			urcs, cancel := r.m.Engine().Subscribe(4096)
			var got atomic.Int64
			counted := make(chan struct{})
			go func() {
				defer close(counted)
				for range urcs {
					got.Add(1)
				}
			}()
			if strings.HasPrefix(p, "ericsson") || strings.HasPrefix(p, "dell") {
				r.m.Engine().Command(ctx, "AT+CFUN=1", 0)
			}
			for i := 0; i < 30; i++ {
				id, err := r.m.Identity(ctx)
				if err != nil || id.IMEI != "867223020123456" {
					t.Fatalf("round %d identity %+v %v", i, id, err)
				}
				reg, err := r.m.Registration(ctx)
				if err != nil || reg.State != modem.RegHome {
					t.Fatalf("round %d registration %+v %v", i, reg, err)
				}
				if _, err := r.m.Signal(ctx); err != nil {
					t.Fatalf("round %d signal %v", i, err)
				}
			}
			cancel()
			<-counted
			if got.Load() == 0 {
				t.Fatal("no URCs arrived during the storm")
			}
			r.known(t)
		})
	}
}

// An ATZ sent through the engine (installers' habit) resets the modem's
// settings; the Modem sets them up again.
func TestATZReinitialises(t *testing.T) {
	r := newRig(t, "huawei-mu609", nil)
	ctx := ctxT(t)
	if _, err := r.m.Engine().Command(ctx, "ATZ", 0); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, r.m, modem.EventReset, nil)
	waitEchoOff(t, r)
	r.known(t)
	if n := r.sim.CountCommand("AT+CMEE=1"); n < 2 {
		t.Fatalf("numeric errors not re-enabled after ATZ (%d)", n)
	}
}

// Sending through every simulated modem: the "> " prompt, PDU, Ctrl-Z;
// long texts arrive as concatenated parts that reassemble to the text.
func TestSendSMSOverPTY(t *testing.T) {
	for _, p := range allProfiles {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, p, nil)
			ctx := ctxT(t)
			if strings.HasPrefix(p, "ericsson") || strings.HasPrefix(p, "dell") {
				r.m.Engine().Command(ctx, "AT+CFUN=1", 0)
			}
			text := strings.Repeat("Grüße aus der Box – ", 12)
			msg, err := r.m.SendSMS(ctx, "+491701234567", text)
			if err != nil {
				t.Fatal(err)
			}
			sent := r.sim.State().Sent
			if msg.Parts < 2 || len(sent) != msg.Parts {
				t.Fatalf("%d parts reported, %d at the modem", msg.Parts, len(sent))
			}
			var tps []*tpdu.TPDU
			for _, s := range sent {
				to, tp, err := modem.DecodeSubmit(s.PDU)
				if err != nil || to != "+491701234567" {
					t.Fatalf("sent PDU: %q %v", to, err)
				}
				tps = append(tps, tp)
			}
			b, err := sms.Decode(tps)
			if err != nil || string(b) != text {
				t.Fatalf("reassembled %q %v", b, err)
			}
			l, err := r.m.ListSMS()
			if err != nil || len(l) != 1 || !l[0].Outgoing || l[0].To != "+491701234567" {
				t.Fatalf("outgoing copy: %+v %v", l, err)
			}
			// While the network is gone the send fails with a clear error.
			r.sim.SetRegistration("searching")
			if _, err := r.m.SendSMS(ctx, "+491701234567", "x"); err == nil {
				t.Fatal("send without network succeeded")
			}
			r.sim.SetRegistration("home")
			r.known(t)
		})
	}
}
