package netctl_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"edgebox/internal/testenv"
)

// TestSec5NamespaceUplinkIPv6AsTightAsIPv4: services listen on "::"
// (both stacks), and the WAN may carry IPv6 (its link-local address at
// least, or a provider's prefix). Over IPv6 the internet must reach no
// more than over IPv4: the uplink's open port, not the management port
// nor any other. The firewall is one inet table whose port rules match
// both families; this holds it so. Static neighbour entries stand in for
// neighbour discovery, which the table does not let in from an uplink,
// so that a refusal here is the rules', not a missing address
// resolution. Fifth review (checked sound).
func TestSec5NamespaceUplinkIPv6AsTightAsIPv4(t *testing.T) {
	t.Parallel()
	r := newRig(t, "v6")
	r.writeConfig(staticConfig(wanNet+".20/24", "5061"))
	listen6 := func(port string) {
		var l net.Listener
		if err := testenv.DoInHandle(r.boxNS, func() error {
			var err error
			l, err = net.Listen("tcp", "[::]:"+port) // both stacks, as the services
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				fmt.Fprintf(c, "%s\n", c.RemoteAddr().(*net.TCPAddr).IP)
				c.Close()
			}
		}()
	}
	for _, p := range []string{"80", "8081", "5061"} {
		listen6(p)
	}
	r.startNetctl()
	r.waitFor("netctl's table", 20*time.Second, func() (bool, string) {
		fw := r.status().Firewall
		return fw.Applied, fmt.Sprintf("%+v", fw)
	})
	r.waitFor("the open port over IPv4", 10*time.Second, func() (bool, string) {
		_, err := dialFrom(r.inetNS, wanNet+".20:5061", time.Second)
		return err == nil, fmt.Sprint(err)
	})

	// IPv6 on the WAN, added after netctl configured it.
	const box6, inet6 = "fd00:1::20", "fd00:1::1"
	run(t, "ip", "-n", r.box, "-6", "addr", "add", box6+"/64", "dev", "wan0", "nodad")
	run(t, "ip", "-n", r.inet, "-6", "addr", "add", inet6+"/64", "dev", "wanp", "nodad")
	inetH, err := netlink.NewHandleAt(r.inetNS)
	if err != nil {
		t.Fatal(err)
	}
	defer inetH.Close()
	boxLink, err := r.boxH.LinkByName("wan0")
	if err != nil {
		t.Fatal(err)
	}
	inetLink, err := inetH.LinkByName("wanp")
	if err != nil {
		t.Fatal(err)
	}
	run(t, "ip", "-n", r.inet, "-6", "neigh", "replace", box6, "lladdr", boxLink.Attrs().HardwareAddr.String(), "dev", "wanp", "nud", "permanent")
	run(t, "ip", "-n", r.box, "-6", "neigh", "replace", inet6, "lladdr", inetLink.Attrs().HardwareAddr.String(), "dev", "wan0", "nud", "permanent")

	dial6 := func(port string, timeout time.Duration) (string, error) {
		return dial6From(r.inetNS, "["+box6+"]:"+port, timeout)
	}
	r.waitFor("the open port over IPv6", 10*time.Second, func() (bool, string) {
		got, err := dial6("5061", time.Second)
		return err == nil && strings.HasPrefix(got, inet6), fmt.Sprint(got, err)
	})
	for _, p := range []string{"80", "8081"} {
		if got, err := dial6(p, 2*time.Second); err == nil {
			t.Errorf("the internet reached port %s over IPv6 on the WAN (%q), want dropped as over IPv4", p, got)
		}
		if got, err := dialFrom(r.inetNS, wanNet+".20:"+p, 2*time.Second); err == nil {
			t.Errorf("the internet reached port %s over IPv4 on the WAN (%q), want dropped", p, got)
		}
	}
}

// dial6From connects over IPv6 from ns and returns the server's first line.
func dial6From(ns netns.NsHandle, addr string, timeout time.Duration) (string, error) {
	var c net.Conn
	if err := testenv.DoInHandle(ns, func() error {
		var err error
		c, err = net.DialTimeout("tcp6", addr, timeout)
		return err
	}); err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	buf := make([]byte, 128)
	n, err := c.Read(buf)
	return strings.TrimSpace(string(buf[:n])), err
}
