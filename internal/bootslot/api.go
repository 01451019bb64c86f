package bootslot

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"edgebox/internal/localapi"
	"edgebox/internal/update"
)

func (s *Slot) status() update.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := update.Status{Version: s.version, Boot: s.boot, History: s.store.History()}
	if s.health != nil {
		h := *s.health
		st.Health = &h
	}
	if s.install != nil {
		p := *s.install
		st.Install = &p
	}
	return st
}

// Routes adds the update and factory-reset API to init's system API.
func (s *Slot) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/update", func(w http.ResponseWriter, r *http.Request) {
		localapi.WriteJSON(w, http.StatusOK, s.status())
	})
	mux.HandleFunc("POST /v1/update", s.handleInstall)
	mux.HandleFunc("POST /v1/factory-reset", s.handleFactoryReset)
}

// handleInstall installs the bundle in the request body, answering with
// progress lines (NDJSON).
func (s *Slot) handleInstall(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	switch {
	case s.disk == "":
		s.mu.Unlock()
		localapi.WriteError(w, http.StatusServiceUnavailable, errors.New("no edgebox boot disk found: "+s.diskErr))
		return
	case s.busy:
		s.mu.Unlock()
		localapi.WriteError(w, http.StatusConflict, errors.New("an update is already being installed"))
		return
	}
	s.busy = true
	running := s.boot.Slot
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.busy = false
		s.mu.Unlock()
	}()
	size := r.ContentLength
	if v, err := strconv.ParseInt(r.Header.Get("X-Bundle-Size"), 10, 64); err == nil && size < 0 {
		size = v
	}
	trusted, kerr := update.LoadTrustedKeys(update.TrustedKeysDir)
	if kerr != nil {
		s.log.Warn("trusted keys", "err", kerr)
	}
	d, err := update.OpenDisk(s.disk)
	if err != nil {
		localapi.WriteError(w, http.StatusInternalServerError, err)
		return
	}
	defer d.Close()
	rc := http.NewResponseController(w)
	// Progress goes out while the bundle still comes in: without full
	// duplex the HTTP/1 server would discard the unread body on the
	// first write.
	if err := rc.EnableFullDuplex(); err != nil {
		s.log.Warn("update API: no full duplex", "err", err)
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	send := func(p update.Progress) {
		s.mu.Lock()
		cp := p
		s.install = &cp
		s.mu.Unlock()
		enc.Encode(p)
		rc.Flush()
	}
	allow := r.URL.Query().Get("allow_downgrade") == "1"
	in := &update.Installer{Disk: d, Running: running, Board: s.board, Trusted: trusted,
		NeedUplink: uplinkUp(r.Context()), Progress: send,
		Current: s.version, CurrentBuilt: s.store.RunningBuilt(running, s.version), AllowDowngrade: allow}
	start := time.Now()
	res, err := in.Install(r.Context(), r.Body, size, r.Header.Get("X-Bundle-SHA256"))
	if err != nil {
		s.log.Error("update not installed", "err", err)
		send(update.Progress{Phase: update.PhaseFailed, Error: err.Error()})
		return
	}
	s.log.Info("update installed; trial armed", "slot", res.Slot, "version", res.Version, "signed_by", res.SignedBy,
		"bytes", res.Bytes, "took", time.Since(start).Round(time.Millisecond))
	ev := update.Event{Time: time.Now(), Kind: update.EventInstalled, Slot: res.Slot, Version: res.Version}
	if res.Downgrade != "" {
		s.log.Warn("DOWNGRADE installed: allowed explicitly by an admin", "why_older", res.Downgrade, "running", s.version, "slot", res.Slot)
		ev.Reason = "downgrade allowed by an admin: " + res.Downgrade
	}
	s.store.Add(ev)
	if r.URL.Query().Get("reboot") == "1" {
		go func() {
			time.Sleep(time.Second) // let the answer reach the client
			s.reboot()
		}()
	}
}

func (s *Slot) handleFactoryReset(w http.ResponseWriter, r *http.Request) {
	var req update.FactoryReset
	if err := localapi.ReadJSON(r, &req); err != nil {
		localapi.WriteError(w, http.StatusBadRequest, err)
		return
	}
	if req.Confirm != update.FactoryResetPhrase {
		localapi.WriteError(w, http.StatusBadRequest, fmt.Errorf("confirm: send %q to erase every setting and secret", update.FactoryResetPhrase))
		return
	}
	if err := s.factoryReset("API call"); err != nil {
		localapi.WriteError(w, http.StatusInternalServerError, err)
		return
	}
	localapi.WriteJSON(w, http.StatusAccepted, map[string]string{"status": "settings erased; rebooting"})
	go func() {
		time.Sleep(time.Second)
		s.reboot()
	}()
}
