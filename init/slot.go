package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"edgebox/api/netapi"
	"edgebox/api/vpnapi"
	"edgebox/boards"
	"edgebox/internal/localapi"
	"edgebox/internal/paths"
	"edgebox/internal/supervise"
	"edgebox/internal/sysapi"
	"edgebox/internal/update"
)

// Boot slots and updates (docs/updates.md): at boot init finds out whether
// this slot is confirmed (the MBR's active partition) or on trial after an
// update; a trial runs the health check and confirms the slot only when
// the box is well, else it records why and reboots into the old slot. It
// also serves the update API: bundles are installed by init, which owns
// the disk.

// Test hooks on the kernel command line (documented in docs/updates.md).
const (
	// cmdTrialFail makes the trial's health check fail at once.
	cmdTrialFail = "edgebox.debug.trialfail"
	// cmdTrialTimeout overrides how long a trial may take to get healthy (s).
	cmdTrialTimeout = "edgebox.trial.timeout"
	// cmdFactoryReset=erase-TOKEN erases the settings once per token.
	cmdFactoryReset = "edgebox.factory_reset"
)

// defaultTrialTimeout is how long a trial has for every service, the web
// service and (if one was up before) an uplink or the VPN.
const defaultTrialTimeout = 5 * time.Minute

// slotService is the update side of init; the API handlers and the health
// check goroutine share it under mu.
type slotService struct {
	log     *slog.Logger
	sup     *supervise.Supervisor
	power   chan<- string
	board   string
	version string
	cmdline string
	disk    string // whole-disk device of the boot disk ("" if not found)
	store   update.Store

	mu      sync.Mutex
	boot    update.BootState
	health  *update.HealthStatus
	install *update.Progress
	busy    bool
	diskErr string
}

// startSlots works out this boot's state and starts the trial's health
// check when the slot is on trial.
func startSlots(ctx context.Context, sup *supervise.Supervisor, power chan<- string, board, version, cmdline string, log *slog.Logger) *slotService {
	s := &slotService{log: log, sup: sup, power: power, board: board, version: version, cmdline: cmdline,
		store: update.Store{Dir: filepath.Join(paths.DataDir(), "update")}}
	s.boot.Slot = boards.CmdlineValue(cmdline, "edgebox.slot")
	dev, err := findBootDisk("/sys", "/dev")
	if err != nil {
		s.diskErr = err.Error()
		log.Warn("boot disk not found; updates and trial boots are off", "err", err)
		return s
	}
	s.disk = dev
	d, err := update.OpenDisk(dev)
	if err != nil {
		s.diskErr = err.Error()
		log.Error("boot disk unreadable; updates and trial boots are off", "err", err)
		return s
	}
	bs, err := update.Boot(d, s.boot.Slot, s.store, time.Now())
	d.Close()
	s.boot = bs
	if err != nil {
		log.Error("boot slot state", "err", err)
	}
	switch {
	case bs.RolledBack != nil:
		log.Error("ROLLED BACK: the update did not confirm; running the previous firmware again",
			"slot", bs.Slot, "failed_slot", bs.RolledBack.Slot, "failed_version", bs.RolledBack.Version, "why", bs.RolledBack.Reason)
	case bs.OnTrial:
		log.Warn("this slot runs on TRIAL after an update; confirming it once the box is healthy",
			"slot", bs.Slot, "version", version, "fallback", bs.Active)
		s.health = &update.HealthStatus{State: "checking"}
		go s.trial(ctx)
	default:
		log.Info("boot slot confirmed", "slot", bs.Slot, "version", version)
	}
	return s
}

// findBootDisk returns the whole-disk device whose first partition is the
// FAT labelled EDGE_A (the same rule findPerm uses).
func findBootDisk(sysRoot, devRoot string) (string, error) {
	for _, p := range listPartitions(sysRoot) {
		if p.partition == 1 && fatLabel(readHead(filepath.Join(devRoot, p.name), 512)) == bootLabelA {
			return filepath.Join(devRoot, p.disk), nil
		}
	}
	return "", errors.New("no disk whose first partition is labelled " + bootLabelA)
}

// fill adds the update state to init's system view.
func (s *slotService) fill(sys *sysapi.System) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sys.Slot = s.boot.Slot
	sys.Confirmed = s.disk != "" && !s.boot.OnTrial
	if s.boot.RolledBack != nil {
		sys.RollbackReason = s.boot.RolledBack.Reason
	}
}

