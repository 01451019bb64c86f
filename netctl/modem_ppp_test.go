package netctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"edgebox/api/netapi"
	"edgebox/internal/config"
	"edgebox/internal/testenv"
	"edgebox/modem"
)

// fakeModem is a PPP-only modem (Sierra MC8775-like) for the manager's
// session: AT commands succeed unless the port is suspended, Link answers
// ErrPPPOnly as the real profile does. It records the order of calls and
// checks the rules of a shared AT port against the stand-in pppd's pid
// files in dir.
type fakeModem struct {
	shared bool   // PPPParams.SharedATPort
	dir    string // stand-in pppd's pid files and markers

	mu          sync.Mutex
	calls       []string
	suspended   bool
	violations  []string
	suspPolls   int // Link/Signal calls answered with ErrSuspended
	onConnect   func(n int)
	connects    int
	events      chan modem.Event
	resetCalled bool
}

func newFakeModem(t *testing.T, shared bool) *fakeModem {
	return &fakeModem{shared: shared, dir: t.TempDir(), events: make(chan modem.Event)}
}

func (f *fakeModem) record(c string) {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
}

func (f *fakeModem) violate(format string, a ...any) {
	f.violations = append(f.violations, fmt.Sprintf(format, a...))
}

// livePPPD lists the stand-in pppds that are still running.
func (f *fakeModem) livePPPD() []int {
	ents, _ := filepath.Glob(filepath.Join(f.dir, "pid.*"))
	var live []int
	for _, e := range ents {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Ext(e), "."))
		if err == nil && syscall.Kill(pid, 0) == nil {
			live = append(live, pid)
		}
	}
	return live
}

func (f *fakeModem) cmd(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
	if f.suspended {
		return fmt.Errorf("%s: %w", name, modem.ErrSuspended)
	}
	return nil
}

func (f *fakeModem) Device() modem.Device {
	d := modem.Device{Port: "/dev/ttyUSB2", Profile: "sierra-mc8775"}
	if !f.shared {
		d.DataPort = "/dev/ttyUSB0"
	}
	return d
}
func (f *fakeModem) ProfileName() string        { return "sierra-mc8775" }
func (f *fakeModem) PPPOnly() bool              { return true }
func (f *fakeModem) PreferModemAddress() bool   { return false }
func (f *fakeModem) Events() <-chan modem.Event { return f.events }
func (f *fakeModem) Identity(ctx context.Context) (modem.Identity, error) {
	return modem.Identity{}, f.cmd("identity")
}
func (f *fakeModem) SIM(ctx context.Context) (modem.SIMStatus, error) {
	return modem.SIMStatus{State: modem.SIMReady}, f.cmd("sim")
}
func (f *fakeModem) EnterPIN(ctx context.Context, pin string) error { return f.cmd("pin") }
func (f *fakeModem) Registration(ctx context.Context) (modem.Registration, error) {
	return modem.Registration{State: modem.RegHome}, f.cmd("registration")
}
func (f *fakeModem) Signal(ctx context.Context) (modem.Signal, error) {
	err := f.cmd("signal")
	if errors.Is(err, modem.ErrSuspended) {
		f.mu.Lock()
		f.suspPolls++
		f.mu.Unlock()
	}
	return modem.Signal{}, err
}
func (f *fakeModem) Connect(ctx context.Context, apn modem.APN) error {
	if err := f.cmd("connect"); err != nil {
		return err
	}
	f.mu.Lock()
	f.connects++
	n, hook := f.connects, f.onConnect
	f.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return nil
}
func (f *fakeModem) Disconnect(ctx context.Context) error { return f.cmd("disconnect") }
func (f *fakeModem) Link(ctx context.Context) (modem.LinkStatus, error) {
	if err := f.cmd("link"); err != nil {
		f.mu.Lock()
		f.suspPolls++
		f.mu.Unlock()
		return modem.LinkStatus{}, err
	}
	return modem.LinkStatus{}, modem.ErrPPPOnly
}
func (f *fakeModem) Address(ctx context.Context) (modem.IPConfig, error) {
	return modem.IPConfig{}, f.cmd("address")
}
func (f *fakeModem) RadioOff(ctx context.Context) error  { return f.cmd("radiooff") }
func (f *fakeModem) RadioOn(ctx context.Context) error   { return f.cmd("radioon") }
func (f *fakeModem) SlotReset(ctx context.Context) error { return f.cmd("slotreset") }
func (f *fakeModem) Reset(ctx context.Context) error {
	f.mu.Lock()
	f.resetCalled = true
	f.mu.Unlock()
	return f.cmd("reset")
}
func (f *fakeModem) PPP(apn modem.APN) modem.PPPParams {
	d := f.Device()
	p := modem.PPPParams{Port: d.DataPort, DialString: "ATD*99***1#", Init: []string{"AT"}, APN: apn}
	if f.shared {
		p.Port, p.SharedATPort = d.Port, true
	}
	return p
}
func (f *fakeModem) Suspend(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "suspend")
	if !f.shared {
		f.violate("Suspend on a modem with a separate data port")
	}
	if live := f.livePPPD(); len(live) > 0 {
		f.violate("Suspend while pppd %v runs", live)
	}
	f.suspended = true
	return os.WriteFile(filepath.Join(f.dir, "suspended"), nil, 0o600)
}
func (f *fakeModem) Resume(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "resume")
	if live := f.livePPPD(); len(live) > 0 {
		f.violate("Resume while pppd %v still runs", live)
	}
	if !f.suspended {
		f.violate("Resume without Suspend")
	}
	f.suspended = false
	return os.Remove(filepath.Join(f.dir, "suspended"))
}
func (f *fakeModem) SendSMS(ctx context.Context, number, text string) (modem.SMS, error) {
	return modem.SMS{}, f.cmd("sms")
}
func (f *fakeModem) ListSMS() ([]modem.SMS, error) { return nil, nil }
func (f *fakeModem) DeleteSMS(id string) error     { return nil }
func (f *fakeModem) Close() error                  { f.record("close"); return nil }

