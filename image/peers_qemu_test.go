package image

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// TestQEMUPeersFailAndFailover is the field day's fourth round, on the real
// image with the field rig's real peers, for what the first three rounds
// left: peers that die under a box that says all is well, a VPN server
// given by name, and remote syslog across a failover.
//
//  1. The VPN profile names its server (remote vpn.fieldday.test): the box
//     resolves it with the DNS server the uplink's DHCP gave (dnsmasq as
//     the ISP's and the carrier's resolvers).
//  2. Kamailio (registrations in memory, 600 s granted) is restarted: the
//     box registers again within a keepalive, not at the refresh ten
//     minutes later. Then it is killed: the trunk's status says the PBX
//     stopped answering within a keepalive, not "registered"; started
//     again, the box registers at once.
//  3. The ISP's DHCP server comes back with another pool: the WAN's new
//     address carries the VPN, the admin's API and the trunk again.
//  4. Remote syslog over TCP to a collector on the VPN server's tunnel
//     address goes on when the WAN cable is pulled and everything moves to
//     LTE, and no line is lost (EDGEBOX_FIELDDAY_SYSLOG=udp shows UDP's gap).
//  5. The VPN server, which pushes no keepalive, is killed (SIGKILL): the
//     box stops saying "connected" and says the server does not answer.
func TestQEMUPeersFailAndFailover(t *testing.T) {
	parallelQEMU(t)
	img := builtImage(t)
	r := newFieldRig(t)
	fd := &fieldDay{t: t, r: r, disk: diskCopy(t, img, "")}
	fd.lan, fd.inet = testenv.HTTPClientIn(r.lan), testenv.HTTPClientIn(r.inet)
	const vpnName = "vpn.fieldday.test"
	dns := map[string]string{vpnName: fdInternet}
	isp := r.startDHCPWithDNS("dhcp-isp", r.inet, "wan0", fdWANNet, 100, dns)
	r.startDHCPWithDNS("dhcp-carrier", r.lte, "lte0", fdLTENet, 100, dns)
	r.staticLAN()
	kam := r.startPBXGranting(600)
	profile, vpnServer := r.startVPNWith(fdVPNOptions{remote: vpnName, noKeepalive: true})
	const collector = fdTunnelNet + ".1:5514" // the VPN server's end of the tunnel
	syslogTarget, syslogTransport := fdSyslog(collector)
	lines, heard := syslogCollector(t, r.inet, collector, syslogTransport)
	fd.sock = startTestModemsim(t, "huawei-me909s")
	fd.boot()
	t.Cleanup(func() {
		if !fd.vm.Exited() {
			fd.vm.Kill()
		}
	})

	if !fd.phase("bring-up over the API", func() error {
		if _, err := fd.waitHealthy(4 * time.Minute); err != nil {
			return err
		}
		if _, err := fd.api("POST", "/api/v1/setup", map[string]string{"password": fdAdminPass}, nil); err != nil {
			return err
		}
		if err := fd.newToken(); err != nil {
			return err
		}
		if _, err := fd.api("POST", "/api/v1/config/set", map[string]any{"settings": map[string]any{
			"network.modem.apn":                  "internet",
			"gateway.enabled":                    true,
			"gateway.pbx.address":                fmt.Sprintf("%s:%d", fdPBX, fdPBXPort),
			"gateway.trunk.username":             fdTrunkUser,
			"gateway.trunk.password":             fdTrunkPass,
			"gateway.trunk.register":             true,
			"gateway.trunk.register_expires_sec": 600,
			"system.syslog":                      syslogTarget,
		}}, nil); err != nil {
			return err
		}
		return fd.uploadProfile("company.ovpn", profile)
	}) {
		return
	}

	fd.phase("VPN server by name, resolved with the WAN's DHCP DNS", func() error {
		return testenv.UntilEvery(4*time.Minute, time.Second, "VPN connected over the WAN to "+vpnName, testenv.Why(func() (bool, string) { return fd.vpnUp("wan") }))
	})
	fd.phase("trunk registered, syslog heard", func() error {
		if err := testenv.UntilEvery(3*time.Minute, time.Second, "the trunk registered at Kamailio", testenv.Why(func() (bool, string) { return fd.trunkUp(fdWANNet+".", 1) })); err != nil {
			return err
		}
		l, err := nextLine(lines, 2*time.Minute)
		if err != nil {
			return fmt.Errorf("the collector at %s (over the VPN) hears nothing: %v", collector, err)
		}
		t.Logf("collector: %s", testenv.Tail(l, 200))
		return nil
	})

	fd.phase("PBX restarted at once", func() error {
		// It comes back before the box could miss it, without the
		// box's registration (kept in memory): the keepalive's OPTIONS to
		// the trunk's own address is answered 404.
		kam.Proc.Kill()
		kam = r.startPBXGranting(600)
		back := time.Now()
		if err := testenv.UntilEvery(2*time.Minute, time.Second, "the trunk registered at the restarted PBX (10 minutes before its refresh)", testenv.Why(func() (bool, string) { return fd.trunkUp(fdWANNet+".", 1) })); err != nil {
			return err
		}
		fd.timing("PBX restarted to the trunk registered again", time.Since(back))
		return nil
	})

	fd.phase("PBX killed and started again", func() error {
		kam.Proc.Kill()
		down := time.Now()
		if err := testenv.UntilEvery(2*time.Minute, time.Second, "the trunk's status says the PBX stopped answering", testenv.Why(func() (bool, string) {
			st, err := fd.gatewayStatus()
			return err == nil && strings.HasPrefix(st.Registration, "timeout: ") && strings.Contains(st.Registration, "stopped answering"), fmt.Sprintf("%v %q", err, st.Registration)
		})); err != nil {
			return err
		}
		fd.timing("PBX killed to the status saying so", time.Since(down))
		kam = r.startPBXGranting(600)
		back := time.Now()
		if err := testenv.UntilEvery(3*time.Minute, time.Second, "the trunk registered at the restarted PBX", testenv.Why(func() (bool, string) { return fd.trunkUp(fdWANNet+".", 1) })); err != nil {
			return err
		}
		fd.timing("PBX back to the trunk registered", time.Since(back))
		return nil
	})

	fd.phase("WAN lease renewed with a new address", func() error {
		st, err := fd.netStatus()
		if err != nil {
			return err
		}
		old, _, _ := strings.Cut(st.uplink("wan").Address, "/")
		// The ISP's DHCP server restarts with another pool and no leases:
		// the box's renewal is refused (or its lease runs out) and it
		// gets an address from the new pool.
		isp.Kill()
		os.Remove(filepath.Join(r.dir, "dhcp-isp.leases"))
		isp = r.startDHCPWithDNS("dhcp-isp", r.inet, "wan0", fdWANNet, 160, dns)
		start := time.Now()
		var now string
		if err := testenv.UntilEvery(5*time.Minute, time.Second, "the WAN takes an address from the new pool", testenv.Why(func() (bool, string) {
			st, err := fd.netStatus()
			u := st.uplink("wan")
			now, _, _ = strings.Cut(u.Address, "/")
			a, perr := netip.ParseAddr(now)
			return err == nil && perr == nil && now != old && a.As4()[3] >= 160 && st.Active == "wan", fmt.Sprintf("%v active %q wan %+v (was %s)", err, st.Active, u, old)
		})); err != nil {
			return err
		}
		fd.timing("new WAN pool to the new address", time.Since(start))
		t.Logf("WAN address %s -> %s", old, now)
		if err := testenv.UntilEvery(3*time.Minute, time.Second, "the VPN over the WAN's new address", testenv.Why(func() (bool, string) { return fd.vpnUp("wan") })); err != nil {
			return err
		}
		if err := testenv.UntilEvery(2*time.Minute, time.Second, "the admin reaches the API over the VPN", testenv.Why(func() (bool, string) {
			var sys map[string]any
			_, err := fd.call(fd.inet, "https://"+fd.tunnel, "GET", "/api/v1/system", nil, &sys)
			return err == nil, fmt.Sprint(err)
		})); err != nil {
			return err
		}
		if err := testenv.UntilEvery(3*time.Minute, time.Second, "the trunk registers from the new address", testenv.Why(func() (bool, string) { return fd.trunkUp(now+" ", 1) })); err != nil {
			return err
		}
		fd.checkContact(now + " ")
		fd.timing("new WAN pool to VPN and trunk on the new address", time.Since(start))
		return nil
	})

	fd.phase("syslog across the failover to LTE", func() error {
		mark := len(heard.String())
		if err := fd.cable(false); err != nil {
			return err
		}
		pulled := time.Now()
		if err := testenv.UntilEvery(3*time.Minute, time.Second, "the VPN follows to LTE (the name resolved with the carrier's DNS)", testenv.Why(func() (bool, string) { return fd.vpnUp("modem") })); err != nil {
			return err
		}
		// Forwarding goes on over the tunnel on LTE: the VPN's
		// "connected" line said after the WAN's carrier loss arrives. (A
		// "connected" of the phase before, arriving late, is not it.)
		heardAll := testenv.UntilEvery(2*time.Minute, time.Second, "the collector hears the failover: the WAN's carrier=false, then the VPN connected on LTE", testenv.Why(func() (bool, string) {
			got := heard.String()[mark:]
			i := strings.Index(got, "carrier=false")
			return i >= 0 && strings.Contains(got[i:], "state=CONNECTED"), fmt.Sprintf("collector since the cable was pulled (tail):\n%s", testenv.Tail(got, 1500))
		}))
		if heardAll == nil {
			fd.timing("cable pulled to the collector hearing the failover", time.Since(pulled))
		}
		// The lines that say why (the WAN's carrier lost, the VPN moving)
		// are sent while the old path is dead: over UDP into a tunnel
		// that goes nowhere (the kernel said "sent", they are lost); over
		// TCP the box keeps them until acknowledged and sends them again
		// once the VPN is back. The sequenceIds show any line lost.
		all := heard.String()
		got := all[mark:]
		if missing := seqGaps(all); len(missing) > 0 || heardAll != nil {
			fd.check("syslog-failover-gap", fmt.Errorf("the collector misses %d of the box's lines since the boot (sequenceIds %v); %v; what it got since the cable was pulled:\n%s",
				len(missing), missing, heardAll, testenv.Tail(got, 3000)))
		}
		return nil
	})

	fd.phase("VPN server without keepalive killed", func() error {
		vpnServer.Kill()
		dead := time.Now()
		if err := testenv.UntilEvery(4*time.Minute, 2*time.Second, "the VPN status says the server does not answer", testenv.Why(func() (bool, string) {
			st, err := fd.vpnStatus()
			return err == nil && !strings.EqualFold(st.State, "connected") && strings.Contains(st.LastError, "VPN server not answering"), fmt.Sprintf("%v %+v", err, st)
		})); err != nil {
			return err
		}
		fd.timing("VPN server killed to the status saying so", time.Since(dead))
		return nil
	})
	for _, tm := range fd.times {
		t.Logf("round 4: %s: %v", tm.name, tm.d.Round(100*time.Millisecond))
	}
}

