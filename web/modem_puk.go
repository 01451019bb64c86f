package web

// The SIM's PUK on the setup page's mobile step (beside the PIN): a SIM
// blocked after three wrong PINs is unblocked with the PUK from its card
// holder and a new PIN, which is then stored as network.modem.pin, as a
// PIN typed in the PIN field is. Sent once per tap, never retried: netctl
// refuses a PUK the SIM already refused (each wrong one costs one of ten).

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"edgebox/api/modemapi"
	"edgebox/api/netapi"
)

// PUKEntry is the body of POST /api/v1/modem/puk.
type PUKEntry struct {
	PUK    string `json:"puk"`
	NewPIN string `json:"new_pin"`
}

// pukView is the PUK form of the mobile step, shown while the data
// modem's SIM asks for its PUK.
type pukView struct {
	Left    int  // PUK attempts left, -1 unknown
	Blocked bool // none left: a new SIM is the only way
}

func pukViewOf(st Status) *pukView {
	if st.Network == nil || st.Network.Modem == nil || st.Network.Modem.SIM == nil {
		return nil
	}
	sim := st.Network.Modem.SIM
	if sim.State != modemapi.SIMPUK {
		return nil
	}
	return &pukView{Left: sim.PUKAttempts, Blocked: sim.PUKAttempts == 0}
}

func (s *Server) handleModemPUK(w http.ResponseWriter, r *http.Request) {
	var req PUKEntry
	if err := readJSONLimit(w, r, &req, 4096); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	lang := langOf(r)
	req.PUK, req.NewPIN = digitsOf(req.PUK), digitsOf(req.NewPIN)
	if len(req.PUK) != 8 || strings.Trim(req.PUK, "0123456789") != "" {
		apiError(w, http.StatusBadRequest, errors.New("puk: "+tr(lang, "The PUK is 8 digits, printed on the card the SIM came on.")))
		return
	}
	if len(req.NewPIN) < 4 || len(req.NewPIN) > 8 || strings.Trim(req.NewPIN, "0123456789") != "" {
		apiError(w, http.StatusBadRequest, errors.New("new_pin: "+tr(lang, "The new PIN is 4 to 8 digits.")))
		return
	}
	if socketAbsent(netapi.SocketName) {
		apiError(w, http.StatusServiceUnavailable, errors.New(tr(lang, "The network service is not available: the PUK was not sent.")))
		return
	}
	c := netapi.NewClient()
	c.HTTP.Timeout = 0 // ctx bounds it: netctl waits up to 45 s for the card
	ctx, cancel := context.WithTimeout(r.Context(), 50*time.Second)
	defer cancel()
	// The PIN is stored as the data modem's: the PUK goes to that modem
	// only, and only while its SIM asks for it.
	if st, err := c.Status(ctx); err != nil || pukViewOf(Status{Network: &st}) == nil {
		apiError(w, http.StatusConflict, errors.New(tr(lang, "The SIM does not ask for a PUK: nothing was sent.")))
		return
	}
	if _, err := c.EnterPUK(ctx, netapi.PUKRequest{PUK: req.PUK, NewPIN: req.NewPIN}); err != nil {
		s.log.Warn("SIM PUK from the setup page not accepted", "err", err)
		apiError(w, http.StatusUnprocessableEntity, errors.New(trMessage(lang, err.Error())))
		return
	}
	s.log.Info("SIM unblocked with a PUK from the setup page; storing its new PIN")
	res, _ := s.setSettings(withLang(r.Context(), lang), ConfigSet{Settings: map[string]any{"network.modem.pin": req.NewPIN}})
	if !res.OK {
		apiJSON(w, http.StatusOK, map[string]any{"ok": true, "warning": tr(lang, "The new PIN could not be stored: type it in the SIM PIN field and save, or the box cannot unlock the SIM after a restart.")})
		return
	}
	apiJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// digitsOf drops the spaces and dashes people type in a PUK or PIN.
func digitsOf(s string) string {
	return strings.NewReplacer(" ", "", "-", "", "\u00a0", "").Replace(strings.TrimSpace(s))
}