func (f *fakeModem) snapshot() (calls, violations []string, suspPolls int, reset bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...), append([]string(nil), f.violations...), f.suspPolls, f.resetCalled
}

type fakeDriverOpener struct{ drv ModemDriver }

func (o fakeDriverOpener) Open(ctx context.Context, cfg config.Modem) (ModemDriver, error) {
	return o.drv, nil
}

// fakePPPD installs a stand-in pppd: it notes whether the AT port was
// suspended when it started, writes its pid file, prints IPCP's notices
// and then, per mode, exits when dir/hangup appears ("hangup": the peer
// hangs up, exit 16 like pppd), exits on SIGINT ("polite") or ignores
// SIGINT ("stubborn", needing SIGKILL). Every wait is bounded (60s).
func fakePPPD(t *testing.T, dir, mode string) {
	t.Helper()
	script := filepath.Join(dir, "pppd")
	trap := `trap 'exit 5' INT`
	if mode == "stubborn" {
		trap = `trap '' INT TERM`
	}
	body := `#!/bin/sh
` + trap + `
if [ -e ` + dir + `/suspended ]; then echo suspended >> ` + dir + `/starts; else echo open >> ` + dir + `/starts; fi
echo $$ > ` + dir + `/pid.$$
echo "local  IP address 10.66.0.2"
echo "remote IP address 10.66.0.1"
echo "primary   DNS address 10.66.0.53"
i=0
while [ $i -lt 1200 ]; do
  if [ -e ` + dir + `/hangup ]; then rm -f ` + dir + `/hangup; echo "Modem hangup"; exit 16; fi
  sleep 0.05
  i=$((i+1))
done
exit 1
`
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	old, oldStop := pppdBinary, pppdStopTimeout
	pppdBinary = script
	pppdStopTimeout = 500 * time.Millisecond
	t.Cleanup(func() { pppdBinary, pppdStopTimeout = old, oldStop })
}

