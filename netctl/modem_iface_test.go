package netctl

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"edgebox/api/netapi"
	"edgebox/internal/config"
)

// dhcpFakeModem is fakeModem with a network port (not PPP-only).
type dhcpFakeModem struct{ *fakeModem }

func (dhcpFakeModem) PPPOnly() bool { return false }

// TestModemWaitsForItsNetworkInterface: the card's network port shows up
// after the modem opened (init loads USB network drivers once the services
// run; a card enumerates its functions one by one): netctl says it waits,
// not that the modem is faulty, and takes the interface once the board's
// role finds it in sysfs. Only after the grace is it a fault. Before, the
// first look decided: "faulty" and a minute's wait, and a role absent when
// netctl started was never looked for again.
func TestModemWaitsForItsNetworkInterface(t *testing.T) {
	drv := dhcpFakeModem{newFakeModem(t, false)}
	var mu sync.Mutex
	present := false
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := &Service{log: log, opts: Options{Modems: fakeDriverOpener{drv}, Roles: map[string]string{"wan": "eth0"},
		FindRole: func(role string) string {
			mu.Lock()
			defer mu.Unlock()
			if role == "modem" && present {
				return "lte0"
			}
			return ""
		}}}
	m := &modemManager{s: s, log: log, req: make(chan string, 4), done: make(chan struct{}),
		cfg: config.Modem{Enabled: true, APN: "internet", Method: config.MethodDHCP}}
	sess := &modemSession{m: m, drv: drv, events: drv.Events()}
	ctx := context.Background()

	if sess.setup(ctx) {
		t.Fatal("setup went on without a network interface")
	}
	if st := m.status(); st.State != ModemOpening || !strings.Contains(st.Error, "waiting for the modem's network interface") {
		t.Fatalf("while the interface is missing: %s %q, want opening and waiting", st.State, st.Error)
	}
	mu.Lock()
	present = true
	mu.Unlock()
	if !sess.setup(ctx) {
		t.Fatalf("setup with the interface present: %+v", m.status())
	}
	if m.iface != "lte0" || !m.noIfaceSince.IsZero() {
		t.Fatalf("interface %q (waiting since %v), want lte0 taken", m.iface, m.noIfaceSince)
	}

	// gone for longer than the grace: a fault, with what to do
	mu.Lock()
	present = false
	mu.Unlock()
	m.noIfaceSince = time.Now().Add(-noIfaceGrace - time.Second)
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if sess.setup(short) {
		t.Fatal("setup went on without a network interface after the grace")
	}
	if st := m.status(); st.State != netapi.ModemFaulty || !strings.Contains(st.Error, "set network.modem.interface") {
		t.Fatalf("after the grace: %s %q, want faulty saying what to set", st.State, st.Error)
	}
}
