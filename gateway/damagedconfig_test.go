package gateway_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edgebox/internal/config"
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
	// before, the service stopped here: runGatewayService fails the test
	ctx, api := runGatewayService(t, cfgPath, sock)
	st, err := api.Status(ctx)
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
