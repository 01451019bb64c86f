package update

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"edgebox/internal/atomicfile"
)

// Event kinds in the update history.
const (
	EventInstalled  = "installed"   // written to the inactive slot, trial armed
	EventConfirmed  = "confirmed"   // the trial passed its health check
	EventRolledBack = "rolled-back" // the trial did not confirm; the old slot booted
	EventReset      = "factory-reset"
)

// Event is one entry of the update history kept in /perm.
type Event struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Slot    string    `json:"slot"`
	Version string    `json:"version,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	// Built is the signed build time of the bundle (installed, confirmed).
	Built time.Time `json:"built,omitzero"`
}

// TrialReport is what a failing trial writes before it reboots, so the
// slot that comes back can say why.
type TrialReport struct {
	Slot    string    `json:"slot"`
	Version string    `json:"version"`
	Time    time.Time `json:"time"`
	Reason  string    `json:"reason"`
}

// Store keeps the update history and trial reports in a directory on /perm.
type Store struct{ Dir string }

const maxHistory = 20

// History returns the recorded events, oldest first.
func (s Store) History() []Event {
	var ev []Event
	data, err := os.ReadFile(filepath.Join(s.Dir, "history.json"))
	if err == nil {
		json.Unmarshal(data, &ev)
	}
	return ev
}

// Add appends an event (atomically; the oldest fall off).
func (s Store) Add(e Event) error {
	ev := append(s.History(), e)
	if len(ev) > maxHistory {
		ev = ev[len(ev)-maxHistory:]
	}
	data, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(s.Dir, "history.json"), append(data, '\n'), 0o644)
}

// WriteTrialReport records why the trial of a slot failed.
func (s Store) WriteTrialReport(r TrialReport) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(s.Dir, "trial-"+r.Slot+".json"), data, 0o644)
}

// takeTrialReport returns and removes the trial report of a slot.
func (s Store) takeTrialReport(slot string) *TrialReport {
	p := filepath.Join(s.Dir, "trial-"+slot+".json")
	data, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	os.Remove(p)
	var r TrialReport
	if json.Unmarshal(data, &r) != nil {
		return nil
	}
	return &r
}

// BootState is what this boot is, as far as updates go.
type BootState struct {
	Slot   string `json:"slot"`   // the slot this system booted from
	Active string `json:"active"` // the slot the boot loader calls confirmed
	// OnTrial: this slot is not confirmed yet; it must pass its health
	// check, or the next boot falls back to Active.
	OnTrial bool   `json:"on_trial"`
	Trial   *Trial `json:"trial,omitempty"`
	// RolledBack is set when this boot is the fallback after a trial that
	// did not confirm.
	RolledBack *Event `json:"rolled_back,omitempty"`
	// Armed is set when a trial of the other slot waits for the next boot.
	Armed *Trial `json:"armed,omitempty"`
}

// Boot works out the state of this boot from the MBR and the ADVs, and
// records (then clears) the outcome of a trial that failed.
func Boot(d *Disk, slot string, st Store, now time.Time) (BootState, error) {
	bs := BootState{Slot: slot, Active: d.Active()}
	if slot != "A" && slot != "B" {
		return bs, fmt.Errorf("unknown boot slot %q (kernel command line edgebox.slot)", slot)
	}
	if bs.Active != slot {
		bs.OnTrial = true
		if bs.Active != "" {
			bs.Trial, _, _ = pending(d, bs.Active)
		}
		return bs, nil
	}
	t, once, err := pending(d, slot)
	if err != nil || t == nil {
		return bs, err
	}
	if once { // armed and not booted yet (init restarted without a reboot?)
		bs.Armed = t
		return bs, nil
	}
	// syslinux consumed the boot-once and we are back: the trial failed.
	reason := fmt.Sprintf("slot %s (version %s) did not confirm and left no report: "+
		"a kernel panic, an init crash, a hang reset by the watchdog, or a power cut or reboot before its health check passed", t.Slot, t.Version)
	if r := st.takeTrialReport(t.Slot); r != nil && r.Time.Unix() >= t.Armed {
		reason = fmt.Sprintf("slot %s (version %s) failed its health check: %s", t.Slot, t.Version, r.Reason)
	}
	ev := Event{Time: now, Kind: EventRolledBack, Slot: t.Slot, Version: t.Version, Reason: reason}
	bs.RolledBack = &ev
	errs := []error{st.Add(ev), disarm(d, slot)}
	return bs, errors.Join(errs...)
}

// Confirm makes the running trial slot the one the boot loader boots, and
// clears the now stale trial record in the other slot. The trial's signed
// build time goes into the history: later installs compare against it.
func Confirm(d *Disk, slot string, st Store, version string, now time.Time) error {
	var built time.Time
	if t, _, _ := pending(d, otherSlot(slot)); t != nil && t.Slot == slot && t.Built != 0 {
		built = time.Unix(t.Built, 0).UTC()
	}
	if err := d.SetActive(slot); err != nil {
		return err
	}
	disarm(d, otherSlot(slot)) // best effort: the old slot is inactive now
	return st.Add(Event{Time: now, Kind: EventConfirmed, Slot: slot, Version: version, Built: built})
}
