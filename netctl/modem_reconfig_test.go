package netctl

import (
	"path/filepath"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// A settings change queued while the session already dialled with the new
// settings (two reloads in a row, the second read by the dial) ended the
// fresh link at once: TestQEMUPPP's pppd was hung up 3 s after connecting
// ("modem link ends why=reconfig"), and its card, with no DTR over QEMU's
// serial line, stayed in data mode. A change the link was not dialled
// with still redials.
func TestReconfigAsDialledKeepsTheLink(t *testing.T) {
	f := newFakeModem(t, true)
	fakePPPD(t, f.dir, "polite")
	m, _ := newPPPManager(t, f)
	testenv.WaitFor(t, 10*time.Second, "connected", testenv.Cond(func() bool { return m.status().State == ModemConnected }))
	m.request("reconfig") // the settings are those it dialled with
	time.Sleep(time.Second)
	calls, _, _, _ := f.snapshot()
	for _, c := range calls {
		if c == "disconnect" {
			t.Fatalf("the link was hung up for a reconfig with the dialled settings: calls %v", calls)
		}
	}
	if n, starts := countLines(filepath.Join(f.dir, "starts")); n != 1 {
		t.Fatalf("pppd started %d times (%v) after a reconfig with the dialled settings; want the link kept", n, starts)
	}
	if st := m.status(); st.State != ModemConnected {
		t.Fatalf("state after a reconfig with the dialled settings: %s %q", st.State, st.Error)
	}

	m.mu.Lock()
	m.cfg.APN = "other.apn"
	m.mu.Unlock()
	m.request("reconfig")
	testenv.WaitFor(t, 10*time.Second, "redialled with the new APN", testenv.Cond(func() bool {
		n, _ := countLines(filepath.Join(f.dir, "starts"))
		return n >= 2
	}))
}
