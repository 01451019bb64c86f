package main

import (
	"strings"
	"testing"
)

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

// edgectl config set tells what the box kept when it differs from what
// was typed, and never prints a PIN.
func TestPrintTidied(t *testing.T) {
	var b strings.Builder
	printTidied(&b, map[string]any{"gateway.pbx.address": "pbx.example.com:5060", "network.modem.pin": "1234"})
	want := "gateway.pbx.address: stored as \"pbx.example.com:5060\"\nnetwork.modem.pin: stored without spaces or dashes\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}
