package web

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// TestVPNReconnectAnsweredOnLinkEvent (issue 23): the VPN reconnects, so
// tun0 is deleted and made again with a new index and its address added
// after it exists (as openvpn does). The web listener must reopen on the
// kernel's link events, not on its next poll: the poll is set to an hour
// here, so only the events can make the new tun0 answer. The time from the
// new tun0 to the first answer is printed.
func TestVPNReconnectAnsweredOnLinkEvent(t *testing.T) {
	testenv.RequireRoot(t, "ip")
	id := fmt.Sprintf("%d", os.Getpid())
	box, vpn := "ebtun-box-"+id, "ebtun-vpn-"+id
	for _, ns := range []string{box, vpn} {
		testenv.NewNetns(t, ns) // loopback up
	}
	connect := func() {
		t.Helper()
		ipCmd(t, "link", "add", "tun0", "netns", box, "type", "veth", "peer", "name", "eth0", "netns", vpn)
		for _, c := range [][]string{
			{box, "link", "set", "tun0", "up"}, {box, "addr", "add", "10.232.1.1/24", "dev", "tun0"},
			{vpn, "addr", "add", "10.232.1.2/24", "dev", "eth0"}, {vpn, "link", "set", "eth0", "up"},
		} {
			ipCmd(t, append([]string{"-n", c[0]}, c[1:]...)...)
		}
	}
	connect()

	list := func() (map[string][]netip.Addr, error) {
		var m map[string][]netip.Addr
		err := testenv.DoIn(box, func() error {
			var err error
			m, err = SystemInterfaces()
			return err
		})
		return m, err
	}
	listen := func(network, addr, dev string) (net.Listener, error) {
		var l net.Listener
		err := testenv.DoIn(box, func() error {
			var err error
			l, err = ListenDevice(network, addr, dev)
			return err
		})
		return l, err
	}

	events := func() (io.ReadCloser, error) {
		var rc io.ReadCloser
		err := testenv.DoIn(box, func() error {
			var err error
			rc, err = LinkEvents()
			return err
		})
		return rc, err
	}
	d, err := startDeviceListener(&deviceListener{addr: ":8080", listen: listen,
		policy: NewAccessPolicy([]string{"tun*"}, list), events: events, poll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	go func() {
		for {
			c, err := d.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "hi\n")
			c.Close()
		}
	}()

	// answered waits (bounded) until the admin's side gets an answer.
	answered := func(what string) time.Duration {
		t.Helper()
		start := time.Now()
		// polled every 20 ms at most: the time to the answer is printed
		err := testenv.UntilEvery(20*time.Second, 20*time.Millisecond, what+": the VPN side answered", func() (bool, error) {
			err := testenv.DoIn(vpn, func() error {
				c, err := net.DialTimeout("tcp", "10.232.1.1:8080", 2*time.Second)
				if err != nil {
					return err
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(2 * time.Second))
				b, err := io.ReadAll(c)
				if err == nil && !strings.HasPrefix(string(b), "hi") {
					err = fmt.Errorf("got %q", b)
				}
				return err
			})
			return err == nil, err
		})
		if err != nil {
			t.Fatalf("%v (the poll is an hour: link events were not followed)", err)
		}
		return time.Since(start)
	}
	answered("first connect")
	for i := range 3 {
		ipCmd(t, "-n", box, "link", "del", "tun0")
		connect()
		t.Logf("reconnect %d answered after %v", i+1, answered(fmt.Sprintf("reconnect %d", i+1)))
	}
}
