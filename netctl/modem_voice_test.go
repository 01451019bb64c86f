package netctl

import (
	"errors"
	"testing"

	"edgebox/internal/config"
	"edgebox/modem"
)

// With two cards detected, each manager opens its own: the voice modem
// only the card in its slot, the data modem the card in its slot and
// never one a voice modem names by port.
func TestRealModemsPickPerSlot(t *testing.T) {
	a := modem.Device{Port: "/dev/ttyUSB2", Profile: "quectel-ec25"}
	b := modem.Device{Port: "/dev/ttyUSB7", Profile: "huawei-me909s"}
	where := map[string]string{a.Port: "mpcie1", b.Port: "mpcie2"}
	mapped := realModems{slotOf: func(d modem.Device) string { return where[d.Port] }}
	unmapped := realModems{slotOf: func(modem.Device) string { return "" }}
	voice := mapped.forSlot("mpcie2").(realModems)
	dataCfg := config.Modem{Enabled: true, Slot: "mpcie1", VoiceModems: []config.VoiceModem{{Slot: "mpcie2"}}}
	for _, c := range []struct {
		name string
		r    realModems
		cfg  config.Modem
		want modem.Device
	}{
		{"voice modem: its slot", voice, config.VoiceModem{Slot: "mpcie2"}.AsModem(), b},
		{"data modem: its slot", mapped, dataCfg, a},
		{"data modem, no USB map: not the voice modem's port", unmapped,
			config.Modem{Enabled: true, Slot: "mpcie2", VoiceModems: []config.VoiceModem{{Slot: "mpcie1", Port: "ttyUSB2"}}}, b},
	} {
		got, err := c.r.pick([]modem.Device{a, b}, c.cfg)
		if err != nil || got.Port != c.want.Port {
			t.Errorf("%s: %+v %v, want %s", c.name, got, err, c.want.Port)
		}
	}
	// the voice modem takes no card outside its slot
	uv := unmapped.forSlot("mpcie2").(realModems)
	if _, err := uv.pick([]modem.Device{a, b}, config.VoiceModem{Slot: "mpcie2"}.AsModem()); !errors.Is(err, modem.ErrNoModem) {
		t.Errorf("voice modem without a USB map: %v, want no modem (its port must be set)", err)
	}
	// and its state and SMS stay apart from the data modem's
	r := realModems{smsDir: "/perm/sms", stateDir: "/perm/modem"}
	v := r.forSlot("mpcie2").(realModems)
	if v.smsDir != "/perm/sms/slot-mpcie2" || v.stateDir != "/perm/modem/slot-mpcie2" || !v.voice {
		t.Errorf("voice modem dirs %q %q", v.smsDir, v.stateDir)
	}
}

// A voice modem's messages name its own config entry, not the data
// modem's.
func TestVoiceModemConfigField(t *testing.T) {
	if got := (&modemManager{}).configField("pin"); got != "network.modem.pin" {
		t.Errorf("data modem: %q", got)
	}
	if got := (&modemManager{voiceSlot: "mpcie2"}).configField("pin"); got != "pin of network.modem.voice_modems (slot mpcie2)" {
		t.Errorf("voice modem: %q", got)
	}
}
