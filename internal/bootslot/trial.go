package bootslot

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"edgebox/api/netapi"
	"edgebox/api/vpnapi"
	"edgebox/boards"
	"edgebox/internal/localapi"
	"edgebox/internal/sysapi"
	"edgebox/internal/update"
)

// trial runs the health check of an unconfirmed slot.
func (s *Slot) trial(ctx context.Context) {
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
	s.reboot()
}

// unhealthy lists what is not well yet: services not running (or running
// for less than 10 s: a crash loop is not well), the web service not
// answering, no uplink or VPN when one was up before the update.
func (s *Slot) unhealthy(ctx context.Context, needUplink bool) []string {
	var out []string
	for _, svc := range s.services() {
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

func (s *Slot) confirm() {
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
