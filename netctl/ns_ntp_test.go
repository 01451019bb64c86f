package netctl_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// TestNamespaceNTPFromDHCP: with no system.ntp, netctl asks the time
// server the WAN's DHCP server names (option 42): Debian's chronyd -x in
// the rig's internet namespace. chronyd serves this machine's own clock,
// so netctl finds it in step and sets nothing; the test wants the sync
// reported. Before, option 42 was neither asked for nor used, and a box
// whose installer set no NTP server kept whatever its RTC said.
func TestNamespaceNTPFromDHCP(t *testing.T) {
	t.Parallel()
	testenv.RequireRoot(t, "/usr/sbin/chronyd")
	r := newRig(t, "nt")
	conf := filepath.Join(r.dir, "chrony.conf")
	os.WriteFile(conf, []byte(strings.Join([]string{"local stratum 8", "allow " + wanNet + ".0/24", "bindaddress " + internetIP,
		"cmdport 0", "pidfile " + filepath.Join(r.dir, "chronyd.pid"), "driftfile " + filepath.Join(r.dir, "chrony.drift")}, "\n")+"\n"), 0o644)
	chrony := testenv.Command(t, "ip", "netns", "exec", r.inet, "/usr/sbin/chronyd", "-d", "-x", "-u", "root", "-f", conf).Start()
	r.startDNSMasq("wanp", wanNet, "--dhcp-option=option:ntp-server,"+internetIP)
	r.writeConfig(wanOnly())
	r.startNetctl()
	r.waitFor("a sync with the WAN's NTP server", 60*time.Second, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := r.client.Time(ctx)
		return err == nil && st.Synced && st.Server == internetIP && !st.Stepped,
			fmt.Sprintf("%v %+v; chronyd: %s", err, st, testenv.Tail(chrony.Log.String(), 300))
	})
}
