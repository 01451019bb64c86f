package backup

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSealOpen(t *testing.T) {
	scryptN = 1 << 10 // the format's floor: fast enough for a test
	full := []byte(`{"system":{"hostname":"box1"},"vpn":{"passphrase":"s3cret"}}`)
	red := map[string]any{"system": map[string]any{"hostname": "box1"}, "vpn": map[string]any{"passphrase": "(redacted)"}}
	pass := "correct horse battery"

	if _, err := Seal(full, red, "short", "box1", "v1", time.Now()); err == nil {
		t.Fatal("a short passphrase was accepted")
	}
	b, err := Seal(full, red, pass, "box1", "v1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b.Config), "s3cret") {
		t.Fatalf("the readable part holds a secret: %s", b.Config)
	}
	// Through JSON, as the file goes to the admin and back.
	data, _ := json.Marshal(b)
	b = nil
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	got, err := Open(b, pass)
	if err != nil || string(got) != string(full) {
		t.Fatalf("Open = %q, %v; want the sealed config", got, err)
	}
	if _, err := Open(b, pass+"x"); err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if _, err := Open(b, ""); err == nil || !strings.Contains(err.Error(), "give its passphrase") {
		t.Fatalf("no passphrase: %v", err)
	}
	b.Hostname = "box2" // changed after it was made
	if _, err := Open(b, pass); err == nil {
		t.Fatal("a changed backup opened")
	}
}