// seqGaps lists the RFC 5424 sequenceIds missing between the first and
// the last line of a collector's output.
func seqGaps(out string) []int {
	var seen []int
	for _, l := range strings.Split(out, "\n") {
		var n int
		if _, rest, ok := strings.Cut(l, `sequenceId="`); ok {
			if _, err := fmt.Sscanf(rest, "%d", &n); err == nil {
				seen = append(seen, n)
			}
		}
	}
	if len(seen) < 2 {
		return nil
	}
	slices.Sort(seen)
	var missing []int
	for i := 1; i < len(seen); i++ {
		for n := seen[i-1] + 1; n < seen[i]; n++ {
			missing = append(missing, n)
		}
	}
	return missing
}

// startDHCPWithDNS is startDHCP with dnsmasq also the network's DNS
// server (handed out by DHCP), answering the given names; its leases are
// subnet.first to .first+40, for 2 minutes (renewed after one).
func (r *fieldRig) startDHCPWithDNS(name, ns, iface, subnet string, first int, hosts map[string]string) *testenv.Proc {
	args := []string{"/usr/sbin/dnsmasq", "--no-daemon", "--conf-file=/dev/null",
		"--no-resolv", "--no-hosts", "--bind-interfaces", "--interface=" + iface, "--except-interface=lo",
		fmt.Sprintf("--dhcp-range=%s.%d,%s.%d,255.255.255.0,2m", subnet, first, subnet, first+40),
		"--dhcp-option=option:router," + subnet + ".1",
		"--dhcp-option=option:dns-server," + subnet + ".1",
		"--dhcp-leasefile=" + r.dir + "/" + name + ".leases",
		"--pid-file=" + r.dir + "/" + name + ".pid",
		"--log-dhcp", "--log-queries", "--log-facility=-", "--dhcp-authoritative"}
	for host, addr := range hosts {
		args = append(args, "--address=/"+host+"/"+addr)
	}
	return r.start(name, ns, args...)
}

