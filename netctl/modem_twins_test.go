package netctl

import (
	"testing"

	"edgebox/internal/config"
	"edgebox/modem"
)

// TestDataModemNeverTakesTheVoiceSlotsCard: two cards of one USB id (two
// ME909u, 12d1:1573) with the board's USB map known; the voice modem is
// configured by slot only. The data modem, with no slot or a slot no card
// sits in, takes the other card: before, it took the first card found,
// the voice modem's, and both managers drove one AT port.
func TestDataModemNeverTakesTheVoiceSlotsCard(t *testing.T) {
	a := modem.Device{Port: "/dev/ttyUSB2", Profile: "huawei-me909u", VID: "12d1", PID: "1573", USBPath: "1-1.3"}
	b := modem.Device{Port: "/dev/ttyUSB5", Profile: "huawei-me909u", VID: "12d1", PID: "1573", USBPath: "1-1.4"}
	where := map[string]string{a.USBPath: "mpcie1", b.USBPath: "mpcie2"}
	mapped := realModems{slotOf: func(d modem.Device) string { return where[d.USBPath] }}
	voices := []config.VoiceModem{{Slot: "mpcie1"}}
	for _, slot := range []string{"", "mpcie3"} {
		got, err := mapped.pick([]modem.Device{a, b}, config.Modem{Enabled: true, Slot: slot, VoiceModems: voices})
		if err != nil || got.Port != b.Port {
			t.Errorf("data modem, slot %q: %+v %v, want %s (the voice modem has %s)", slot, got, err, b.Port, a.Port)
		}
	}
	// The voice modem still takes its own card.
	v := mapped.forSlot("mpcie1").(realModems)
	if got, err := v.pick([]modem.Device{a, b}, voices[0].AsModem()); err != nil || got.Port != a.Port {
		t.Errorf("voice modem: %+v %v, want %s", got, err, a.Port)
	}
	// With one card left (the voice modem's), the data modem has none.
	if _, err := mapped.pick([]modem.Device{a}, config.Modem{Enabled: true, VoiceModems: voices}); err == nil {
		t.Errorf("data modem took the voice modem's only card")
	}
}