// trial runs the health check of an unconfirmed slot.
func (s *slotService) trial(ctx context.Context) {
	timeout := defaultTrialTimeout
	if v, err := strconv.Atoi(boards.CmdlineValue(s.cmdline, cmdTrialTimeout)); err == nil && v > 0 {
		timeout = time.Duration(v) * time.Second
	}
	needUplink := s.boot.Trial != nil && s.boot.Trial.NeedUplink
	deadline := time.Now().Add(timeout)
	s.mu.Lock()
	s.health.Deadline = deadline.UTC().Format(time.RFC3339)
	s.mu.Unlock()
	var waiting []string
	for {
		if boards.CmdlineValue(s.cmdline, cmdTrialFail) != "" {
			waiting = []string{cmdTrialFail + " is set on the kernel command line (test hook)"}
			break
		}
		waiting = s.unhealthy(ctx, needUplink)
		s.mu.Lock()
		s.health.Waiting = waiting
		s.mu.Unlock()
		if len(waiting) == 0 {
			s.confirm()
			return
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
	reason := strings.Join(waiting, "; ")
	s.mu.Lock()
	s.health.State, s.health.Reason = "failed", reason
	s.mu.Unlock()
	s.log.Error("TRIAL FAILED: this update is not healthy; rebooting into the previous slot", "slot", s.boot.Slot, "why", reason)
	if err := s.store.WriteTrialReport(update.TrialReport{Slot: s.boot.Slot, Version: s.version, Time: time.Now(), Reason: reason}); err != nil {
		s.log.Error("could not record why the trial failed", "err", err)
	}
	select {
	case s.power <- "reboot":
	default:
	}
}

// unhealthy lists what is not well yet: services not running (or running
// for less than 10 s: a crash loop is not well), the web service not
// answering, no uplink or VPN when one was up before the update.
func (s *slotService) unhealthy(ctx context.Context, needUplink bool) []string {
	var out []string
	for _, svc := range s.sup.Status() {
		if svc.State != sysapi.StateRunning || svc.UptimeSec < 10 {
			out = append(out, fmt.Sprintf("service %s is %s", svc.Name, svc.State))
		}
	}
	if err := webAnswers(ctx); err != nil {
		out = append(out, "web service not answering: "+err.Error())
	}
	if needUplink && !uplinkUp(ctx) {
		out = append(out, "no uplink and no VPN (one was up before the update)")
	}
	return out
}

func webAnswers(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c := localapi.NewClient("web")
	var h struct{} // any JSON object: web answered
	return c.Get(ctx, "/healthz", &h)
}

// uplinkUp reports whether netctl has a healthy uplink or the VPN is up.
func uplinkUp(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if st, err := netapi.NewClient().Status(ctx); err == nil {
		for _, u := range st.Uplinks {
			if u.State == netapi.UplinkHealthy {
				return true
			}
		}
	}
	if vpn, err := vpnapi.NewClient().Status(ctx); err == nil && vpn.State == vpnapi.StateConnected {
		return true
	}
	return false
}

func (s *slotService) confirm() {
	d, err := update.OpenDisk(s.disk)
	if err == nil {
		err = update.Confirm(d, s.boot.Slot, s.store, s.version, time.Now())
		d.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.health.State, s.health.Reason = "failed", "confirming the slot failed: "+err.Error()
		s.log.Error("could not confirm the slot; the next boot falls back", "slot", s.boot.Slot, "err", err)
		return
	}
	s.health.State = "passed"
	s.boot.OnTrial = false
	s.boot.Active = s.boot.Slot
	s.log.Info("slot CONFIRMED: the update passed its health check", "slot", s.boot.Slot, "version", s.version)
}

func (s *slotService) status() update.Status {
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

func (s *slotService) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/update", func(w http.ResponseWriter, r *http.Request) {
		localapi.WriteJSON(w, http.StatusOK, s.status())
	})
	mux.HandleFunc("POST /v1/update", s.handleInstall)
	mux.HandleFunc("POST /v1/factory-reset", s.handleFactoryReset)
}

// handleInstall installs the bundle in the request body, answering with
// progress lines (NDJSON).
func (s *slotService) handleInstall(w http.ResponseWriter, r *http.Request) {
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
			select {
			case s.power <- "reboot":
			default:
			}
		}()
	}
}

func (s *slotService) handleFactoryReset(w http.ResponseWriter, r *http.Request) {
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
		select {
		case s.power <- "reboot":
		default:
		}
	}()
}

// factoryReset erases the settings, secrets and data under /perm, keeping
// the firmware and the update history.
func (s *slotService) factoryReset(why string) error {
	s.log.Warn("FACTORY RESET: erasing settings and secrets", "requested_by", why)
	err := update.EraseSettings(paths.DataDir(), "update")
	s.store.Add(update.Event{Time: time.Now(), Kind: update.EventReset, Slot: s.boot.Slot, Version: s.version, Reason: why})
	return err
}

// bootFactoryReset honours edgebox.factory_reset=erase-TOKEN once per token.
func bootFactoryReset(cmdline string, log *slog.Logger) {
	v := boards.CmdlineValue(cmdline, cmdFactoryReset)
	if v == "" {
		return
	}
	if !strings.HasPrefix(v, "erase") {
		log.Warn("ignoring "+cmdFactoryReset+": its value must start with \"erase\" to confirm", "value", v)
		return
	}
	marker := filepath.Join(paths.PermDir(), ".factory-reset-done")
	if done, _ := os.ReadFile(marker); strings.TrimSpace(string(done)) == v {
		return // this token was honoured on an earlier boot
	}
	log.Warn("FACTORY RESET requested on the kernel command line: erasing settings and secrets", "token", v)
	if err := update.EraseSettings(paths.DataDir(), "update"); err != nil {
		log.Error("factory reset", "err", err)
		return
	}
	os.WriteFile(marker, []byte(v+"\n"), 0o644)
}

// watchFrontButton erases the settings and reboots when the board's front
// button (apu2+: gpio-keys-polled "front button", KEY_RESTART) is held for
// update.LongPress.
func (s *slotService) watchFrontButton(sysRoot string) {
	devs, _ := filepath.Glob(filepath.Join(sysRoot, "class/input/input*"))
	for _, d := range devs {
		name, _ := os.ReadFile(filepath.Join(d, "name"))
		if !strings.Contains(strings.ToLower(string(name)), "gpio-keys") {
			continue
		}
		evs, _ := filepath.Glob(filepath.Join(d, "event*"))
		for _, ev := range evs {
			f, err := os.Open("/dev/input/" + filepath.Base(ev))
			if err != nil {
				continue
			}
			s.log.Info("front button: hold it 10 s to erase the settings (factory reset)", "device", f.Name())
			go func() {
				defer f.Close()
				if update.WaitLongPress(f, update.KeyRestart, update.LongPress, time.Now) {
					if s.factoryReset("front button held") == nil {
						select {
						case s.power <- "reboot":
						default:
						}
					}
				}
			}()
		}
	}
}