// startPBXGranting is startPBX with registrations granted for up to
// maxExpires seconds (so a refresh does not hide a lost registration).
func (r *fieldRig) startPBXGranting(maxExpires int) *testenv.KamailioServer {
	r.t.Helper()
	k := testenv.Kamailio(r.t, r.nets[r.pbx], testenv.KamailioOptions{
		Host: fdPBX, Port: fdPBXPort, Realm: "edgebox-fieldday", MaxExpires: maxExpires,
		Users:  map[string]string{fdTrunkUser: fdTrunkPass},
		Static: map[string]string{"agent": fmt.Sprintf("%s:%d", fdPBX, fdAgentPort)},
	})
	r.mu.Lock()
	r.logs["kamailio"] = k.Proc.Log
	r.mu.Unlock()
	return k
}

// udpCollector is a syslog collector in namespace ns on addr; its lines
// come on the channel (extra lines are dropped) and are all kept in the
// buffer.
func udpCollector(t *testing.T, ns, addr string) (chan string, *testenv.LogBuffer) {
	t.Helper()
	var pc net.PacketConn
	if err := testenv.DoIn(ns, func() (err error) { pc, err = net.ListenPacket("udp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	lines := make(chan string, 4096)
	all := &testenv.LogBuffer{}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			all.Write(append(buf[:n:n], '\n'))
			select {
			case lines <- string(buf[:n]):
			default:
			}
		}
	}()
	return lines, all
}

// uploadProfile sends a VPN profile from the laptop as the setup page does.
func (fd *fieldDay) uploadProfile(name, profile string) error {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("profile", name)
	io.WriteString(fw, profile)
	mw.Close()
	req, _ := http.NewRequest("POST", "https://"+fdBoxLAN+"/api/v1/vpn/profile", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+fd.token)
	resp, err := fd.lan.Do(req)
	if err != nil {
		return fmt.Errorf("profile upload: %v", err)
	}
	data := drain(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("profile upload: %s %s", resp.Status, data)
	}
	return nil
}
