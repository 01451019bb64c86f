package gateway_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/config"
	"edgebox/internal/service"
)

// TestDamagedConfigStartsDisabled: config.json and config.json.prev both
// cut short (a power cut during two saves, a bad disk). The gateway used
// to refuse to start on it, and init restarted it for ever; now it runs
// on the defaults, off, says why in its status, and a config saved whole
// and reloaded clears that.
func TestDamagedConfigStartsDisabled(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.json")
	sock := filepath.Join(dir, "gateway.sock")
	for _, p := range []string{cfgPath, cfgPath + ".prev"} {
		if err := os.WriteFile(p, []byte(`{"version": 1, "gateway": {"enab`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	spec := gateway.ServiceSpec()
	spec.Args = []string{"-config", cfgPath, "-socket", sock}
	spec.LogOutput = &testLogWriter{t: t}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- service.Run(ctx, spec) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(25 * time.Second):
			t.Error("the gateway service did not stop")
		}
	})
	api := gateway.NewClientPath(sock)
	var st gateway.Status
	var err error
	for i := 0; i < 200; i++ {
		select {
		case err := <-done:
			done <- err // for the cleanup
			t.Fatalf("the gateway stopped on a damaged config (init restarts it for ever): %v", err)
		default:
		}
		if st, err = api.Status(ctx); err == nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if st.Enabled || !strings.Contains(st.Disabled, "config.json") || !strings.Contains(st.Disabled, "off") {
		t.Fatalf("status on a damaged config: %+v (want off, and why)", st)
	}
	t.Logf("disabled: %s", st.Disabled)

	// saved whole again: the reload applies it and the reason goes
	full := config.Default()
	if err := config.Save(cfgPath, full); err != nil {
		t.Fatal(err)
	}
	if err := api.Post(ctx, "/v1/reload", nil, nil); err != nil {
		t.Fatal(err)
	}
	if st, err = api.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if st.Disabled != "" {
		t.Fatalf("status after a good config was reloaded: %+v", st)
	}
}
