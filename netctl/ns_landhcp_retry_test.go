package netctl_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// TestNamespaceLANDHCPNotRunningShownAndRetried: the LAN DHCP server
// cannot start (another socket holds port 67 on the box). The LAN's
// status must say so, not only show the port's address as if all were
// well, and once the port is free the server must start without a LAN
// change or a restart. Before, the status had no word of the server and
// it was tried again only at the next LAN change: no device on the LAN
// got an address until then.
func TestNamespaceLANDHCPNotRunningShownAndRetried(t *testing.T) {
	t.Parallel()
	r := newRig(t, "lr")
	r.writeConfig(wanOnly())
	var blocker net.PacketConn
	if err := testenv.DoIn(r.box, func() (err error) { blocker, err = net.ListenPacket("udp4", "0.0.0.0:67"); return err }); err != nil {
		t.Fatal(err)
	}
	defer blocker.Close()
	r.startNetctl()
	r.waitFor("the LAN's status names its DHCP server not running", 20*time.Second, func() (bool, string) {
		st := r.status()
		return len(st.LAN) == 1 && st.LAN[0].DHCP == "not running" && strings.Contains(st.LAN[0].DHCPError, "address already in use"), fmt.Sprintf("%+v", st.LAN)
	})
	blocker.Close()
	r.waitFor("the LAN DHCP server started once port 67 was free", 40*time.Second, func() (bool, string) {
		st := r.status()
		return len(st.LAN) == 1 && st.LAN[0].DHCP == "serving" && st.LAN[0].DHCPError == "", fmt.Sprintf("%+v", st.LAN)
	})
	if got := r.udhcpc("02:00:00:00:00:b1"); !strings.Contains(got, "ip=192.168.50.") {
		t.Fatalf("a LAN client got %q", got)
	}
}
