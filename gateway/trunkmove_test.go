package gateway_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"edgebox/internal/config"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// TestTrunkContactFollowsUplink: the box (SIP on the wildcard address)
// registers to Kamailio over its WAN; the WAN cable is pulled and the
// default route moves to LTE, as netctl's failover does. The next REGISTER
// carries Contact and Via on the LTE address and drops the WAN binding, and
// an INVITE from the PBX to the trunk reaches the box at its new address
// (the box declines it with 603: it only places calls). The registrar
// grants 600 s, so only noticing the move re-registers within the test.
func TestTrunkContactFollowsUplink(t *testing.T) {
	rig := newNetnsRig(t, "tmove")
	box, pbx := rig.ns("box"), rig.ns("pbx")
	rig.link(box, "wan0", "10.79.1.2/24", pbx, "wan", "10.79.1.1/24")
	rig.link(box, "lte0", "10.79.2.2/24", pbx, "lte", "10.79.2.1/24")
	rig.ip("-n", pbx, "addr", "add", "10.79.9.1/32", "dev", "lo")
	rig.ip("-n", box, "route", "add", "default", "via", "10.79.1.1")

	kam := startKamailioAt(t, pbx, "10.79.9.1", 600)
	cfg := testConfig(t, kam.addr())
	cfg.SIP.Listen = []config.GatewaySIPListen{{Transport: "udp", Address: "0.0.0.0:5060"}}
	cfg.Media.RTPAddress = ""
	cfg.Trunk.Username, cfg.Trunk.Password = "trunkuser", "trunk-secret"
	cfg.Trunk.Register = true
	cfg.Trunk.RegisterExpiresSec = 600
	api := startGatewayIn(t, box, cfg)

	registeredAt := func(addr string) func() bool {
		return func() bool {
			for _, l := range kam.log() {
				if strings.Contains(l, "TEST-REGISTERED trunkuser") && strings.Contains(l, "ct=<sip:trunkuser@"+addr+":5060>") {
					if !strings.Contains(l, "via=SIP/2.0/UDP "+addr+":5060") {
						t.Fatalf("REGISTER with Contact on %s but another Via: %s", addr, l)
					}
					return true
				}
			}
			return false
		}
	}
	waitFor(t, 30*time.Second, "the trunk registered on the WAN address", registeredAt("10.79.1.2"))
	waitFor(t, 30*time.Second, "the gateway reporting the trunk registered", func() bool {
		st, err := api.Status(context.Background())
		return err == nil && st.Registration == "registered"
	})
	if res := inviteTrunk(t, pbx, kam.addr()); res != 603 {
		t.Fatalf("INVITE from the PBX on the WAN: %d, want the box's 603", res)
	}

	// the cable is pulled: the WAN peer goes away, the route moves to LTE
	rig.ip("-n", pbx, "link", "set", "wan", "down")
	rig.ip("-n", box, "route", "replace", "default", "via", "10.79.2.1")
	moved := len(kam.log())
	waitFor(t, 60*time.Second, "a REGISTER with Contact and Via on the LTE address", registeredAt("10.79.2.2"))

	if res := inviteTrunk(t, pbx, kam.addr()); res != 603 {
		t.Errorf("INVITE from the PBX after the move: %d, want the box's 603 through the LTE address", res)
	}
	for _, l := range kam.log()[moved:] {
		if strings.Contains(l, "TEST-BRANCH") && strings.Contains(l, "10.79.1.2") {
			t.Errorf("the PBX still has the WAN binding: %s", l)
		}
	}
	if n := kam.count("TEST-BRANCH sip:trunkuser@10.79.2.2:5060"); n != 1 {
		t.Errorf("%d INVITE branches to the LTE contact, want 1", n)
	}
}

// inviteTrunk sends an INVITE for the trunk's AoR from inside the PBX's
// namespace (as agent, who may call) and returns the final status.
func inviteTrunk(t *testing.T, ns, registrar string) int {
	t.Helper()
	host, _, _ := net.SplitHostPort(registrar)
	var pc net.PacketConn
	if err := inNetns(ns, func() (err error) { pc, err = net.ListenPacket("udp4", host+":0"); return err }); err != nil {
		t.Fatal(err)
	}
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeUDP(pc) // the socket made in the namespace joins sipgo's pool
	waitFor(t, 10*time.Second, "the test's SIP socket in the pool", func() bool {
		_, err := ua.TransportLayer().GetConnection("udp", pc.LocalAddr().String())
		return err == nil
	})
	port := pc.LocalAddr().(*net.UDPAddr).Port
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname(host), sipgo.WithClientPort(port),
		sipgo.WithClientConnectionAddr(pc.LocalAddr().String()))
	if err != nil {
		t.Fatal(err)
	}
	to := sip.Uri{Scheme: "sip", User: "trunkuser", Host: host}
	req := sip.NewRequest(sip.INVITE, to)
	req.SetDestination(registrar)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "agent", Host: host}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: to})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "agent", Host: host, Port: port}})
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	res, err := cli.Do(ctx, req)
	if err != nil {
		t.Fatalf("INVITE to the trunk: %v", err)
	}
	if res.StatusCode == 407 {
		if res, err = cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "agent", Password: "agent-secret"}); err != nil {
			t.Fatalf("INVITE to the trunk: %v", err)
		}
	}
	return res.StatusCode
}
