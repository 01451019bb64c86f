package web

import (
	"fmt"
	"strings"
	"testing"
)

// netctl's words for a SIM blocked by its PUK are what the installer must
// act on (the wizard's modem check shows them as they come): on a German
// page they were English, and de.json still held the words netctl said
// before.
func TestModemPUKWordsInGerman(t *testing.T) {
	for _, en := range []string{
		// netctl's sayPUK, with and without the attempts the card tells
		fmt.Sprintf("the SIM is blocked after three wrong PINs (PUK required, %d PUK attempts left): put it in a phone, enter the PUK from the SIM's card and set a PIN, then put it back and set that PIN here", 7),
		"the SIM is blocked after three wrong PINs (PUK required): put it in a phone, enter the PUK from the SIM's card and set a PIN, then put it back and set that PIN here",
		"the SIM is blocked for good (no PUK attempts left): ask the operator for a new SIM, put it in and set its PIN here",
	} {
		de := trMessage("de", en)
		if de == en || strings.Contains(de, "put it") || strings.Contains(de, "ask the operator") {
			t.Errorf("English on a German page: %q", de)
		}
	}
}