// newPPPManager runs a manager over drv with a modem uplink on ppp0 that
// takes pppd's address from its output (the kernel here has no PPP).
func newPPPManager(t *testing.T, drv ModemDriver) (*modemManager, *uplink) {
	t.Setenv("EDGEBOX_RUN_DIR", t.TempDir())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	u := &uplink{Name: "modem", Method: config.MethodPPP, Iface: pppIface}
	s := &Service{opts: Options{Modems: fakeDriverOpener{drv}}, log: log, uplinks: []*uplink{u}, kick: make(chan struct{}, 1)}
	m := &modemManager{s: s, log: log, req: make(chan string, 4), done: make(chan struct{}),
		cfg:        config.Modem{Enabled: true, APN: "internet", Method: config.MethodPPP},
		checkEvery: 20 * time.Millisecond, signalEvery: 30 * time.Millisecond, redialWait: 100 * time.Millisecond,
		pppAddress: func(ctx context.Context, iface string, p *pppdProc, limit time.Duration) (*addrConfig, error) {
			for i := 0; i < 200; i++ {
				p.out.mu.Lock()
				local := p.out.local
				p.out.mu.Unlock()
				if dns := p.out.dns(); local.IsValid() && len(dns) > 0 {
					return &addrConfig{Address: netip.PrefixFrom(local, 32), DNS: dns}, nil
				}
				select {
				case <-p.done:
					return nil, errors.New("pppd exited")
				case <-time.After(20 * time.Millisecond):
				}
			}
			return nil, errors.New("no address from pppd")
		}}
	m.st.State = netapi.ModemAbsent
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	s.modem = m
	t.Cleanup(func() { cancel(); <-m.done })
	go m.run(ctx)
	return m, u
}

func countLines(path string) (n int, lines []string) {
	b, _ := os.ReadFile(path)
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return len(lines), lines
}

func uplinkAddr(m *modemManager, u *uplink) *addrConfig {
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	return u.addr
}

// TestModemSharedPortSuspendsAroundPPPD: a modem without a data port
// (PPPParams.SharedATPort) is suspended before pppd starts and resumed only
// after pppd exited; pppd ignores SIGINT here, so stopPPPD must wait and
// SIGKILL it. While suspended, the Link and signal polls fail with
// ErrSuspended: no error state, no reset.
func TestModemSharedPortSuspendsAroundPPPD(t *testing.T) {
	f := newFakeModem(t, true)
	fakePPPD(t, f.dir, "stubborn")
	m, u := newPPPManager(t, f)
	testenv.WaitFor(t, 10*time.Second, "connected", testenv.Cond(func() bool { return m.status().State == ModemConnected }))
	// Let the watch poll a few times while pppd holds the port.
	testenv.WaitFor(t, 10*time.Second, "polls while suspended", testenv.Cond(func() bool { _, _, n, _ := f.snapshot(); return n >= 6 }))
	if st := m.status(); st.State != ModemConnected || st.Error != "" {
		t.Fatalf("state during the call: %s %q", st.State, st.Error)
	}
	if a := uplinkAddr(m, u); a == nil || a.Address.String() != "10.66.0.2/32" || len(a.DNS) != 1 {
		t.Fatalf("uplink address %+v, want 10.66.0.2/32 from pppd", a)
	}
	if n, starts := countLines(filepath.Join(f.dir, "starts")); n != 1 || starts[0] != "suspended" {
		t.Fatalf("pppd starts %v, want one with the AT port suspended", starts)
	}
	m.disconnect()
	testenv.WaitFor(t, 10*time.Second, "disconnected", testenv.Cond(func() bool { return m.status().State == ModemDisconnected }))
	calls, violations, _, reset := f.snapshot()
	for _, v := range violations {
		t.Error(v)
	}
	if reset {
		t.Error("the modem was reset during a suspended call")
	}
	// Order: connect, suspend, (pppd), resume, then AT again: disconnect.
	idx := func(c string) int {
		for i, x := range calls {
			if x == c {
				return i
			}
		}
		return -1
	}
	ic, is, ir, id := idx("connect"), idx("suspend"), idx("resume"), idx("disconnect")
	if ic < 0 || is < ic || ir < is || id < ir {
		t.Errorf("calls %v: want connect < suspend < resume < disconnect", calls)
	}
	if live := f.livePPPD(); len(live) != 0 {
		t.Errorf("pppd %v still runs", live)
	}
	if a := uplinkAddr(m, u); a != nil {
		t.Errorf("uplink keeps address %+v after the call", a)
	}
}

