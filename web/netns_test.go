package web

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestOnlyLANAndVPNAnswered puts the web service in a namespace "box" with
// a LAN port (lan1) and an uplink (wan), a LAN client in one namespace and
// the internet in another. No firewall is loaded in "box": web alone must
// keep the internet out. The LAN client gets answers; the internet gets
// none, neither at the WAN address nor at the LAN address routed over the
// WAN link (Linux's weak host model accepts such packets: finding 2 of
// the security review).
func TestOnlyLANAndVPNAnswered(t *testing.T) {
	testenv.RequireRoot(t, "ip")
	id := fmt.Sprintf("%d", os.Getpid())
	box, lan, inet := "ebweb-box-"+id, "ebweb-lan-"+id, "ebweb-inet-"+id
	for _, ns := range []string{box, lan, inet} {
		testenv.NewNetns(t, ns)
	}
	ipCmd(t, "link", "add", "lan1", "netns", box, "type", "veth", "peer", "name", "eth0", "netns", lan)
	ipCmd(t, "link", "add", "wan", "netns", box, "type", "veth", "peer", "name", "eth0", "netns", inet)
	for _, c := range [][]string{
		{box, "addr", "add", "10.231.1.1/24", "dev", "lan1"},
		{box, "addr", "add", "10.231.2.1/24", "dev", "wan"},
		{lan, "addr", "add", "10.231.1.2/24", "dev", "eth0"},
		{inet, "addr", "add", "10.231.2.2/24", "dev", "eth0"},
		{box, "link", "set", "lan1", "up"}, {box, "link", "set", "wan", "up"}, {box, "link", "set", "lo", "up"},
		{lan, "link", "set", "eth0", "up"}, {inet, "link", "set", "eth0", "up"},
		// The WAN neighbour routes the box's LAN subnet over the WAN link.
		{inet, "route", "add", "10.231.1.0/24", "via", "10.231.2.1"},
	} {
		ipCmd(t, append([]string{"-n", c[0]}, c[1:]...)...)
	}

	// The policy reads the box namespace's interfaces, and the service's
	// sockets are made there.
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
	e := newTestEnv(t, false, Options{ListInterfaces: list, ListenDevice: listen, HTTPAddr: ":8080", HTTPSAddr: ":8443"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// The socket is made on the thread inside the namespace; net/http's
	// Transport would dial from another goroutine (another namespace).
	get := func(ns, addr string) (string, error) {
		var body string
		err := testenv.DoIn(ns, func() error {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			host, _, _ := net.SplitHostPort(addr)
			if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n"); err != nil {
				return err
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			body = resp.Status + " " + string(b)
			return err
		})
		return body, err
	}
	waitAnswer := func(ns, addr string) {
		t.Helper()
		testenv.WaitFor(t, 30*time.Second, ns+" -> "+addr+" answered", func() (bool, error) {
			body, err := get(ns, addr)
			if err != nil {
				return false, err
			}
			return strings.Contains(body, `"ok": true`), fmt.Errorf("answer %q", body)
		})
	}
	waitAnswer(lan, "10.231.1.1:8080")
	// The LAN port goes away and comes back (a new interface index, as
	// tun0 gets when the VPN reconnects): it is answered again.
	ipCmd(t, "-n", box, "link", "del", "lan1")
	ipCmd(t, "link", "add", "lan1", "netns", box, "type", "veth", "peer", "name", "eth0", "netns", lan)
	for _, c := range [][]string{
		{box, "addr", "add", "10.231.1.1/24", "dev", "lan1"}, {box, "link", "set", "lan1", "up"},
		{lan, "addr", "add", "10.231.1.2/24", "dev", "eth0"}, {lan, "link", "set", "eth0", "up"},
	} {
		ipCmd(t, append([]string{"-n", c[0]}, c[1:]...)...)
	}
	waitAnswer(lan, "10.231.1.1:8080")
	// The box itself reaches it over loopback.
	waitAnswer(box, "127.0.0.1:8080")
	for _, addr := range []string{"10.231.2.1:8080", "10.231.1.1:8080", "10.231.1.1:8443"} {
		if body, err := get(inet, addr); err == nil {
			t.Errorf("internet client got an answer at %s: %q", addr, body)
		}
	}
	// A socket not bound to an interface cannot tell where a connection
	// came in: everything but loopback is refused, and counted.
	var wild net.Listener
	if err := testenv.DoIn(box, func() error {
		var err error
		wild, err = net.Listen("tcp", "0.0.0.0:8090")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithCancel(context.Background())
	wdone := make(chan error, 1)
	go func() { wdone <- e.srv.Serve(wctx, wild, nil) }()
	t.Cleanup(func() { wcancel(); <-wdone })
	if body, err := get(lan, "10.231.1.1:8090"); err == nil {
		t.Errorf("unbound socket answered the LAN: %q", body)
	}
	if e.srv.refusedCount.Load() == 0 {
		t.Error("refused connection not counted")
	}
	waitAnswer(box, "127.0.0.1:8090")
	// Making "wan" a VPN-like allowed interface opens it: the decision is
	// the interface, not the address.
	e.srv.policy.SetPatterns([]string{"lan*", "wan"})
	waitAnswer(inet, "10.231.2.1:8080")
	waitAnswer(inet, "10.231.1.1:8080")
	// And closing it again shuts both.
	e.srv.policy.SetPatterns([]string{"lan*"})
	testenv.WaitFor(t, 30*time.Second, "wan shut after it was taken off the list", testenv.Cond(func() bool {
		_, err1 := get(inet, "10.231.2.1:8080")
		_, err2 := get(inet, "10.231.1.1:8080")
		return err1 != nil && err2 != nil
	}))
	waitAnswer(lan, "10.231.1.1:8080")
}
