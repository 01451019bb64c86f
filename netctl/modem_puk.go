package netctl

// The SIM's PUK, entered by the installer through the API: a SIM blocked
// after three wrong PINs is unblocked here, with a new PIN. The box never
// sends a PUK by itself (ten wrong ones destroy the SIM): only an
// installer's entry, once.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"edgebox/api/netapi"
	"edgebox/internal/config"
	"edgebox/internal/localapi"
	"edgebox/modem"
)

// pukEnterer is the optional PUK entry of a driver (*modem.Modem has it).
type pukEnterer interface {
	EnterPUK(ctx context.Context, puk, newPIN string) error
}

// handlePUK serves POST /v1/modem/puk.
func (s *Service) handlePUK(w http.ResponseWriter, r *http.Request) {
	var req netapi.PUKRequest
	if err := localapi.ReadJSON(r, &req); err != nil {
		localapi.WriteError(w, http.StatusBadRequest, err)
		return
	}
	mm, err := s.managerForSlot(req.Slot)
	if err != nil {
		localapi.WriteError(w, http.StatusConflict, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 45*time.Second)
	defer cancel()
	st, err := mm.enterPUK(ctx, req.PUK, req.NewPIN)
	if err != nil {
		localapi.WriteError(w, pukStatus(err), err)
		return
	}
	res := netapi.PUKResponse{SIM: st}
	if err := mm.storeNewPIN(req.NewPIN); err != nil {
		mm.log.Warn("the SIM's new PIN not stored", "err", err)
		res.Warning = fmt.Sprintf("the SIM has the new PIN, but it could not be stored (%v): set %s to it, or the box unlocks the SIM with the old PIN after a restart", err, mm.configField("pin"))
	}
	localapi.WriteJSON(w, http.StatusOK, res)
}

// pukStatus is the HTTP status of a PUK entry's error: the installer's
// entry (wrong, already refused, malformed) apart from the SIM's state
// and from a modem that did not answer.
func pukStatus(err error) int {
	switch {
	case errors.Is(err, modem.ErrWrongPUK), errors.Is(err, modem.ErrPUKAlreadyRejected), errors.Is(err, errPUKFormat):
		return http.StatusUnprocessableEntity
	case errors.Is(err, modem.ErrSIMBlockedForGood):
		return http.StatusGone
	case errors.Is(err, modem.ErrNotPUKLocked), errors.Is(err, errNoPUKEntry):
		return http.StatusConflict
	}
	return http.StatusBadGateway
}

var (
	errPUKFormat  = errors.New("a PUK is 8 digits and the new PIN 4 to 8 digits")
	errNoPUKEntry = errors.New("this modem driver cannot enter a PUK")
)

// managerForSlot is the manager of slot's modem: "" the data modem (the
// first voice modem when there is none).
func (s *Service) managerForSlot(slot string) (*modemManager, error) {
	s.mu.Lock()
	data, first := s.modem, ""
	if len(s.cfg.Modem.VoiceModems) > 0 {
		first = s.cfg.Modem.VoiceModems[0].Slot
	}
	s.mu.Unlock()
	switch {
	case slot == "" && data != nil:
		return data, nil
	case slot == "" && first != "":
		slot = first
	case slot == "":
		return nil, errors.New("the modem is disabled (network.modem.enabled)")
	case data != nil && gsmSlotOf(s.Status().Modem) == slot:
		return data, nil
	}
	return s.voiceModem(slot)
}

// enterPUK sends the installer's PUK and new PIN once, then wakes the
// session to read the unblocked SIM. The PIN that failed before no longer
// stands: the SIM now has the new one.
func (m *modemManager) enterPUK(ctx context.Context, puk, newPIN string) (*modem.SIMStatus, error) {
	if !validPUK(puk) || !validPIN(newPIN) {
		return nil, errPUKFormat
	}
	drv, err := m.driver()
	if err != nil {
		return nil, err
	}
	pe, ok := drv.(pukEnterer)
	if !ok {
		return nil, errNoPUKEntry
	}
	err = pe.EnterPUK(ctx, puk, newPIN)
	// The attempts left changed either way: show them now.
	if st, serr := drv.SIM(ctx); serr == nil {
		m.mu.Lock()
		m.st.SIM = &st
		m.mu.Unlock()
	}
	if err != nil {
		m.log.Warn("SIM PUK not accepted", "err", err)
		return m.status().SIM, err
	}
	m.log.Info("SIM unblocked with the installer's PUK; new PIN set")
	m.mu.Lock()
	m.pinFailed, m.pinFailedICCID = "", ""
	m.mu.Unlock()
	m.request("sim")
	return m.status().SIM, nil
}

// pinStoreMu keeps two PUK entries (two slots) from storing over each
// other's config.
var pinStoreMu sync.Mutex

// storeNewPIN keeps the PIN the installer's PUK gave the SIM where this
// card's PIN is configured (network.modem.pin, or the pin of its entry in
// network.modem.voice_modems), and in the running settings: else the next
// start of the card sends the old PIN, which the SIM now refuses. The
// web's setup page stores the data modem's too; a PUK sent to netctl's
// API for a voice modem's slot had nobody to do it.
func (m *modemManager) storeNewPIN(pin string) error {
	s := m.s
	if s.opts.ConfigPath == "" {
		return errors.New("no config file")
	}
	set := func(c *config.Modem) error {
		if m.voiceSlot == "" {
			c.PIN = pin
			return nil
		}
		return c.SetVoiceModemPIN(m.voiceSlot, pin)
	}
	pinStoreMu.Lock()
	defer pinStoreMu.Unlock()
	defer config.Lock(s.opts.ConfigPath)() // web writes it too
	c, err := config.Load(s.opts.ConfigPath)
	if err != nil {
		return err
	}
	if err := set(&c.Network.Modem); err != nil {
		return err
	}
	if err := config.Save(s.opts.ConfigPath, c); err != nil {
		return err
	}
	// The running settings follow, so that the file read again (a
	// reload) is no change: no manager reconfigures, no link drops.
	s.mu.Lock()
	set(&s.cfg.Modem) // the entry is there: the file has it
	data := s.modem
	voiceModems := s.cfg.Modem.VoiceModems
	s.mu.Unlock()
	m.mu.Lock()
	m.cfg.PIN = pin
	m.mu.Unlock()
	if data != nil && data != m {
		data.mu.Lock()
		data.cfg.VoiceModems = voiceModems
		data.mu.Unlock()
	}
	return nil
}

func validPUK(s string) bool { return len(s) == 8 && digitsOnly(s) }
func validPIN(s string) bool { return len(s) >= 4 && len(s) <= 8 && digitsOnly(s) }

func digitsOnly(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
