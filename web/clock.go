package web

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// SetClockRequest sets the box's clock from the installer's phone, for a
// box whose NTP cannot be reached yet.
type SetClockRequest struct {
	UnixMS int64 `json:"unix_ms"`
}

// SetClockResult says what was done, in a sentence.
type SetClockResult struct {
	Message string `json:"message"`
	// OffsetSec is how far the box's clock was off (positive: behind).
	OffsetSec float64 `json:"offset_sec"`
}

func (s *Server) handleSetClock(w http.ResponseWriter, r *http.Request) {
	var req SetClockRequest
	if err := readJSONLimit(w, r, &req, 1024); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	t := time.UnixMilli(req.UnixMS)
	if req.UnixMS <= 0 || t.Year() < 2024 || t.Year() > 2100 {
		apiError(w, http.StatusBadRequest, errors.New("unix_ms: the phone's time is not plausible: check the phone's clock"))
		return
	}
	off := t.Sub(s.opt.Now())
	set := s.opt.SetClock
	if set == nil {
		set = s.setSystemClock
	}
	if err := set(t); err != nil {
		apiError(w, http.StatusInternalServerError, fmt.Errorf("the box's clock could not be set (%v): the NTP servers set it once the box is online", err))
		return
	}
	s.log.Info("clock set from the installer's phone", "offset", off.Round(time.Second), "from", clientAddr(r))
	lang := langOf(r)
	msg := tr(lang, "The box's clock now matches the phone's.")
	if a := off.Abs(); a >= 2*time.Second {
		msg = trf(lang, "The box's clock was %s off; it now matches the phone's.", humanDuration(a))
	}
	apiJSON(w, http.StatusOK, SetClockResult{Message: msg, OffsetSec: off.Seconds()})
}
