package netctl_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/vishvananda/netns"

	"edgebox/internal/testenv"
	"edgebox/netctl"
)

// udhcpc gets a lease on lanc in the LAN namespace with busybox's DHCP
// client (a client written by others than the server's library) and
// returns what its script saw: "ip=... router=... dns=... domain=...".
func (r *rig) udhcpc(mac string) string {
	r.t.Helper()
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		r.t.Fatalf("busybox is missing: run scripts/deps.sh (%v)", err)
	}
	dir := r.t.TempDir()
	out := filepath.Join(dir, "bound")
	script := filepath.Join(dir, "script")
	os.WriteFile(script, []byte(`#!/bin/sh
case "$1" in
bound|renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/$subnet" dev "$interface"
	echo "ip=$ip router=$router dns=$dns domain=$domain lease=$lease" > `+out+`
	;;
esac
`), 0o755)
	run(r.t, "ip", "-n", r.lan, "addr", "flush", "dev", "lanc")
	run(r.t, "ip", "-n", r.lan, "link", "set", "lanc", "address", mac)
	cmd := exec.Command("ip", "netns", "exec", r.lan, busybox, "udhcpc", "-f", "-q", "-n", "-i", "lanc", "-t", "10", "-T", "2", "-s", script)
	b, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("udhcpc got no lease: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		r.t.Fatalf("udhcpc bound no address: %v\n%s", err, b)
	}
	return strings.TrimSpace(string(got))
}

func (r *rig) leases() netctl.LANLeases {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := r.client.LANLeases(ctx)
	if err != nil {
		r.t.Fatalf("leases: %v", err)
	}
	return l
}

