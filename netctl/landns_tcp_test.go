package netctl

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"edgebox/internal/testenv"
)

// startBigAnswerDNS runs a real dnsmasq on addr:53 whose answer for
// big.example holds n A records: more than fits a UDP answer, so it is
// truncated and the client asks again over TCP.
func startBigAnswerDNS(t *testing.T, addr string, n int) {
	args := []string{"--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces",
		"--listen-address=" + addr, "--pid-file=" + filepath.Join(t.TempDir(), "pid"), "--log-facility=-", "--log-queries"}
	for i := 1; i <= n; i++ {
		args = append(args, fmt.Sprintf("--host-record=big.example,10.1.%d.%d", i/250, i%250+1))
	}
	p := testenv.Command(t, "/usr/sbin/dnsmasq", args...).Start()
	testenv.WaitFor(t, 5*time.Second, "dnsmasq on "+addr, func() (bool, error) {
		return p.Log.Contains("started"), nil
	})
}

// TestLANDNSOverTCP: a name whose answer does not fit UDP resolves
// through the box's forwarder: the LAN client (glibc's getent, Go's
// resolver) gets the truncated answer over UDP and asks again over TCP,
// which the forwarder takes to the upstream server (a real dnsmasq) over
// TCP. Before, the forwarder answered UDP only, and such a name did not
// resolve on the LAN at all.
func TestLANDNSOverTCP(t *testing.T) {
	testenv.RequireRoot(t, "/usr/sbin/dnsmasq", "/usr/bin/unshare", "/usr/bin/getent")
	box, up := netip.MustParseAddr("127.0.96.1"), netip.MustParseAddr("127.0.96.2")
	startBigAnswerDNS(t, up.String(), 100)
	d, err := startLANDNS(box, "edgebox", func(string) []netip.Addr { return []netip.Addr{up} }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)

	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, network, netip.AddrPortFrom(box, 53).String())
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got, err := res.LookupNetIP(ctx, "ip4", "big.example"); err != nil || len(got) != 100 {
		t.Errorf("Go's resolver: %d addresses, %v; want 100", len(got), err)
	}

	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver "+box.String()+"\noptions timeout:2 attempts:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := testenv.Command(t, "unshare", "-m", "sh", "-c",
		`mount --bind "$1" /etc/resolv.conf && getent ahostsv4 big.example`, "sh", resolv).Cmd.CombinedOutput()
	if n := strings.Count(string(out), "STREAM"); n != 100 {
		t.Errorf("glibc's getent: %d addresses, want 100:\n%s", n, out)
	}
	// The box's own names over TCP too.
	if got, err := res.LookupNetIP(ctx, "ip4", "edgebox.lan"); err != nil || len(got) != 1 || got[0] != box {
		t.Errorf("edgebox.lan: %v %v", got, err)
	}
}

// TestLANDNSTCPBounded: one LAN client holds at most
// maxDNSTCPConnsPerClient connections (more are closed at once) while
// another client is still answered; stopping the forwarder closes the
// connections left open and returns.
func TestLANDNSTCPBounded(t *testing.T) {
	testenv.RequireRoot(t) // binds port 53
	box := netip.MustParseAddr("127.0.97.1")
	d, err := startLANDNS(box, "edgebox", func(string) []netip.Addr { return nil }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			d.stop()
		}
	})
	dialFrom := func(src string) net.Conn {
		dl := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
		c, err := dl.Dial("tcp", netip.AddrPortFrom(box, 53).String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	ask := func(c net.Conn) error {
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, RecursionDesired: true})
		b.StartQuestions()
		b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("edgebox.lan."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
		q, _ := b.Finish()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		if err := writeDNSTCP(c, q); err != nil {
			return err
		}
		_, err := readDNSTCP(c)
		return err
	}
	var held []net.Conn
	for range maxDNSTCPConnsPerClient {
		c := dialFrom("127.0.0.7")
		if err := ask(c); err != nil { // answered, and kept open
			t.Fatalf("connection %d of the first client: %v", len(held)+1, err)
		}
		held = append(held, c)
	}
	if err := ask(dialFrom("127.0.0.7")); err == nil {
		t.Errorf("a client's connection %d was answered, want it closed", maxDNSTCPConnsPerClient+1)
	}
	if err := ask(dialFrom("127.0.0.8")); err != nil {
		t.Errorf("another client, while the first holds %d connections: %v", maxDNSTCPConnsPerClient, err)
	}
	d.stop()
	stopped = true
	held[0].SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := held[0].Read(make([]byte, 1)); err == nil || os.IsTimeout(err) {
		t.Errorf("after stop, a held connection reads %v, want it closed", err)
	}
}
