package bootslot

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/internal/update"
)

// permWithSettings makes a /perm with a setting, a secret and the update
// history, the way a box has them.
func permWithSettings(t *testing.T) (perm string) {
	perm = t.TempDir()
	t.Setenv("EDGEBOX_PERM_DIR", perm)
	data := filepath.Join(perm, "edgebox")
	for _, d := range []string{"secrets", "update"} {
		if err := os.MkdirAll(filepath.Join(data, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(data, "config.json"), []byte(`{"system":{}}`), 0o600)
	os.WriteFile(filepath.Join(data, "secrets", "key"), []byte("secret"), 0o600)
	os.WriteFile(filepath.Join(data, "update", "keep"), []byte("history"), 0o600)
	return perm
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// edgebox.factory_reset=erase-TOKEN erases the settings once per token and
// keeps the update history; a value not starting with "erase" erases nothing.
func TestFactoryResetAtBootOncePerToken(t *testing.T) {
	perm := permWithSettings(t)
	data := filepath.Join(perm, "edgebox")
	log := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	FactoryResetAtBoot("console=ttyS0 edgebox.factory_reset=yes", log)
	if !exists(filepath.Join(data, "config.json")) {
		t.Fatal("a value not starting with erase erased the settings")
	}
	FactoryResetAtBoot("console=ttyS0 edgebox.factory_reset=erase-1", log)
	if exists(filepath.Join(data, "config.json")) || exists(filepath.Join(data, "secrets")) {
		t.Fatal("settings or secrets left after the reset")
	}
	if !exists(filepath.Join(data, "update", "keep")) {
		t.Fatal("the update history was erased")
	}
	// Same token on the next boot: what was set since is kept.
	os.WriteFile(filepath.Join(data, "config.json"), []byte(`{}`), 0o600)
	FactoryResetAtBoot("edgebox.factory_reset=erase-1", log)
	if !exists(filepath.Join(data, "config.json")) {
		t.Fatal("the same token erased the settings a second time")
	}
	FactoryResetAtBoot("edgebox.factory_reset=erase-2", log)
	if exists(filepath.Join(data, "config.json")) {
		t.Fatal("a new token did not erase")
	}
}

// Without a boot disk the update API says why instead of installing, and
// the factory reset over the API needs the exact phrase, then erases and
// asks for a reboot.
func TestUpdateAndFactoryResetAPI(t *testing.T) {
	perm := permWithSettings(t)
	data := filepath.Join(perm, "edgebox")
	power := make(chan string, 1)
	s := Start(t.Context(), Config{Log: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), Power: power,
		Version: "v1", Cmdline: "edgebox.slot=A", DiskErr: errors.New("no disk whose first partition is labelled EDGE_A")})
	mux := http.NewServeMux()
	s.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	resp, err := http.Post(srv.URL+"/v1/update", "application/octet-stream", strings.NewReader("not a bundle"))
	if err != nil {
		t.Fatal(err)
	}
	body := new(bytes.Buffer)
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body.String(), "EDGE_A") {
		t.Fatalf("install without a disk: %d %s", resp.StatusCode, body)
	}
	resp, err = http.Get(srv.URL + "/v1/update")
	if err != nil {
		t.Fatal(err)
	}
	var st update.Status
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st.Version != "v1" || st.Boot.Slot != "A" {
		t.Fatalf("status %+v", st)
	}

	post := func(confirm string) int {
		b, _ := json.Marshal(update.FactoryReset{Confirm: confirm})
		resp, err := http.Post(srv.URL+"/v1/factory-reset", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("yes"); code != http.StatusBadRequest || !exists(filepath.Join(data, "config.json")) {
		t.Fatalf("wrong phrase: %d, settings kept %v", code, exists(filepath.Join(data, "config.json")))
	}
	if code := post(update.FactoryResetPhrase); code != http.StatusAccepted {
		t.Fatalf("reset: %d", code)
	}
	if exists(filepath.Join(data, "config.json")) || exists(filepath.Join(data, "secrets")) {
		t.Fatal("settings or secrets left after the reset")
	}
	select {
	case a := <-power:
		if a != "reboot" {
			t.Fatalf("power %q", a)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no reboot asked after the factory reset")
	}
}
