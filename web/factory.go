package web

import (
	"errors"
	"net/http"
	"strings"

	"edgebox/internal/update"
)

// Factory reset from the Admin page. Before, only edgectl, the kernel
// command line or the apu2's front button could do it, so an installer
// with a phone and no shell could not start over. It takes the same
// typed confirmation as edgectl, in English or in the page's language,
// as typed on a phone (spaces around it, a capital first letter).

func (s *Server) handleFactoryReset(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Confirm string `json:"confirm"`
	}
	if err := readJSONLimit(w, r, &req, 1024); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	lang := langOf(r)
	typed := strings.TrimFunc(req.Confirm, isSpaceLike)
	if !strings.EqualFold(typed, update.FactoryResetPhrase) && !strings.EqualFold(typed, tr(lang, update.FactoryResetPhrase)) {
		apiError(w, http.StatusBadRequest, errors.New("confirm: "+trf(lang, "type %q to confirm: this erases every setting, password and certificate on the box", tr(lang, update.FactoryResetPhrase))))
		return
	}
	if err := (update.Client{Client: s.initClient().Client}).FactoryReset(r.Context(), update.FactoryResetPhrase); err != nil {
		initError(w, err)
		return
	}
	s.log.Warn("factory reset requested", "from", clientAddr(r))
	apiJSON(w, http.StatusAccepted, OK{true})
}
