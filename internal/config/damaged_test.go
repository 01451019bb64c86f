package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDamagedConfigFallsBackToPrevious: a config file cut short or emptied
// (a disk that lost the write at a power cut, a hand edit cut short) is
// passed over for the previous version, with a note saying so, instead
// of the services refusing to start (netctl did: the LAN had no address
// and the box could not be reached to repair it). The next save does not
// make the damaged file the previous version.
func TestDamagedConfigFallsBackToPrevious(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	c := Default()
	c.Network.Modem.APN = "old-apn"
	if err := Save(path, c); err != nil {
		t.Fatal(err)
	}
	c.Network.Modem.APN = "new-apn"
	if err := Save(path, c); err != nil {
		t.Fatal(err)
	}
	whole, _ := os.ReadFile(path)
	for name, bad := range map[string][]byte{"empty": nil, "cut short": whole[:len(whole)/2], "zeros": make([]byte, 512)} {
		os.WriteFile(path, bad, 0o600)
		got, err := Load(path)
		if err != nil || got.Network.Modem.APN != "old-apn" {
			t.Errorf("%s: Load = %v, %v; want the previous version (old-apn)", name, got, err)
			continue
		}
		if _, note, _ := ReadFile(path); !strings.Contains(note, "damaged") || !strings.Contains(note, "previous settings") {
			t.Errorf("%s: the note %q does not say the file is damaged and the previous settings run", name, note)
		}
	}
	// Saving over the damaged file keeps the good previous version.
	c.Network.Modem.APN = "third-apn"
	if err := Save(path, c); err != nil {
		t.Fatal(err)
	}
	prev, err := Load(path + ".prev")
	if err != nil || prev.Network.Modem.APN != "old-apn" {
		t.Errorf("after a save over a damaged file, .prev = %v, %v; want old-apn", prev, err)
	}
	if got, _ := Load(path); got.Network.Modem.APN != "third-apn" {
		t.Errorf("the new save did not load: %v", got)
	}
	// A whole file that breaks a rule is not passed over: that is a
	// refusal to report, not damage.
	os.WriteFile(path, []byte(`{"version":1,"network":{"lan":[{"role":"lan1","address":"not-an-address"}]}}`), 0o600)
	if _, err := Load(path); err == nil {
		t.Error("a whole file breaking a rule loaded (the previous version taken in its place)")
	}
	// Both damaged: an error, no silent defaults.
	os.WriteFile(path, nil, 0o600)
	os.WriteFile(path+".prev", []byte("{"), 0o600)
	if _, err := Load(path); err == nil {
		t.Error("both versions damaged, Load gave no error")
	}
}
