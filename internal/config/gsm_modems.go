package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// VoiceModem is a second modem, in the other mini-PCIe slot, that carries
// voice and SMS only (issue 19 item 5): netctl opens it, unlocks its SIM
// and keeps it registered, but never starts a data session on it. The
// data uplink stays on network.modem alone, so failover and the data
// path are those of a one-modem box.
type VoiceModem struct {
	// Slot is the mini-PCIe slot of the card ("mpcie1" or "mpcie2");
	// required: it is the SIM's name in the GSM API and in
	// gateway.gsm.sims[].slot, and its reset line is that slot's.
	Slot string `json:"slot"`
	// Port is the AT port (tty name or /dev path); "" = the modem that
	// detection finds in Slot.
	Port    string `json:"port,omitempty"`
	Profile string `json:"profile,omitempty"` // vendor profile; "" = detect
	PIN     string `json:"pin,omitempty"`
	// AudioPort is the card's PCM voice port, as network.modem.audio_port.
	AudioPort string `json:"audio_port,omitempty"`
}

// AsModem is the voice modem as the modem manager takes a modem's
// settings: enabled, without APN or data interface.
func (v VoiceModem) AsModem() Modem {
	return Modem{Enabled: true, Port: v.Port, Profile: v.Profile, PIN: v.PIN, Slot: v.Slot, AudioPort: v.AudioPort}
}

// validateVoiceModems checks network.modem.voice_modems: each names a
// slot of its own, not the data modem's, and ports no other modem uses.
func (m Modem) validateVoiceModems() error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("network.modem.%s: %s", field, fmt.Sprintf(format, a...)))
	}
	if len(m.VoiceModems) >= len(ModemSlots) {
		bad("voice_modems", "%d voice modems and the data modem need %d slots; the board has %d (%s)", len(m.VoiceModems), len(m.VoiceModems)+1, len(ModemSlots), strings.Join(ModemSlots, ", "))
	}
	if len(m.VoiceModems) > 0 && m.Enabled && m.Slot == "" && m.Port == "" {
		bad("slot", "set the data modem's slot or port: with a voice modem beside it, detection alone cannot tell which card carries data")
	}
	slots := map[string]string{}
	if m.Slot != "" {
		slots[m.Slot] = "network.modem.slot"
	}
	ports := map[string]string{}
	for _, p := range []struct{ name, v string }{{"network.modem.port", m.Port}, {"network.modem.data_port", m.DataPort}, {"network.modem.audio_port", m.AudioPort}} {
		if p.v != "" {
			ports[devName(p.v)] = p.name
		}
	}
	for i, v := range m.VoiceModems {
		f := fmt.Sprintf("voice_modems[%d]", i)
		switch {
		case v.Slot == "":
			bad(f+".slot", "give the card's slot (%s): it names the SIM in the GSM API and in gateway.gsm.sims[].slot", strings.Join(ModemSlots, " or "))
		case !slices.Contains(ModemSlots, v.Slot):
			bad(f+".slot", "%q is not a slot: use %s, as printed beside the slot on the board", v.Slot, strings.Join(ModemSlots, " or "))
		case slots[v.Slot] != "":
			bad(f+".slot", "slot %q is already %s's: each card sits in a slot of its own", v.Slot, slots[v.Slot])
		default:
			slots[v.Slot] = "network.modem." + f
		}
		for _, p := range []struct{ name, v string }{{"port", v.Port}, {"audio_port", v.AudioPort}} {
			if p.v == "" {
				continue
			}
			if p.name == "port" && !validTTY(p.v) {
				bad(f+"."+p.name, "%q is not a tty name (ttyUSB3) or a path under /dev", p.v)
				continue
			}
			if other := ports[devName(p.v)]; other != "" {
				bad(f+"."+p.name, "%q is also %s: each modem has ports of its own", p.v, other)
			}
			ports[devName(p.v)] = "network.modem." + f + "." + p.name
		}
		if pin := v.PIN; pin != "" && (len(pin) < 4 || len(pin) > 8 || strings.Trim(pin, "0123456789") != "") {
			bad(f+".pin", "a PIN has 4 to 8 digits")
		}
	}
	return errors.Join(errs...)
}

// devName is a port as /dev names it, so ttyUSB0 and /dev/ttyUSB0 compare
// equal.
func devName(p string) string {
	if strings.Contains(p, "/") {
		return p
	}
	return "/dev/" + p
}

// SetVoiceModemPIN sets the PIN of the voice modem in slot (its SIM got a
// new one with the installer's PUK); the list is copied, so that other
// holders of the old one keep it. An error when no voice modem sits there.
func (m *Modem) SetVoiceModemPIN(slot, pin string) error {
	i := slices.IndexFunc(m.VoiceModems, func(v VoiceModem) bool { return v.Slot == slot })
	if i < 0 {
		return fmt.Errorf("network.modem.voice_modems: no voice modem in slot %q", slot)
	}
	m.VoiceModems = slices.Clone(m.VoiceModems)
	m.VoiceModems[i].PIN = pin
	return nil
}