// TestModemPPPDExitRedials: pppd exiting by itself (the peer hung up, NO
// CARRIER on the data port) is a dropped call: the uplink loses its
// address and carrier, the AT port is resumed (shared port) and netctl
// dials again after its redial wait.
func TestModemPPPDExitRedials(t *testing.T) {
	for _, shared := range []bool{false, true} {
		t.Run(map[bool]string{false: "data-port", true: "shared-port"}[shared], func(t *testing.T) {
			f := newFakeModem(t, shared)
			fakePPPD(t, f.dir, "polite")
			type snap struct {
				addr    *addrConfig
				carrier bool
				live    []int
			}
			snaps := make(chan snap, 4)
			var m *modemManager
			var u *uplink
			f.onConnect = func(n int) {
				if n == 2 {
					m.s.mu.Lock()
					s := snap{addr: u.addr, carrier: u.carrier}
					m.s.mu.Unlock()
					s.live = f.livePPPD()
					snaps <- s
				}
			}
			m, u = newPPPManager(t, f)
			testenv.WaitFor(t, 10*time.Second, "connected", testenv.Cond(func() bool { return m.status().State == ModemConnected && uplinkAddr(m, u) != nil }))
			if err := os.WriteFile(filepath.Join(f.dir, "hangup"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			var s snap
			select {
			case s = <-snaps:
			case <-time.After(20 * time.Second):
				calls, _, _, _ := f.snapshot()
				st := m.status()
				t.Fatalf("no redial after pppd exited; %d calls, last %v, state %s %q", len(calls), calls[max(0, len(calls)-6):], st.State, st.Error)
			}
			if s.addr != nil || s.carrier {
				t.Errorf("uplink at the redial: address %+v carrier %v, want down", s.addr, s.carrier)
			}
			if len(s.live) != 0 {
				t.Errorf("redial while pppd %v runs", s.live)
			}
			testenv.WaitFor(t, 10*time.Second, "second pppd", testenv.Cond(func() bool { n, _ := countLines(filepath.Join(f.dir, "starts")); return n >= 2 }))
			testenv.WaitFor(t, 10*time.Second, "connected again", testenv.Cond(func() bool { return m.status().State == ModemConnected && uplinkAddr(m, u) != nil }))
			calls, violations, _, reset := f.snapshot()
			for _, v := range violations {
				t.Error(v)
			}
			if reset {
				t.Error("a dropped call reset the modem")
			}
			var susp, res int
			for _, c := range calls {
				susp += map[bool]int{true: 1}[c == "suspend"]
				res += map[bool]int{true: 1}[c == "resume"]
			}
			if shared && (susp != 2 || res != 1) {
				t.Errorf("shared port: %d suspends, %d resumes, want 2 and 1 (calls %v)", susp, res, calls)
			}
			if !shared && susp+res != 0 {
				t.Errorf("separate data port suspended/resumed: %v", calls)
			}
			_, starts := countLines(filepath.Join(f.dir, "starts"))
			for _, st := range starts {
				if want := map[bool]string{true: "suspended", false: "open"}[shared]; st != want {
					t.Errorf("pppd started with the AT port %s, want %s", st, want)
				}
			}
		})
	}
}

// TestStopPPPDWaitsForExit: stopPPPD returns only once pppd has exited:
// a pppd that exits on SIGINT ends with its own status; one that ignores
// SIGINT is killed after pppdStopTimeout.
func TestStopPPPDWaitsForExit(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, mode := range []string{"polite", "stubborn"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("EDGEBOX_RUN_DIR", dir)
			fakePPPD(t, dir, mode)
			p, err := startPPPD(modem.PPPParams{Port: "/dev/ttyUSB0", DialString: "ATD*99#", Init: []string{"AT"}, APN: modem.APN{Name: "internet"}}, filepath.Join(dir, "ppp"), log)
			if err != nil {
				t.Fatal(err)
			}
			testenv.WaitFor(t, 10*time.Second, "pppd pid file", testenv.Cond(func() bool { m, _ := filepath.Glob(filepath.Join(dir, "pid.*")); return len(m) == 1 }))
			stopPPPD(p, log)
			select {
			case <-p.done:
			default:
				t.Fatal("stopPPPD returned before pppd exited")
			}
			ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
			switch mode {
			case "polite":
				if ws.Signaled() || ws.ExitStatus() != 5 {
					t.Errorf("pppd ended with %v, want its own exit 5 after SIGINT", p.cmd.ProcessState)
				}
			case "stubborn":
				if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
					t.Errorf("pppd ended with %v, want SIGKILL", p.cmd.ProcessState)
				}
			}
			stopPPPD(p, log) // an exited pppd: returns at once
		})
	}
}
