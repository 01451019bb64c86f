package main

import "testing"

// The phrase as typed in a terminal or pasted from a mail counts; other
// words do not. Before, "erase all settings " was refused with the same
// message as "yes".
func TestResetConfirmed(t *testing.T) {
	for typed, want := range map[string]bool{
		"erase all settings": true, "Erase all settings ": true, " ERASE ALL SETTINGS\n": true,
		"": false, "yes": false, "erase settings": false, "erase all settings now": false,
	} {
		if got := resetConfirmed(typed); got != want {
			t.Errorf("resetConfirmed(%q) = %v, want %v", typed, got, want)
		}
	}
}
