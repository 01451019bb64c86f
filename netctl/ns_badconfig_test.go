package netctl_test

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// TestNamespaceUnreadableConfigStillGivesTheLANItsAddress: a config
// file and its previous version both damaged: netctl starts on the
// defaults, so the LAN port has the box's default address and the admin
// can reach the box to repair it. Before, netctl refused to start (init
// restarted it in a loop) and the LAN had no address at all.
func TestNamespaceUnreadableConfigStillGivesTheLANItsAddress(t *testing.T) {
	t.Parallel()
	r := newRig(t, "bc")
	os.WriteFile(r.cfgPath, []byte(`{"version":1,"network":{"lan":[{"role":"lan1","addr`), 0o600)
	os.WriteFile(r.cfgPath+".prev", nil, 0o600)
	r.startNetctl()
	r.waitFor("the default LAN address", 20*time.Second, func() (bool, string) {
		st := r.status()
		return len(st.LAN) == 1 && st.LAN[0].Address == "192.168.1.1/24", fmt.Sprintf("%+v", st.LAN)
	})
}
