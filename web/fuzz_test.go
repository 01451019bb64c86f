package web

import (
	"errors"
	"strings"
	"testing"

	"edgebox/internal/config"
)

func FuzzConfigPath(f *testing.F) {
	for _, s := range []string{"network.modem.apn", "network.lan[0].address", "a[1][2].b", "", "..", "x[", "gateway.portal.api_keys[3]", "network.lan[999]"} {
		f.Add(s, "v")
	}
	f.Fuzz(func(t *testing.T, p, v string) {
		doc, err := toDoc(config.Default())
		if err != nil {
			t.Fatal(err)
		}
		if err := setPath(doc, p, v); err != nil {
			return
		}
		got, err := getPath(doc, p)
		if err != nil {
			t.Fatalf("set %q worked but get failed: %v", p, err)
		}
		if got != v {
			t.Fatalf("get %q = %v after setting %q", p, got, v)
		}
		// Whatever was set, parsing never panics and an unknown name is an error.
		fromDoc(doc)
	})
}

func FuzzDecodeBackup(f *testing.F) {
	f.Add([]byte(`{"edgebox_backup":"1","config":{"version":1}}`))
	f.Add([]byte(`{"version":1,"system":{"hostname":"box"}}`))
	f.Add([]byte(`{"edgebox_backup":"2"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, _, err := decodeConfigOrBackup(b, "fuzz passphrase")
		if err == nil && doc == nil {
			t.Fatal("no error and no document")
		}
		if err == nil {
			if c, err := fromDoc(doc); err == nil && c.Validate() != nil {
				t.Fatal("fromDoc accepted an invalid config")
			}
		}
	})
}

func FuzzFieldErrors(f *testing.F) {
	f.Add("network.modem.pin: must be 4 to 8 digits\nsystem.hostname: bad")
	f.Add("config not saved: version: 9 is not known")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		for _, fe := range fieldErrors(errors.New(s)) {
			if strings.ContainsAny(fe.Field, " /") {
				t.Fatalf("field %q", fe.Field)
			}
		}
	})
}

func TestConfigPathEdits(t *testing.T) {
	doc, _ := toDoc(config.Default())
	if err := setPath(doc, "network.lan[0].address", "10.1.1.1/24"); err != nil {
		t.Fatal(err)
	}
	if err := setPath(doc, "network.lan[5].address", "x"); err == nil {
		t.Fatal("set past the end of a list")
	}
	if err := setPath(doc, "system.nosuch", "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := fromDoc(doc); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Fatalf("unknown field not refused: %v", err)
	}
	secret := map[string]any{"trunk": map[string]any{"password": "p", "username": "u"}, "pin": "1234"}
	redact(secret)
	if secret["pin"] != Redacted || secret["trunk"].(map[string]any)["password"] != Redacted || secret["trunk"].(map[string]any)["username"] != "u" {
		t.Fatalf("redact: %v", secret)
	}
	unredact(secret, map[string]any{"trunk": map[string]any{"password": "p"}, "pin": "1234"})
	if secret["pin"] != "1234" || secret["trunk"].(map[string]any)["password"] != "p" {
		t.Fatalf("unredact: %v", secret)
	}
}

func TestUplinkWhy(t *testing.T) {
	ups := []uplinkView{{Name: "wan", State: "failed", Error: "no DHCP answer"}, {Name: "modem", State: "healthy"}}
	if got := uplinkWhy("en", "modem", ups); got != "Using modem because wan is failed (no DHCP answer)." {
		t.Fatal(got)
	}
	if got := uplinkWhy("en", "wan", ups); !strings.Contains(got, "preferred") {
		t.Fatal(got)
	}
	if got := uplinkWhy("en", "", ups); !strings.Contains(got, "No uplink works") {
		t.Fatal(got)
	}
}
