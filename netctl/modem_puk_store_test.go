package netctl

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edgebox/api/netapi"
	"edgebox/internal/config"
	"edgebox/modem"
)

// pukCard is a driver whose SIM takes any PUK.
type pukCard struct{ ModemDriver }

func (pukCard) EnterPUK(ctx context.Context, puk, newPIN string) error { return nil }
func (pukCard) SIM(ctx context.Context) (modem.SIMStatus, error) {
	return modem.SIMStatus{State: modem.SIMReady, PINAttempts: 3, PUKAttempts: 10}, nil
}

// TestVoiceModemPUKStoresNewPIN: a PUK with a new PIN sent to netctl for
// a voice modem's slot. The new PIN is stored as that voice modem's pin
// (network.modem.voice_modems), the data modem's PIN untouched, and the
// running settings hold it too, so that reading the file again changes
// nothing. Before, it was stored nowhere: the card's next start sent the
// old PIN, which the SIM refused. Without a config file to store it in,
// the answer says what to set by hand.
func TestVoiceModemPUKStoresNewPIN(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	c := config.Default()
	c.Network.Modem.Slot, c.Network.Modem.PIN = "mpcie1", "2222"
	c.Network.Modem.VoiceModems = []config.VoiceModem{{Slot: "mpcie2", Port: "ttyUSB7", PIN: "1111"}}
	if err := config.Save(path, c); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := &Service{log: log, opts: Options{ConfigPath: path}, cfg: c.Network}
	voice := &modemManager{s: s, log: log, req: make(chan string, 4), voiceSlot: "mpcie2",
		cfg: c.Network.Modem.VoiceModems[0].AsModem(), drv: pukCard{}}
	s.voiceModems = map[string]*modemManager{"mpcie2": voice}
	puk := func() netapi.PUKResponse {
		t.Helper()
		w := httptest.NewRecorder()
		s.handlePUK(w, httptest.NewRequest(http.MethodPost, "/v1/modem/puk",
			strings.NewReader(`{"puk":"12345678","new_pin":"4321","slot":"mpcie2"}`)))
		var res netapi.PUKResponse
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &res) != nil {
			t.Fatalf("PUK entry: %d %s", w.Code, w.Body)
		}
		return res
	}

	if res := puk(); res.Warning != "" {
		t.Errorf("warning: %s", res.Warning)
	}
	stored, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := stored.Network.Modem.VoiceModems[0].PIN; got != "4321" {
		t.Errorf("stored voice modem PIN %q, want the new one", got)
	}
	if got := stored.Network.Modem.PIN; got != "2222" {
		t.Errorf("the data modem's PIN became %q", got)
	}
	if got := s.Config().Modem.VoiceModems[0].PIN; got != "4321" {
		t.Errorf("running voice modem PIN %q", got)
	}
	if voice.reconfigure(stored.Network.Modem.VoiceModems[0].AsModem()) {
		t.Error("the stored file read again reconfigures the voice modem")
	}
	if got := c.Network.Modem.VoiceModems[0].PIN; got != "1111" {
		t.Errorf("the caller's config changed under it: %q", got)
	}

	// Nowhere to store it: the installer is told what to set.
	before, _ := os.ReadFile(path)
	s.opts.ConfigPath = ""
	if res := puk(); !strings.Contains(res.Warning, "pin of network.modem.voice_modems (slot mpcie2)") {
		t.Errorf("not stored, the answer says %q", res.Warning)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("the config file changed")
	}
}
