package modem_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"edgebox/modem"
	"edgebox/modem/modemsim"
)

func sierraIfs() []usbIf {
	// MC8775: three ttys of the sierra driver, no network interface.
	return []usbIf{{0, "sierra", "ttyUSB0", ""}, {1, "sierra", "ttyUSB1", ""}, {3, "sierra", "ttyUSB2", ""}}
}

func TestDetectSierraDataPort(t *testing.T) {
	f := newFakeSysfs(t)
	f.usbDevice("1-1.3", "1199", "6812", sierraIfs())
	f.usbDevice("1-1.4", "12d1", "1573", []usbIf{{0, "option", "ttyUSB3", ""}, {1, "option", "ttyUSB4", ""}, {2, "option", "ttyUSB5", ""}, {6, "cdc_ether", "", "usb0"}})
	_, sierraPTY := startSim(t, modemsim.Config{Profile: "sierra-mc8775"})
	_, huaweiPTY := startSim(t, modemsim.Config{Profile: "huawei-mu609"})
	ctx := context.Background()
	opts := func(p *ports) modem.DetectOptions {
		return modem.DetectOptions{SysfsRoot: f.root, ProbeTimeout: 300 * time.Millisecond, OpenPort: p.open}
	}

	// AT on ttyUSB2: pppd gets the modem port, interface 0.
	p := &ports{m: map[string]string{"/dev/ttyUSB2": sierraPTY, "/dev/ttyUSB5": huaweiPTY}}
	devs, err := modem.Detect(ctx, opts(p))
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 2 {
		t.Fatalf("devices %+v", devs)
	}
	d := devs[0]
	if d.Port != "/dev/ttyUSB2" || d.DataPort != "/dev/ttyUSB0" || d.Profile != "sierra-mc8775" || d.NetIface != "" {
		t.Fatalf("sierra %+v", d)
	}
	want := []modem.PortInfo{{Name: "ttyUSB0", Interface: 0, Driver: "sierra"}, {Name: "ttyUSB1", Interface: 1, Driver: "sierra"}, {Name: "ttyUSB2", Interface: 3, Driver: "sierra"}}
	if fmt.Sprint(d.Ports) != fmt.Sprint(want) {
		t.Fatalf("ports %+v, want %+v", d.Ports, want)
	}
	// The Huawei has a network interface: no data port unless configured.
	if h := devs[1]; h.Port != "/dev/ttyUSB5" || h.DataPort != "" {
		t.Fatalf("huawei %+v", h)
	}

	// AT answers on ttyUSB0 instead (the unverified case): the data port is
	// another tty, never the AT port.
	p = &ports{m: map[string]string{"/dev/ttyUSB0": sierraPTY}}
	f2 := newFakeSysfs(t)
	f2.usbDevice("1-1.3", "1199", "6812", sierraIfs())
	o := opts(p)
	o.SysfsRoot = f2.root
	o.ProbeTimeout = 100 * time.Millisecond
	devs, err = modem.Detect(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if d := devs[0]; d.Port != "/dev/ttyUSB0" || d.DataPort != "/dev/ttyUSB1" {
		t.Fatalf("AT on ttyUSB0: %+v", d)
	}

	// Configured AT port: the data port still comes from the same USB device.
	p = &ports{m: map[string]string{"/dev/ttyUSB2": sierraPTY}}
	o = opts(p)
	o.SysfsRoot = f2.root
	o.Port = "ttyUSB2"
	devs, err = modem.Detect(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if d := devs[0]; d.Port != "/dev/ttyUSB2" || d.DataPort != "/dev/ttyUSB0" || d.Profile != "sierra-mc8775" {
		t.Fatalf("configured port: %+v", d)
	}

	// Configured data port overrides the choice.
	o.DataPort = "ttyUSB1"
	devs, err = modem.Detect(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if d := devs[0]; d.DataPort != "/dev/ttyUSB1" {
		t.Fatalf("configured data port: %+v", d)
	}
}

func TestPPPParamsUseDataPort(t *testing.T) {
	apn := modem.APN{Name: "internet"}
	r := newRig(t, "sierra-mc8775", nil, func(o *modem.Options) { o.Device.DataPort = "/dev/ttyUSB0" })
	p := r.m.PPP(apn)
	if p.Port != "/dev/ttyUSB0" || p.SharedATPort {
		t.Fatalf("separate data port: %+v", p)
	}
	if p.Init[0] == "ATZ" {
		t.Fatal("chat resets a data port whose settings nobody restores")
	}
	if args := modem.PPPDArgs(p); args[0] != "/dev/ttyUSB0" {
		t.Fatalf("pppd opens %s", args[0])
	}

	// Single-port modem: pppd gets the AT port and is told it is shared.
	r2 := newRig(t, "sierra-mc8775", nil)
	p = r2.m.PPP(apn)
	if p.Port != r2.path || !p.SharedATPort {
		t.Fatalf("shared port: %+v (AT port %s)", p, r2.path)
	}
}

// readLinesUntil reads CR/LF-separated lines from br until n lines
// satisfying keep arrived or the deadline passed.
func readLinesUntil(t *testing.T, br *bufio.Reader, n int, keep func(string) bool) []string {
	t.Helper()
	type res struct {
		lines []string
		err   error
	}
	done := make(chan res, 1)
	go func() {
		var got []string
		for len(got) < n {
			l, err := br.ReadString('\n')
			if err != nil {
				done <- res{got, err}
				return
			}
			if l = strings.TrimSpace(l); l != "" && keep(l) {
				got = append(got, l)
			}
		}
		done <- res{got, nil}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("read after %q: %v", r.lines, r.err)
		}
		return r.lines
	case <-time.After(10 * time.Second):
		t.Fatalf("fewer than %d lines within 10s", n)
		return nil
	}
}

// While suspended the engine neither reads nor writes the AT port: a
// second opener (pppd on a single-port modem) gets every byte; commands
// fail with ErrSuspended. After Resume the modem is re-initialised and
// URCs flow to subscribers again.
func TestEngineSuspendResumeOverPTY(t *testing.T) {
	r := newRig(t, "sierra-mc8775", nil)
	ctx := ctxT(t)
	eng := r.m.Engine()
	urcs, unsub := eng.Subscribe(256)
	defer unsub()

	if err := r.m.Suspend(ctx); err != nil {
		t.Fatal(err)
	}
	if !r.m.Suspended() {
		t.Fatal("not suspended")
	}
	if err := r.m.Suspend(ctx); err != nil {
		t.Fatalf("second suspend: %v", err)
	}
	sent := len(r.sim.Commands())
	if _, err := eng.Command(ctx, "AT", 0); !errors.Is(err, modem.ErrSuspended) {
		t.Fatalf("AT while suspended: %v", err)
	}
	if _, err := r.m.Signal(ctx); !errors.Is(err, modem.ErrSuspended) {
		t.Fatalf("signal poll while suspended: %v", err)
	}
	if _, err := r.m.Registration(ctx); !errors.Is(err, modem.ErrSuspended) {
		t.Fatalf("registration poll while suspended: %v", err)
	}
	if n := len(r.sim.Commands()); n != sent {
		t.Fatalf("%d commands reached the modem while suspended", n-sent)
	}

	// pppd's side: opens the same tty, chats, and must see every line.
	pp, err := modem.OpenSerial(r.path, 0)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(pp)
	if _, err := pp.Write([]byte("ATZ\r")); err != nil {
		t.Fatal(err)
	}
	readLinesUntil(t, br, 1, func(l string) bool { return l == "OK" })
	const n = 50
	for i := 0; i < n; i++ {
		r.sim.URC(fmt.Sprintf("+TEST: %d", i))
	}
	got := readLinesUntil(t, br, n, func(l string) bool { return strings.HasPrefix(l, "+TEST:") })
	for i, l := range got {
		if l != fmt.Sprintf("+TEST: %d", i) {
			t.Fatalf("line %d is %q: bytes were taken by someone else", i, l)
		}
	}
	select {
	case u := <-urcs:
		t.Fatalf("the suspended engine read %+v", u)
	default:
	}
	if err := pp.Close(); err != nil {
		t.Fatal(err)
	}

	if err := r.m.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if r.m.Suspended() {
		t.Fatal("still suspended")
	}
	// chat's ATZ turned echo on; Resume re-initialised the modem.
	r.known(t)
	if _, err := r.m.Signal(ctx); err != nil {
		t.Fatalf("signal after resume: %v", err)
	}
	r.sim.URC("+TEST: after")
	deadline := time.After(10 * time.Second)
	for {
		select {
		case u := <-urcs:
			if u.Line == "+TEST: after" {
				if err := r.m.Resume(ctx); err != nil {
					t.Fatalf("resume when not suspended: %v", err)
				}
				return
			}
			if strings.HasPrefix(u.Line, "+TEST:") {
				t.Fatalf("stale URC %q after resume", u.Line)
			}
		case <-deadline:
			t.Fatal("no URC after resume")
		}
	}
}

// A command in progress finishes before the port is released; Suspend
// and Resume on a stopped engine report ErrClosed.
func TestEngineSuspendWaitsAndStops(t *testing.T) {
	r := newRig(t, "sierra-mc8775", nil)
	ctx := ctxT(t)
	eng := r.m.Engine()
	errc := make(chan error, 1)
	go func() {
		_, err := eng.Command(ctx, "AT+CSQ", 0)
		errc <- err
	}()
	// Whichever goes first, the command either ran whole or was refused.
	if err := eng.Suspend(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil && !errors.Is(err, modem.ErrSuspended) {
		t.Fatalf("command racing Suspend: %v", err)
	}
	if err := eng.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Command(ctx, "AT", 0); err != nil {
		t.Fatal(err)
	}
	r.m.Close()
	if err := eng.Suspend(ctx); !errors.Is(err, modem.ErrClosed) {
		t.Fatalf("suspend after close: %v", err)
	}
}

// A modem with a separate data port (two ttys of one simulated MC8775):
// pppd's side dials and carries bytes on the data port while the engine
// keeps using the AT port, with no suspend and no byte taken either way.
func TestPPPCallOnDataPortKeepsATPort(t *testing.T) {
	sim, err := modemsim.New(modemsim.Config{Profile: "sierra-mc8775", BootTime: 100 * time.Millisecond,
		PPPPeer: []string{"/bin/sh", "-c", "exec cat"}, EscapeGuard: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	atPath, waitAT, err := sim.ServePTY(sctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	dataPath, waitData, err := sim.ServePTY(sctx)
	if err != nil {
		cancel()
		waitAT()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); waitAT(); waitData(); sim.Close() })
	ctx := ctxT(t)
	m, err := modem.Open(ctx, modem.Options{
		Device:         modem.Device{Port: atPath, DataPort: dataPath, Profile: "sierra-mc8775"},
		CommandTimeout: 3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	urcs, unsub := m.Engine().Subscribe(256)
	defer unsub()

	p := m.PPP(modem.APN{Name: "internet"})
	if p.Port != dataPath || p.SharedATPort {
		t.Fatalf("PPP params %+v", p)
	}
	dp, err := modem.OpenSerial(p.Port, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer dp.Close()
	br := bufio.NewReader(dp)
	if _, err := dp.Write([]byte(p.DialString + "\r")); err != nil {
		t.Fatal(err)
	}
	readLinesUntil(t, br, 1, func(l string) bool { return strings.HasPrefix(l, "CONNECT") })
	// In the call: the data port's bytes go to the peer and back.
	if _, err := dp.Write([]byte("ppp-frame-1\n")); err != nil {
		t.Fatal(err)
	}
	readLinesUntil(t, br, 1, func(l string) bool { return l == "ppp-frame-1" })
	// The AT port keeps working meanwhile: polls and URCs.
	if _, err := m.Signal(ctx); err != nil {
		t.Fatalf("signal poll during the call: %v", err)
	}
	sim.URC("+TEST: during-call")
	deadline := time.After(10 * time.Second)
	for got := false; !got; {
		select {
		case u := <-urcs:
			got = u.Line == "+TEST: during-call"
		case <-deadline:
			t.Fatal("URC on the AT port not delivered during the call")
		}
	}
	if _, err := dp.Write([]byte("ppp-frame-2\n")); err != nil {
		t.Fatal(err)
	}
	readLinesUntil(t, br, 1, func(l string) bool { return l == "ppp-frame-2" })
}
