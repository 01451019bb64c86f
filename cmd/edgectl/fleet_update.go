package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"edgebox/internal/localapi"
	"edgebox/internal/update"
)

// edgectl fleet update BUNDLE --waves 1,10%,rest: the bundle goes to the
// boxes wave by wave. Each box of a wave installs it into its other slot
// and reboots into the trial (its init drains live calls first); the next
// wave starts only when every box of this one came back on the new version,
// confirmed its trial and shows no alert it did not have before. The first
// rollback, failed install or failed check stops the run: the boxes not yet
// reached keep their firmware.

// waveEvent is one line of progress (and of --json's NDJSON stream).
type waveEvent struct {
	Time    time.Time `json:"time"`
	Wave    int       `json:"wave"`
	Box     string    `json:"box,omitempty"`
	Phase   string    `json:"phase"` // skip, installing, installed, rebooting, trial, confirmed, rolled_back, failed, wave_ok, stopped, done
	Message string    `json:"message,omitempty"`
}

// fleetUpdate is one run of fleet update.
type fleetUpdate struct {
	bundle     string
	version    string // the bundle's version, from its header
	waves      []int  // boxes per wave
	bootWait   time.Duration
	settleWait time.Duration // how long a box may stay on trial before it counts as failed
	json       bool
	mu         sync.Mutex // serialises the progress output
}

// parseWaves turns "1,10%,rest" into wave sizes for n boxes: a number is
// that many boxes, N% that share of the fleet (at least one), "rest" all
// that are left (it must come last). Boxes left after the list form one more
// wave only if the list ends in "rest".
func parseWaves(spec string, n int) ([]int, error) {
	if n <= 0 {
		return nil, errors.New("no boxes to update")
	}
	var out []int
	left := n
	parts := strings.Split(spec, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		size := 0
		switch {
		case p == "rest":
			if i != len(parts)-1 {
				return nil, fmt.Errorf("--waves %q: \"rest\" must be the last wave", spec)
			}
			size = left
		case strings.HasSuffix(p, "%"):
			pc, err := strconv.ParseFloat(strings.TrimSuffix(p, "%"), 64)
			if err != nil || pc <= 0 || pc > 100 {
				return nil, fmt.Errorf("--waves %q: %q is not a share between 0%% and 100%%", spec, p)
			}
			size = max(1, int(math.Ceil(pc*float64(n)/100)))
		default:
			v, err := strconv.Atoi(p)
			if err != nil || v <= 0 {
				return nil, fmt.Errorf("--waves %q: %q is neither a count, a share (10%%) nor \"rest\"", spec, p)
			}
			size = v
		}
		size = min(size, left)
		if size > 0 {
			out = append(out, size)
		}
		left -= size
	}
	if left > 0 {
		return nil, fmt.Errorf("--waves %q covers %d of %d boxes: end it with \"rest\"", spec, n-left, n)
	}
	return out, nil
}

func fleetUpdateCmd(ctx context.Context, g *globals, args []string) error {
	fs := flag.NewFlagSet("fleet update", flag.ContinueOnError)
	file := fs.String("file", defaultFleetFile(), "fleet file")
	waves := fs.String("waves", "1,10%,rest", "boxes per wave: counts, shares of the fleet (10%) and a final \"rest\"")
	bootWait := fs.Duration("boot-timeout", 10*time.Minute, "how long a box may take to drain, reboot and answer again")
	settle := fs.Duration("trial-timeout", 10*time.Minute, "how long a box may stay on trial before its check counts as failed")
	// Flags may come after the bundle's name too.
	var rest []string
	for a := args; len(a) > 0; {
		if err := fs.Parse(a); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		a = fs.Args()[1:]
	}
	if len(rest) != 1 {
		return errors.New("usage: edgectl fleet update [--file FLEET.json] [--waves 1,10%,rest] BUNDLE")
	}
	boxes, err := loadFleet(*file)
	if err != nil {
		return err
	}
	u := &fleetUpdate{bundle: rest[0], bootWait: *bootWait, settleWait: *settle, json: g.JSON}
	if u.version, err = bundleVersion(u.bundle); err != nil {
		return err
	}
	if u.waves, err = parseWaves(*waves, len(boxes)); err != nil {
		return err
	}
	return u.run(ctx, boxes)
}

// bundleVersion reads the version from the bundle's header (its signature
// is checked by each box).
func bundleVersion(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h, err := update.ReadHeader(f)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return h.Manifest.Version, nil
}

func (u *fleetUpdate) say(e waveEvent) {
	e.Time = time.Now()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.json {
		json.NewEncoder(os.Stdout).Encode(e) // NDJSON: one event a line
		return
	}
	who := e.Box
	if who == "" {
		who = "-"
	}
	fmt.Printf("%s  wave %d  %-10s %-12s %s\n", e.Time.Format("15:04:05"), e.Wave, who, e.Phase, e.Message)
}

// run goes wave by wave and stops at the first box that fails.
func (u *fleetUpdate) run(ctx context.Context, boxes []fleetBox) error {
	start := 0
	for w, size := range u.waves {
		wave := boxes[start : start+size]
		start += size
		results := eachBox(wave, func(b fleetBox) error { return u.updateBox(ctx, w+1, b) })
		var failed []string
		for i, err := range results {
			if err != nil {
				failed = append(failed, wave[i].Name+": "+err.Error())
			}
		}
		if len(failed) > 0 {
			var names []string
			for _, b := range boxes[start:] {
				names = append(names, b.Name)
			}
			msg := fmt.Sprintf("%d box(es) failed; %d not reached keep their firmware", len(failed), len(names))
			if len(names) > 0 {
				msg += " (" + strings.Join(names, ", ") + ")"
			}
			u.say(waveEvent{Wave: w + 1, Phase: "stopped", Message: msg})
			return fmt.Errorf("fleet update stopped in wave %d: %s", w+1, strings.Join(failed, "; "))
		}
		u.say(waveEvent{Wave: w + 1, Phase: "wave_ok", Message: fmt.Sprintf("%d box(es) on %s and healthy", len(wave), u.version)})
	}
	u.say(waveEvent{Wave: len(u.waves), Phase: "done", Message: fmt.Sprintf("%d box(es) on %s", len(boxes), u.version)})
	return nil
}

