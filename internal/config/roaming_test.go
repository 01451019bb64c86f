package config

import (
	"strings"
	"testing"
)

// network.modem.roaming takes allow, deny or nothing (allow); anything else
// is refused with the field named and the two values.
func TestModemRoamingValues(t *testing.T) {
	for _, v := range []string{"", RoamingAllow, RoamingDeny} {
		n := DefaultNetwork()
		n.Modem.Roaming = v
		if err := n.Validate(); err != nil {
			t.Errorf("roaming %q: %v", v, err)
		}
	}
	n := DefaultNetwork()
	n.Modem.Roaming = "no"
	if err := n.Validate(); err == nil || !strings.Contains(err.Error(), "modem.roaming") || !strings.Contains(err.Error(), "deny") {
		t.Errorf("roaming \"no\": %v", err)
	}
}
