package netctl

import (
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
	if cfgSlot != "" {
		st := &netapi.ModemSlot{Name: "mPCIe " + strings.TrimPrefix(cfgSlot, "mpcie"), Source: netapi.SlotFromConfig}
		for _, s := range slots {
			if slotKey(s.Label) == cfgSlot {
				st.Name, st.SIM = s.Label, s.SIM
			}
		}
		return st
	}
	if dev == nil {
		return nil
	}
	unknown := func(why string) *netapi.ModemSlot {
		return &netapi.ModemSlot{Name: "unknown", Reason: why + "; set network.modem.slot if you know it"}
	}
	place, err := modem.USBPlaceOf(sysfs, dev.USBPath)
	if err != nil {
		return unknown(err.Error())
	}
	var usb []modem.SlotUSB
	for _, s := range slots {
		usb = append(usb, modem.SlotUSB{Name: s.Name, Place: modem.USBPlace{Controller: s.USBController, Ports: s.USBPorts}})
	}
	name, err := modem.SlotAt(place, usb)
	if err != nil {
		st := unknown(err.Error())
		st.USB = place.String()
		return st
	}
	for _, s := range slots {
		if s.Name == name {
			st := &netapi.ModemSlot{Name: s.Label, SIM: s.SIM, Source: netapi.SlotFromUSB, USB: place.String()}
			if s.USBGuessed {
				st.Source = netapi.SlotFromGuessedUSB
			}
			return st
		}
	}
	return unknown("no slot " + name) // not reached: SlotAt names one of slots
}

// slotKey is a slot label as network.modem.slot spells it: "mPCIe 1" is
// "mpcie1".
func slotKey(label string) string {
	return strings.ToLower(strings.ReplaceAll(label, " ", ""))
}