func field(s, key string) string {
	for _, f := range strings.Fields(s) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// TestNamespaceLANDHCP: a LAN client gets an address, the box as gateway
// and DNS, and the domain "lan" from the box's DHCP server; the lease is in
// the API and on /perm, survives a netctl restart (a second client is not
// given the same address), and garbage, a truncated packet, a request for
// another client's address and a forged release leave netctl running and
// the stored leases as they were.
func TestNamespaceLANDHCP(t *testing.T) {
	t.Parallel()
	r := newRig(t, "ld")
	r.writeConfig(staticConfig(boxWANAddr + "/24")) // DNS 10.1.0.53
	run(t, "ip", "-n", r.inet, "addr", "add", wanNet+".53/24", "dev", "wanp")
	dns := exec.Command("ip", "netns", "exec", r.inet, "/usr/sbin/dnsmasq", "--no-daemon", "--conf-file=/dev/null",
		"--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address="+wanNet+".53", "--port=53",
		"--address=/example.test/10.9.9.9", "--pid-file="+filepath.Join(r.dir, "dns.pid"))
	if err := dns.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dns.Process.Kill(); dns.Wait() })
	r.startNetctl()
	r.waitFor("LAN DHCP server", 20*time.Second, func() (bool, string) {
		l := r.leases()
		return len(l.Servers) == 1 && l.Servers[0].Running, fmt.Sprintf("%+v", l.Servers)
	})

	const mac1, mac2 = "02:00:00:00:00:a1", "02:00:00:00:00:a2"
	got := r.udhcpc(mac1)
	ip1 := field(got, "ip")
	if !strings.HasPrefix(ip1, "192.168.50.") || field(got, "router") != lanBoxAddr || field(got, "dns") != lanBoxAddr ||
		field(got, "domain") != netctl.LANDomain || field(got, "lease") != "43200" {
		t.Fatalf("udhcpc bound %q; want an address in 192.168.50.100-199, router and DNS %s, domain lan, 12 h", got, lanBoxAddr)
	}
	// The client can use its address: the box's web port answers it.
	serve(t, r.boxNS, "0.0.0.0:80")
	if seen, err := dialFrom(r.lanNS, lanBoxAddr+":80", 5*time.Second); err != nil || seen != ip1 {
		t.Errorf("box sees the DHCP client as %q (%v), want %s", seen, err, ip1)
	}
	// The box's name resolves at the DNS server DHCP gave; other names
	// are forwarded to the uplink's DNS server (dnsmasq on the WAN side).
	if got, err := lookupFrom(r.lanNS, lanBoxAddr, "edgebox.lan"); got != lanBoxAddr {
		t.Errorf("edgebox.lan from the LAN = %q (%v), want %s", got, err, lanBoxAddr)
	}
	if got, err := lookupFrom(r.lanNS, lanBoxAddr, "www.example.test"); got != "10.9.9.9" {
		t.Errorf("www.example.test through the box = %q (%v), want 10.9.9.9 from the uplink's DNS", got, err)
	}
	// Not an open resolver: a WAN neighbour routing to the LAN address
	// gets no answer.
	r.routeLANOverWAN()
	if got, err := lookupFrom(r.inetNS, lanBoxAddr, "www.example.test"); err == nil {
		t.Errorf("the box's DNS answered a WAN neighbour: %q", got)
	}
	l := r.leases()
	if len(l.Leases) != 1 || l.Leases[0].MAC != mac1 || l.Leases[0].Address != ip1 || l.Leases[0].Interface != "lan0" {
		t.Fatalf("API leases %+v, want %s at %s", l.Leases, mac1, ip1)
	}
	file := filepath.Join(r.dir, "edgebox", "dhcp", "lan-leases-lan0.json")
	stored, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(stored), ip1) {
		t.Fatalf("lease not stored in %s: %v\n%s", file, err, stored)
	}

	r.stopNetctl()
	r.startNetctl()
	r.waitFor("lease back after restart", 20*time.Second, func() (bool, string) {
		l := r.leases()
		return len(l.Leases) == 1 && l.Leases[0].Address == ip1 && l.Leases[0].MAC == mac1, fmt.Sprintf("%+v", l)
	})
	ip2 := field(r.udhcpc(mac2), "ip")
	if ip2 == ip1 || ip2 == "" {
		t.Fatalf("second client got %q; the first client's %s was given away after the restart", ip2, ip1)
	}
	before, _ := os.ReadFile(file)

	// Hostile packets to the server from the LAN.
	run(t, "ip", "-n", r.lan, "addr", "flush", "dev", "lanc")
	run(t, "ip", "-n", r.lan, "addr", "add", lanHostAddr+"/24", "dev", "lanc")
	steal, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithHwAddr(mustMAC(t, "02:00:00:00:00:bb")),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP(ip1))))
	forged, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRelease), dhcpv4.WithHwAddr(mustMAC(t, "02:00:00:00:00:bb")),
		dhcpv4.WithClientIP(net.ParseIP(ip2)), dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.ParseIP(lanBoxAddr))))
	full := steal.ToBytes()
	var answers []string
	if err := testenv.DoInHandle(r.lanNS, func() error {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(lanHostAddr), Port: dhcpv4.ClientPort})
		if err != nil {
			return err
		}
		defer c.Close()
		box := &net.UDPAddr{IP: net.ParseIP(lanBoxAddr), Port: dhcpv4.ServerPort}
		for _, p := range [][]byte{[]byte("not dhcp at all"), {}, full[:100], full[:240], full, forged.ToBytes(), make([]byte, 1400)} {
			if _, err := c.WriteToUDP(p, box); err != nil {
				return err
			}
		}
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 1500)
		for range 10 {
			n, _, err := c.ReadFromUDP(buf)
			if err != nil {
				break
			}
			if m, err := dhcpv4.FromBytes(buf[:n]); err == nil {
				answers = append(answers, m.MessageType().String())
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("answers to the hostile packets: %v", answers)
	for _, a := range answers {
		if a != dhcpv4.MessageTypeNak.String() {
			t.Errorf("hostile packets answered with %s, want NAK only", a)
		}
	}
	select {
	case <-r.procDone:
		t.Fatalf("netctl exited after malformed DHCP packets:\n%s", r.log.String())
	default:
	}
	l = r.leases()
	if len(l.Leases) != 2 {
		t.Errorf("leases after hostile packets: %+v, want the two clients'", l.Leases)
	}
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Errorf("stored leases changed by hostile packets:\nbefore %s\nafter %s", before, after)
	}
}

// lookupFrom resolves name (A) at server from namespace ns.
func lookupFrom(ns netns.NsHandle, server, name string) (string, error) {
	// The resolver dials from goroutines of its own: each socket is made
	// inside ns explicitly.
	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var c net.Conn
		err := testenv.DoInHandle(ns, func() error {
			var d net.Dialer
			var err error
			c, err = d.DialContext(ctx, "udp4", server+":53")
			return err
		})
		return c, err
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ips, err := res.LookupNetIP(ctx, "ip4", name)
	var got []string
	for _, ip := range ips {
		got = append(got, ip.String())
	}
	return strings.Join(got, ","), err
}

func mustMAC(t *testing.T, s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
