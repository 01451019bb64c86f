package config

import (
	"strings"
	"testing"
)

func TestVoiceModemsValidate(t *testing.T) {
	good := DefaultNetwork()
	good.Modem.Slot, good.Modem.Port, good.Modem.AudioPort = "mpcie1", "ttyUSB2", "ttyUSB4"
	good.Modem.VoiceModems = []VoiceModem{{Slot: "mpcie2", Port: "ttyUSB7", AudioPort: "ttyUSB9", PIN: "1234"}}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config refused: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(n *Network)
		want string
	}{
		{"no slot", func(n *Network) { n.Modem.VoiceModems[0].Slot = "" }, "voice_modems[0].slot: give the card's slot"},
		{"bad slot", func(n *Network) { n.Modem.VoiceModems[0].Slot = "2" }, `voice_modems[0].slot: "2" is not a slot`},
		{"data modem's slot", func(n *Network) { n.Modem.VoiceModems[0].Slot = "mpcie1" }, `slot "mpcie1" is already network.modem.slot's`},
		{"same AT port", func(n *Network) { n.Modem.VoiceModems[0].Port = "/dev/ttyUSB2" }, `voice_modems[0].port: "/dev/ttyUSB2" is also network.modem.port`},
		{"same audio port", func(n *Network) { n.Modem.VoiceModems[0].AudioPort = "ttyUSB4" }, `is also network.modem.audio_port`},
		{"bad port", func(n *Network) { n.Modem.VoiceModems[0].Port = "../etc" }, "is not a tty name"},
		{"bad PIN", func(n *Network) { n.Modem.VoiceModems[0].PIN = "12" }, "voice_modems[0].pin"},
		{"too many", func(n *Network) {
			n.Modem.VoiceModems = append(n.Modem.VoiceModems, VoiceModem{Slot: "mpcie1"})
		}, "need 3 slots"},
		{"data modem undecided", func(n *Network) { n.Modem.Slot, n.Modem.Port = "", "" }, "network.modem.slot: set the data modem's slot or port"},
	} {
		n := good
		n.Modem.VoiceModems = append([]VoiceModem(nil), good.Modem.VoiceModems...)
		c.edit(&n)
		err := n.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}
