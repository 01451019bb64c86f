package web

import (
	"fmt"
	"strings"
	"testing"

	"edgebox/modem"
)

// netctl's words for a SIM blocked by its PUK are what the installer must
// act on (the wizard's modem check shows them as they come): on a German
// page they were English, and de.json still held the words netctl said
// before.
func TestModemPUKWordsInGerman(t *testing.T) {
	for _, en := range []string{
		// netctl's sayPUK, with and without the attempts the card tells
		fmt.Sprintf("the SIM is blocked after three wrong PINs (PUK required, %d PUK attempts left): enter the PUK from the SIM's card holder and a new PIN on the setup page (Mobile)", 7),
		"the SIM is blocked after three wrong PINs (PUK required): enter the PUK from the SIM's card holder and a new PIN on the setup page (Mobile)",
		"the SIM is blocked for good (no PUK attempts left): ask the operator for a new SIM, put it in and set its PIN here",
	} {
		de := trMessage("de", en)
		if de == en || strings.Contains(de, "enter the") || strings.Contains(de, "ask the operator") {
			t.Errorf("English on a German page: %q", de)
		}
	}
}

// The reject cause netctl shows for a denied registration
// ("registration denied by the network: <cause's words> (reject cause N)")
// reads in German, the cause's words and number included.
func TestModemRejectCauseWordsInGerman(t *testing.T) {
	for c := range 40 {
		en := "registration denied by the network: " + modem.RejectCauseWords(c)
		de := trMessage("de", en)
		if de == en || strings.Contains(de, "ask the") || strings.Contains(de, "denied") || !strings.Contains(de, fmt.Sprint(c)) {
			t.Errorf("cause %d on a German page: %q", c, de)
		}
	}
	// a value the catalog does not know stays as it is
	if got := trMessage("de", "registration denied by the network: Zelle 4711 meldet xyz"); got != "die Anmeldung wurde vom Netz abgelehnt: Zelle 4711 meldet xyz" {
		t.Errorf("an unknown value: %q", got)
	}
}

// netctl's words for a roaming card with roaming denied read in German.
func TestModemRoamingDeniedWordsInGerman(t *testing.T) {
	en := "the modem is roaming (registered on a foreign network) and roaming is denied (network.modem.roaming: deny): the box does not dial, to avoid roaming charges; set roaming to allow if this SIM may roam"
	if de := trMessage("de", en); de == en || strings.Contains(de, "the box") {
		t.Errorf("English on a German page: %q", de)
	}
}
