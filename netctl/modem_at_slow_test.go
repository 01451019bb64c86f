package netctl

import (
	"testing"
	"time"
)

func TestATSlowest(t *testing.T) {
	for cmd, want := range map[string]time.Duration{
		"AT+CSQ":            0,
		"AT+COPS?":          0,
		"AT+COPS=?":         180 * time.Second,
		"at + cops = ?":     180 * time.Second,
		"AT+CSQ;+COPS=?":    180 * time.Second, // the engine saw only "AT+CSQ..."
		"AT+CFUN?;+CGATT=1": 140 * time.Second,
	} {
		if got := atSlowest(cmd); got != want {
			t.Errorf("atSlowest(%q) = %s, want %s", cmd, got, want)
		}
	}
}
