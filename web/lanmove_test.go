package web

import (
	"strings"
	"testing"

	"edgebox/internal/config"
)

// TestSaveAnswerSaysWhereTheLANMoved: saving a new LAN address answers
// with where the box is now, the URL to open, what a laptop with a lease
// in the old network does, and how long the old address still answers.
// Before, the answer was {ok, reloaded:[netctl]} and named nothing.
func TestSaveAnswerSaysWhereTheLANMoved(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-test"})
	tok := e.bootstrap()
	var res ConfigResult
	e.want(nil, call{method: "POST", path: "/api/v1/config/set", bearer: tok,
		body: ConfigSet{Settings: map[string]any{"network.lan[0].address": "192.168.7.1/24"}}}, 200, &res)
	if len(res.LANMoved) != 1 {
		t.Fatalf("the answer names no LAN move: %+v", res)
	}
	m := res.LANMoved[0]
	if m.From != "192.168.1.1" || m.To != "192.168.7.1" || m.URL != "https://192.168.7.1/" || m.OldAddressMinutes != 10 {
		t.Errorf("LAN move %+v", m)
	}
	for _, want := range []string{"192.168.7.1", "https://192.168.7.1/", "plug it in again", "192.168.7.0/24", "192.168.1.1 for 10 minutes"} {
		if !strings.Contains(m.Message, want) {
			t.Errorf("the message lacks %q: %s", want, m.Message)
		}
	}
	// A save that leaves the LAN where it is says nothing of it.
	res = ConfigResult{}
	e.want(nil, call{method: "POST", path: "/api/v1/config/set", bearer: tok,
		body: ConfigSet{Settings: map[string]any{"network.modem.apn": "internet"}}}, 200, &res)
	if len(res.LANMoved) != 0 {
		t.Errorf("an APN save tells of a LAN move: %+v", res.LANMoved)
	}
}

func TestLANMoveInGermanAndWithinTheSubnet(t *testing.T) {
	old, err := toDoc(config.Default())
	if err != nil {
		t.Fatal(err)
	}
	c := config.Default()
	c.Network.LAN[0].Address = "192.168.7.1/24"
	if m := lanMoves("de", old, c); len(m) != 1 || !strings.Contains(m[0].Message, "Die Box ist jetzt unter 192.168.7.1") ||
		!strings.Contains(m[0].Message, "noch unter 192.168.1.1, 10 Minuten lang") {
		t.Errorf("German LAN move: %+v", m)
	}
	c.Network.LAN[0].Address = "192.168.1.254/24"
	if m := lanMoves("en", old, c); len(m) != 1 || !strings.Contains(m[0].Message, "keep their addresses") || strings.Contains(m[0].Message, "plug") {
		t.Errorf("a move within the subnet: %+v", m)
	}
}
