package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSaveLoadRoundTripKeepsPrevious(t *testing.T) {
	p := filepath.Join(t.TempDir(), "edgebox", "config.json")
	c := Default()
	c.System.Hostname = "box-one"
	if err := Save(p, c); err != nil {
		t.Fatal(err)
	}
	c.System.Hostname = "box-two"
	if err := Save(p, c); err != nil {
		t.Fatal(err)
	}
	got, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.System.Hostname != "box-two" {
		t.Fatalf("hostname %q", got.System.Hostname)
	}
	prev, err := Load(p + ".prev")
	if err != nil || prev.System.Hostname != "box-one" {
		t.Fatalf("previous: %v %+v", err, prev)
	}
}

func TestBadConfigRejectedAndStoredKept(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.json")
	good := Default()
	if err := Save(p, good); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(p)
	bad := Default()
	bad.System.Hostname = "no spaces allowed"
	err := Save(p, bad)
	if err == nil || !strings.Contains(err.Error(), "system.hostname") {
		t.Fatalf("err = %v", err)
	}
	after, _ := os.ReadFile(p)
	if string(before) != string(after) {
		t.Fatal("stored config changed by a rejected save")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{`, "not valid JSON"},
		{`{"version":1,"sytem":{}}`, "unknown field"},
		{`{"version":99}`, "newer firmware"},
		{`{"version":1,"system":{"syslog":"logs.example.net"}}`, "system.syslog"},
		{`{"version":1,"system":{"syslog":"logs.example.net:99999"}}`, "system.syslog"},
	} {
		_, err := Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%s) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestNewerSchemaNeverOverwritten(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(p, []byte(`{"version":99,"future":true}`), 0o600)
	if _, err := Load(p); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("load: %v", err)
	}
	if err := Save(p, Default()); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("save: %v", err)
	}
	b, _ := os.ReadFile(p)
	if !strings.Contains(string(b), "future") {
		t.Fatal("newer config overwritten")
	}
}

func TestMissingFileGivesDefaults(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), "none.json"))
	if err != nil || c.Version != SchemaVersion {
		t.Fatalf("%v %+v", err, c)
	}
}
