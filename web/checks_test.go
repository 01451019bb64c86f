package web

import (
	"strings"
	"testing"
)

// Changes are checked beyond config.Validate: the PBX may not be the box
// itself, and a time zone must be one (with suggestions); stored data is
// left as it was.
func TestChangeChecks(t *testing.T) {
	e := newTestEnv(t, false, Options{})
	tok := e.bootstrap()
	auth := map[string]string{"Authorization": "Bearer " + tok}
	set := func(body string) (int, string) {
		return e.raw("POST", "/api/v1/config/set", "application/json", []byte(body), auth)
	}
	if code, b := set(`{"settings":{"gateway.pbx.address":"127.0.0.1:5060"}}`); code != 400 || !strings.Contains(b, "this box itself") {
		t.Errorf("PBX at the box's own SIP port: %d %s", code, b)
	}
	if code, b := set(`{"settings":{"system.timezone":"Berlin"}}`); code != 400 || !strings.Contains(b, "did you mean Europe/Berlin") {
		t.Errorf("time zone Berlin: %d %s", code, b)
	}
	if code, b := set(`{"settings":{"system.timezone":"Mars/Olympus"}}`); code != 400 || !strings.Contains(b, "Region/City") {
		t.Errorf("time zone Mars/Olympus: %d %s", code, b)
	}
	cfg, _ := e.srv.loadConfig()
	if cfg.Gateway.PBX.Address != "" || cfg.System.Timezone != "" {
		t.Errorf("refused changes stored: %q %q", cfg.Gateway.PBX.Address, cfg.System.Timezone)
	}
	if code, b := set(`{"settings":{"system.timezone":"America/New_York","gateway.pbx.address":"pbx.example.net"}}`); code != 200 {
		t.Errorf("good values refused: %d %s", code, b)
	}
	if got := suggestZones("new york", 3); len(got) == 0 || got[0] != "America/New_York" {
		t.Errorf("suggestions for 'new york': %v", got)
	}
}
