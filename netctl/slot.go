package netctl

import (
	"fmt"
	"strings"

	"edgebox/api/modemapi"
	"edgebox/api/netapi"
	"edgebox/boards"
	"edgebox/modem"
)

// slotSysfs is where the modem's USB device is looked up (tests point it
// at a fake tree).
var slotSysfs = "/sys"

// slotOf says which mini-PCIe slot holds the modem dev: the one
// network.modem.slot names (cfgSlot, "mpcie1"), else the board slot at the
// device's USB place, else "unknown" with the reason. nil without a modem
// and without a configured slot.
func slotOf(dev *modemapi.Device, cfgSlot string, slots []boards.ModemSlot, sysfs string) *netapi.ModemSlot {
	_, st := findSlot(dev, cfgSlot, slots, sysfs)
	return st
}

// findSlot is slotOf that also returns the board's slot (nil when the
// board has no slot by that name, or the slot is unknown): the modem's
// reset pulses that slot's line.
func findSlot(dev *modemapi.Device, cfgSlot string, slots []boards.ModemSlot, sysfs string) (*boards.ModemSlot, *netapi.ModemSlot) {
	if cfgSlot != "" {
		st := &netapi.ModemSlot{Name: "mPCIe " + strings.TrimPrefix(cfgSlot, "mpcie"), Source: netapi.SlotFromConfig}
		for i, s := range slots {
			if slotKey(s.Label) == cfgSlot {
				st.Name, st.SIM = s.Label, s.SIM
				return &slots[i], st
			}
		}
		return nil, st
	}
	if dev == nil {
		return nil, nil
	}
	unknown := func(why string) *netapi.ModemSlot {
		return &netapi.ModemSlot{Name: "unknown", Reason: why + "; set network.modem.slot if you know it"}
	}
	place, err := modem.USBPlaceOf(sysfs, dev.USBPath)
	if err != nil {
		return nil, unknown(err.Error())
	}
	var usb []modem.SlotUSB
	for _, s := range slots {
		usb = append(usb, modem.SlotUSB{Name: s.Name, Place: modem.USBPlace{Controller: s.USBController, Ports: s.USBPorts}})
	}
	name, err := modem.SlotAt(place, usb)
	if err != nil {
		st := unknown(err.Error())
		st.USB = place.String()
		return nil, st
	}
	for i, s := range slots {
		if s.Name == name {
			st := &netapi.ModemSlot{Name: s.Label, SIM: s.SIM, Source: netapi.SlotFromUSB, USB: place.String()}
			if s.USBGuessed {
				st.Source = netapi.SlotFromGuessedUSB
			}
			return &slots[i], st
		}
	}
	return nil, unknown("no slot " + name) // not reached: SlotAt names one of slots
}

// slotKey is a slot label as network.modem.slot spells it: "mPCIe 1" is
// "mpcie1".
func slotKey(label string) string {
	return strings.ToLower(strings.ReplaceAll(label, " ", ""))
}

// modemSlotReset is the last step of the recovery of the modem dev: pulse
// the reset line of the slot it is in. The slot is decided when the step
// runs, as the status names it: network.modem.slot then in force, else the
// board's USB map. When neither names a slot with a reset line, nothing is
// pulsed and the error says why and what to set: another slot's line would
// cut the card there (a second modem, a WLAN card) and leave this modem
// hung, and no board profile says that pulsing every line is harmless. The
// modem package and netctl then fall back to the vendor reset. nil when
// the board has no reset line at all.
func (s *Service) modemSlotReset(dev modem.Device) func() error {
	return s.slotReset(dev, "network.modem.slot", func() string {
		if p := s.modemSlotCfg.Load(); p != nil {
			return *p
		}
		return ""
	})
}

// voiceSlotReset is modemSlotReset for the voice modem of slot: its own
// configured slot's line, never the data modem's.
func (s *Service) voiceSlotReset(slot string) func(modem.Device) func() error {
	return func(dev modem.Device) func() error {
		return s.slotReset(dev, "network.modem.voice_modems[].slot", func() string { return slot })
	}
}

// deviceSlot is the slot ("mpcie2") the board's USB map puts dev in, ""
// when unknown.
func (s *Service) deviceSlot(dev modem.Device) string {
	sl, _ := findSlot(&dev, "", s.opts.ModemSlots, slotSysfs)
	if sl == nil {
		return ""
	}
	return slotKey(sl.Label)
}

// slotReset pulses the reset line of the slot cfgSlot names (field is
// its config field, for the error), else of the slot dev sits in.
func (s *Service) slotReset(dev modem.Device, field string, cfgSlotOf func() string) func() error {
	if s.opts.SlotReset == nil {
		return nil
	}
	lines := false
	for _, sl := range s.opts.ModemSlots {
		lines = lines || s.opts.SlotReset(sl.Name) != nil
	}
	if !lines {
		return nil
	}
	return func() error {
		cfgSlot := cfgSlotOf()
		slot, st := findSlot(&dev, cfgSlot, s.opts.ModemSlots, slotSysfs)
		var reset func() error
		if slot != nil {
			reset = s.opts.SlotReset(slot.Name)
		}
		if reset == nil {
			why := "no slot"
			switch {
			case st != nil && st.Source == netapi.SlotFromConfig:
				why = fmt.Sprintf("%s %q names a slot without a reset line on this board", field, cfgSlot)
			case st != nil && st.Reason != "":
				why = "the slot is unknown: " + st.Reason
			case slot != nil:
				why = fmt.Sprintf("slot %s has no reset line on this board", slot.Label)
			}
			s.log.Warn("modem slot reset skipped: no reset line pulsed", "why", why)
			return fmt.Errorf("no slot's reset line pulsed: %s", why)
		}
		s.log.Warn("modem slot reset: pulsing the slot's reset line", "slot", slot.Label, "board_slot", slot.Name, "known_from", st.Source)
		if err := reset(); err != nil {
			return fmt.Errorf("reset line of %s: %w", slot.Label, err)
		}
		return nil
	}
}
