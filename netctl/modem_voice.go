package netctl

// Voice-only modems (issue 19 item 5): the APU boards have two mini-PCIe
// slots, so a second card (network.modem.voice_modems) can carry a second
// SIM's calls and SMS. It runs the same manager as the data modem, with
// voiceSlot set: open, PIN, register, then the registered state below
// instead of connecting; reset handling (the engine's recovery, the
// session's reset request) is the same, with its own slot's reset line,
// state directory and SMS store. The data uplink and its failover see
// only network.modem.

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"time"

	"edgebox/api/netapi"
	"edgebox/internal/config"
	"edgebox/modem"
)

// registered is a voice modem's resting state: registered, its signal
// polled; SIM, registration and reset events (s.wait) start the round
// over, which reads SIM and registration again.
func (s *modemSession) registered(ctx context.Context) step {
	s.m.setState(netapi.ModemRegistered, "")
	s.m.mu.Lock()
	s.m.resetLevel = 0 // it works: the next reset starts the ladder over
	s.m.mu.Unlock()
	s.m.pollSignal(ctx, s.drv)
	return s.wait(ctx, orDefault(s.m.signalEvery, 30*time.Second))
}

// voiceFaulty: the engine of a voice modem gave up on it (it stopped
// answering and its own restart did not bring it back). The data modem is
// reset when its uplink stays dead (checkDead); a voice modem has no
// uplink, so its reset ladder (reopen, vendor reset, slot reset) is
// climbed here, one step per failure, and the manager opens it again.
func (s *modemSession) voiceFaulty(ctx context.Context) step {
	s.m.log.Warn("voice modem not responding; resetting it")
	s.m.doReset(ctx, s.drv)
	return stepEnd
}

// configField names a setting of this manager's modem for messages:
// network.modem.pin, or the voice modem's entry.
func (m *modemManager) configField(name string) string {
	if m.voiceSlot == "" {
		return "network.modem." + name
	}
	return fmt.Sprintf("%s of network.modem.voice_modems (slot %s)", name, m.voiceSlot)
}

// slotOpener is an opener that can open the card of one slot with its own
// state and SMS directories (realModems); test fakes need not be one.
type slotOpener interface {
	forSlot(slot string) ModemOpener
}

// opener is what opens this manager's modem.
func (m *modemManager) opener() ModemOpener {
	o := m.s.opts.Modems
	if so, ok := o.(slotOpener); ok && m.voiceSlot != "" {
		return so.forSlot(m.voiceSlot)
	}
	return o
}

// forSlot keeps a voice modem's PIN record and SMS apart from the data
// modem's (two SIMs, two stores), and resets its own slot.
func (r realModems) forSlot(slot string) ModemOpener {
	if r.smsDir != "" {
		r.smsDir = filepath.Join(r.smsDir, "slot-"+slot)
	}
	r.stateDir = filepath.Join(r.stateDir, "slot-"+slot)
	r.voice = true
	r.slotReset = nil
	if r.slotResetFor != nil {
		r.slotReset = r.slotResetFor(slot)
	}
	return r
}

// pick chooses among detected devices: the one in cfg.Slot when the
// board's USB map says where each sits. A voice modem takes only the card
// in its slot; the data modem falls back to the first one found (a box
// with one card and a slot set against a wrong USB map).
func (r realModems) pick(devs []modem.Device, cfg config.Modem) (modem.Device, error) {
	// the data modem never takes a card a voice modem names by port
	// nor the card in a voice modem's slot (two cards of one USB id look
	// alike but for their place: only the slot tells them apart)
	devs = slices.DeleteFunc(slices.Clone(devs), func(d modem.Device) bool {
		return slices.ContainsFunc(cfg.VoiceModems, func(v config.VoiceModem) bool {
			if v.Port != "" {
				return devPath(v.Port) == d.Port
			}
			return !r.voice && v.Slot != "" && r.slotOf != nil && r.slotOf(d) == v.Slot
		})
	})
	if len(devs) == 0 {
		return modem.Device{}, fmt.Errorf("%w besides the voice modems' (network.modem.voice_modems)", modem.ErrNoModem)
	}
	if cfg.Slot == "" || r.slotOf == nil {
		return devs[0], nil
	}
	var where []string
	for _, d := range devs {
		sl := r.slotOf(d)
		if sl == cfg.Slot {
			return d, nil
		}
		where = append(where, fmt.Sprintf("%s in %q", d.Port, sl))
	}
	if r.voice {
		return modem.Device{}, fmt.Errorf("%w in slot %s (found: %v); set its port if the board's USB map is unknown", modem.ErrNoModem, cfg.Slot, where)
	}
	return devs[0], nil
}