// updateBox installs the bundle on one box, reboots it into the trial and
// waits until the trial is confirmed; it fails on a rollback, a failed
// install, a box that does not come back, or a new alert.
func (u *fleetUpdate) updateBox(ctx context.Context, wave int, b fleetBox) error {
	say := func(phase, msg string) { u.say(waveEvent{Wave: wave, Box: b.Name, Phase: phase, Message: msg}) }
	before, err := fetchBox(ctx, b)
	if err != nil {
		say("failed", err.Error())
		return err
	}
	if before.System == nil {
		err := errors.New("the box's status has no system part (is init answering?)")
		say("failed", err.Error())
		return err
	}
	if before.System.Version == u.version && before.System.Confirmed {
		say("skip", "already on "+u.version)
		return nil
	}
	oldAlerts := row(b.Name, before).Alerts
	say("installing", fmt.Sprintf("%s -> %s", before.System.Version, u.version))
	if err := u.install(ctx, b); err != nil {
		say("failed", err.Error())
		return err
	}
	say("rebooting", "drains live calls, then boots the trial")
	st, err := u.waitBooted(ctx, b, before.System.BootedAt)
	if err != nil {
		say("failed", err.Error())
		return err
	}
	say("trial", "running "+st.System.Version+"; waiting for its health check")
	st, err = u.waitConfirmed(ctx, b)
	if err != nil {
		phase := "failed"
		if errors.Is(err, errRolledBack) {
			phase = "rolled_back"
		}
		say(phase, err.Error())
		return err
	}
	if fresh := newAlerts(oldAlerts, row(b.Name, st).Alerts); len(fresh) > 0 {
		err := fmt.Errorf("on %s but with new alerts: %s", u.version, strings.Join(fresh, ", "))
		say("failed", err.Error())
		return err
	}
	say("confirmed", "on "+u.version+", no new alerts")
	return nil
}

// install streams the bundle to the box's firmware API with reboot=1.
func (u *fleetUpdate) install(ctx context.Context, b fleetBox) error {
	f, err := os.Open(u.bundle)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	c := &localapi.Client{Base: strings.TrimRight(b.URL, "/"), Token: b.Token,
		HTTP: &http.Client{Transport: remoteTransport(b.Fingerprint)}}
	res, err := update.InstallVia(ctx, c, update.InstallOptions{Reboot: true}.Path("/api/v1/firmware"), f, fi.Size(), "", func(update.Progress) {})
	if err != nil {
		return fmt.Errorf("install: %w", explainTLS(err))
	}
	if res.Version != u.version {
		return fmt.Errorf("install: the box installed %q, not the bundle's %q", res.Version, u.version)
	}
	return nil
}

var errRolledBack = errors.New("rolled back")

// poll asks the box for its status every interval until done says stop or
// the time is up; errors (a box rebooting does not answer) are retried.
func poll(ctx context.Context, b fleetBox, limit time.Duration, done func(boxStatus) (bool, error)) (boxStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	interval := 250 * time.Millisecond
	var last error
	for {
		st, err := fetchBox(ctx, b)
		if err == nil && st.System != nil {
			ok, err := done(st)
			if err != nil || ok {
				return st, err
			}
		} else if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return boxStatus{}, fmt.Errorf("not there after %s (last: %v)", limit, last)
			}
			return boxStatus{}, fmt.Errorf("not there after %s", limit)
		case <-time.After(interval):
			interval = min(interval*2, 5*time.Second)
		}
	}
}

// waitBooted waits for the box to answer again after a boot later than
// the one before the install.
func (u *fleetUpdate) waitBooted(ctx context.Context, b fleetBox, bootedBefore time.Time) (boxStatus, error) {
	st, err := poll(ctx, b, u.bootWait, func(st boxStatus) (bool, error) {
		return st.System.BootedAt.After(bootedBefore), nil
	})
	if err != nil {
		return st, fmt.Errorf("did not come back from its reboot: %w", err)
	}
	return st, nil
}

// waitConfirmed waits for the trial's verdict: the new version confirmed,
// or a rollback (the old version, with its reason).
func (u *fleetUpdate) waitConfirmed(ctx context.Context, b fleetBox) (boxStatus, error) {
	st, err := poll(ctx, b, u.settleWait, func(st boxStatus) (bool, error) {
		s := st.System
		switch {
		case s.Version == u.version && s.Confirmed:
			return true, nil
		case s.Version != u.version:
			why := s.RollbackReason
			if why == "" {
				why = "no reason given"
			}
			return true, fmt.Errorf("%w to %s: %s", errRolledBack, s.Version, why)
		}
		return false, nil
	})
	if err != nil && !errors.Is(err, errRolledBack) {
		return st, fmt.Errorf("trial not confirmed: %w", err)
	}
	return st, err
}

// newAlerts is what after has that before did not.
func newAlerts(before, after []string) []string {
	var out []string
	for _, a := range after {
		if !slices.Contains(before, a) {
			out = append(out, a)
		}
	}
	return out
}
