package boards

import (
	"regexp"
	"strings"
	"testing"
)

// Every modem slot has a label installers can name in network.modem.slot,
// and a USB map that is either absent or complete and well-formed, with no
// two slots of a board at the same USB port.
func TestModemSlotUSBMap(t *testing.T) {
	pci := regexp.MustCompile(`^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$`)
	ports := regexp.MustCompile(`^[0-9]+(\.[0-9]+)*$`)
	for name, p := range Profiles {
		seen := map[string]string{}
		for _, s := range p.ModemSlots {
			if s.Label == "" {
				t.Errorf("%s slot %s has no label", name, s.Name)
			}
			if s.USBController != "" && s.USBPorts == "" {
				t.Errorf("%s slot %s: a controller without ports (%q)", name, s.Name, s.USBController)
			}
			if s.USBPorts == "" {
				continue
			}
			if s.USBController != "" && !pci.MatchString(s.USBController) || !ports.MatchString(s.USBPorts) {
				t.Errorf("%s slot %s: bad USB map %q %q", name, s.Name, s.USBController, s.USBPorts)
			}
			at := s.USBController + " " + s.USBPorts
			if other, dup := seen[at]; dup {
				t.Errorf("%s: slots %s and %s both at %s", name, other, s.Name, at)
			}
			seen[at] = s.Name
		}
	}
	// The apu2 family's two slots are mapped and labelled as config
	// values (mpcie1, mpcie2) spell them.
	for _, name := range []string{"apu2", "apu3", "apu4", "apu6"} {
		var labels []string
		for _, s := range Profiles[name].ModemSlots {
			if s.USBController == "" {
				t.Errorf("%s slot %s has no USB map", name, s.Name)
			}
			labels = append(labels, strings.ToLower(strings.ReplaceAll(s.Label, " ", "")))
		}
		if strings.Join(labels, ",") != "mpcie1,mpcie2" {
			t.Errorf("%s slot labels %v", name, labels)
		}
	}
}