// configureVoiceModemsLocked starts, stops and reconfigures the voice
// modems to follow network.modem.voice_modems (s.mu held).
func (s *Service) configureVoiceModemsLocked(cfg config.Network) {
	want := map[string]config.VoiceModem{}
	for _, v := range cfg.Modem.VoiceModems {
		want[v.Slot] = v
	}
	for slot, m := range s.voiceModems {
		if _, ok := want[slot]; !ok {
			delete(s.voiceModems, slot)
			go m.stop()
		}
	}
	for _, v := range cfg.Modem.VoiceModems {
		mc := v.AsModem()
		if m := s.voiceModems[v.Slot]; m != nil {
			m.reconfigure(mc)
			continue
		}
		if s.voiceModems == nil {
			s.voiceModems = map[string]*modemManager{}
		}
		m := &modemManager{s: s, log: s.log.With("part", "modem", "slot", v.Slot), req: make(chan string, 4), cfg: mc, done: make(chan struct{}), voiceSlot: v.Slot}
		m.st.State = netapi.ModemAbsent
		ctx, cancel := context.WithCancel(s.ctx)
		m.cancel = cancel
		s.voiceModems[v.Slot] = m
		go m.run(ctx)
	}
}

// reconfigure takes new settings; the session acts on them at its next
// request.
func (m *modemManager) reconfigure(cfg config.Modem) bool {
	m.mu.Lock()
	changed := !reflect.DeepEqual(m.cfg, cfg)
	if m.cfg.PIN != cfg.PIN {
		m.pinFailed = ""
	}
	m.cfg = cfg
	m.mu.Unlock()
	if changed {
		m.request("reconfig")
	}
	return changed
}

// voiceModemStatus lists the voice modems' status in config order (s.mu
// held).
func (s *Service) voiceModemStatusLocked() []ModemStatus {
	var out []ModemStatus
	for _, v := range s.cfg.Modem.VoiceModems {
		m := s.voiceModems[v.Slot]
		if m == nil {
			continue
		}
		ms := m.status()
		ms.APN = ""
		ms.Slot = slotOf(ms.Device, v.Slot, s.opts.ModemSlots, slotSysfs)
		out = append(out, ms)
	}
	return out
}

// voiceModem is the voice modem of slot.
func (s *Service) voiceModem(slot string) (*modemManager, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.voiceModems[slot]; m != nil {
		return m, nil
	}
	return nil, fmt.Errorf("no voice modem in slot %q (network.modem.voice_modems)", slot)
}

// driverForSlot is the driver of the modem slot names for the SMS routes:
// "" the default modem (the data modem; the first voice modem when there
// is none), else the modem in that slot.
func (s *Service) driverForSlot(slot string) (ModemDriver, error) {
	s.mu.Lock()
	data, first := s.modem, ""
	if len(s.cfg.Modem.VoiceModems) > 0 {
		first = s.cfg.Modem.VoiceModems[0].Slot
	}
	s.mu.Unlock()
	switch {
	case slot == "" && data == nil && first != "":
		slot = first
	case slot == "" || data != nil && gsmSlotOf(s.Status().Modem) == slot:
		return s.modemDriver()
	}
	m, err := s.voiceModem(slot)
	if err != nil {
		return nil, err
	}
	return m.driver()
}
