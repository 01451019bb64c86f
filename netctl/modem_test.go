package netctl

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"edgebox/api/netapi"
	"edgebox/internal/config"
	"edgebox/internal/testenv"
	"edgebox/modem"
)

// fakeOpener returns the scripted errors of Open in order, then the last
// one again; it records the state netctl showed at each call.
type fakeOpener struct {
	mu     sync.Mutex
	errs   []error
	calls  int
	called chan struct{}
}

func (f *fakeOpener) Open(ctx context.Context, cfg config.Modem) (ModemDriver, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.errs[min(f.calls, len(f.errs)-1)]
	f.calls++
	select {
	case f.called <- struct{}{}:
	default:
	}
	return nil, err
}

func newTestManager(t *testing.T, op ModemOpener) (*modemManager, context.Context) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := &Service{opts: Options{Modems: op}, log: log}
	m := &modemManager{s: s, log: log, req: make(chan string, 4), done: make(chan struct{}), redetectAfter: 50 * time.Millisecond}
	m.st.State = netapi.ModemAbsent
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	t.Cleanup(func() { cancel(); <-m.done })
	return m, ctx
}

// TestModemNeedsResetDetectsAgain: Open switched the modem into another
// USB mode (modem.ErrNeedsReset, wrapped as modem.Open wraps it): netctl
// shows "opening", not "faulty", and detects again after redetectAfter.
func TestModemNeedsResetDetectsAgain(t *testing.T) {
	f := &fakeOpener{errs: []error{fmt.Errorf("modem /dev/ttyUSB2: init: %w", modem.ErrNeedsReset), modem.ErrNoModem}, called: make(chan struct{}, 8)}
	m, ctx := newTestManager(t, f)
	m.redetectAfter = 2 * time.Second
	go m.run(ctx)
	<-f.called
	want := "the modem is restarting to apply a setting; detecting it again"
	var st ModemStatus
	testenv.Until(10*time.Second, "the restart shown", func() (bool, error) {
		if st = m.status(); st.State == netapi.ModemFaulty {
			t.Fatalf("modem shown as faulty: %+v", st)
		}
		return st.Error == want, nil
	})
	if st.State != ModemOpening || st.Error != want {
		t.Fatalf("state while the modem restarts: %s %q", st.State, st.Error)
	}
	for i := 1; i < 2; i++ {
		select {
		case <-f.called:
		case <-time.After(20 * time.Second):
			t.Fatalf("Open called %d times; want a second detection after ErrNeedsReset", i)
		}
	}
}

// TestModemFaultyWaits is the contrast: a faulty modem is shown as faulty
// and not opened again soon.
func TestModemFaultyWaits(t *testing.T) {
	f := &fakeOpener{errs: []error{&modem.FaultyModemError{Port: "/dev/ttyUSB2", Err: modem.ErrTimeout}}, called: make(chan struct{}, 8)}
	m, ctx := newTestManager(t, f)
	go m.run(ctx)
	<-f.called
	testenv.Until(10*time.Second, "faulty", testenv.Cond(func() bool { return m.status().State == netapi.ModemFaulty }))
	if st := m.status(); st.State != netapi.ModemFaulty {
		t.Fatalf("state %q, want faulty", st.State)
	}
	select {
	case <-f.called:
		t.Error("a faulty modem was opened again right away")
	case <-time.After(300 * time.Millisecond):
	}
}
