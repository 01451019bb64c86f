package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/config"
	"edgebox/internal/testenv"

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
	rig, box, pbx := newUplinkRig(t, "tmove")

	kam := startKamailioAt(t, rig.netns(pbx), "10.79.9.1", 600)
	cfg := testConfig(t, kam.Addr())
	cfg.SIP.Listen = []config.GatewaySIPListen{{Transport: "udp", Address: "0.0.0.0:5060"}}
	cfg.Media.RTPAddress = ""
	cfg.Trunk.Username, cfg.Trunk.Password = "trunkuser", "trunk-secret"
	cfg.Trunk.Register = true
	cfg.Trunk.RegisterExpiresSec = 600
	api := startGatewayIn(t, box, cfg)

	registeredAt := func(addr string) func() bool {
		return func() bool {
			for _, l := range kam.Lines() {
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
	if res := inviteTrunk(t, pbx, kam.Addr()); res != 603 {
		t.Fatalf("INVITE from the PBX on the WAN: %d, want the box's 603", res)
	}

	// the cable is pulled: the WAN peer goes away, the route moves to LTE
	rig.ip("-n", pbx, "link", "set", "wan", "down")
	rig.ip("-n", box, "route", "replace", "default", "via", "10.79.2.1")
	moved := len(kam.Lines())
	waitFor(t, 60*time.Second, "a REGISTER with Contact and Via on the LTE address", registeredAt("10.79.2.2"))

	if res := inviteTrunk(t, pbx, kam.Addr()); res != 603 {
		t.Errorf("INVITE from the PBX after the move: %d, want the box's 603 through the LTE address", res)
	}
	for _, l := range kam.Lines()[moved:] {
		if strings.Contains(l, "TEST-BRANCH") && strings.Contains(l, "10.79.1.2") {
			t.Errorf("the PBX still has the WAN binding: %s", l)
		}
	}
	if n := kam.Count("TEST-BRANCH sip:trunkuser@10.79.2.2:5060"); n != 1 {
		t.Errorf("%d INVITE branches to the LTE contact, want 1", n)
	}
}

// newUplinkRig is a box with two uplinks, WAN (10.79.1.2, the default
// route) and LTE (10.79.2.2), both to a PBX namespace whose SIP address is
// 10.79.9.1.
func newUplinkRig(t *testing.T, tag string) (rig *netnsRig, box, pbx string) {
	rig = newNetnsRig(t, tag)
	box, pbx = rig.ns("box"), rig.ns("pbx")
	rig.link(box, "wan0", "10.79.1.2/24", pbx, "wan", "10.79.1.1/24")
	rig.link(box, "lte0", "10.79.2.2/24", pbx, "lte", "10.79.2.1/24")
	rig.ip("-n", pbx, "addr", "add", "10.79.9.1/32", "dev", "lo")
	rig.ip("-n", box, "route", "add", "default", "via", "10.79.1.1")
	return rig, box, pbx
}

// TestCallAfterUplinkMove: the WAN cable is pulled after the gateway
// started; a call placed then carries its Contact on the LTE address, so
// the agent's BYE (through Kamailio, record-routed) reaches the box and
// ends the call. The gateway and the browser run in a helper process
// inside the box's namespace; Kamailio and the SIPp agent in the PBX's.
func TestCallAfterUplinkMove(t *testing.T) {
	t.Parallel()
	rig, box, pbx := newUplinkRig(t, "cmove")
	kam := startKamailioAt(t, rig.netns(pbx), "10.79.9.1", 600)
	agent := startSIPpAt(t, pbx, "10.79.9.1", "uas_bye_rr", 1)
	cmd := exec.Command("ip", "netns", "exec", box, os.Args[0], "-test.run", "^TestHelperCallAfterMove$", "-test.v")
	cmd.Env = append(os.Environ(), "EDGEBOX_MOVE_PBX="+kam.Addr(), "EDGEBOX_MOVE_AGENT=sip:agent@"+agent.addr(), "EDGEBOX_MOVE_PBXNS="+pbx)
	out, err := runBounded(cmd, 2*time.Minute)
	if err != nil || !strings.Contains(out, "--- PASS: TestHelperCallAfterMove") {
		t.Fatalf("the call in the box's namespace: %v\n%s", err, out)
	}
	agent.wait(t, 20*time.Second)
	if n := kam.Count("TEST-INVITE from=sip:customer42@example.com user=trunkuser to=sip:agent@10.79.9.1 ct=<sip:edgebox@10.79.2.2:5060>"); n != 1 {
		t.Errorf("%d INVITEs with the Contact on the LTE address, want 1", n)
	}
}

// runBounded runs cmd, killing it after d, and returns its output.
func runBounded(cmd *exec.Cmd, d time.Duration) (string, error) {
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return buf.String(), err
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		return buf.String(), fmt.Errorf("still running after %s", d)
	}
}

// TestHelperCallAfterMove is the process TestCallAfterUplinkMove starts
// in the box's namespace.
func TestHelperCallAfterMove(t *testing.T) {
	pbxAddr := os.Getenv("EDGEBOX_MOVE_PBX")
	if pbxAddr == "" {
		t.Skip("helper process of TestCallAfterUplinkMove")
	}
	registerContact(t, pbxAddr, "agent", "agent-secret", os.Getenv("EDGEBOX_MOVE_AGENT"))
	cfg := testConfig(t, pbxAddr)
	cfg.SIP.Listen = []config.GatewaySIPListen{{Transport: "udp", Address: "0.0.0.0:5060"}}
	cfg.Media.RTPAddress = ""
	cfg.Trunk.Username, cfg.Trunk.Password = "trunkuser", "trunk-secret"
	svc := startGateway(t, cfg)

	// the cable is pulled after the gateway started
	for _, args := range [][]string{{"-n", os.Getenv("EDGEBOX_MOVE_PBXNS"), "link", "set", "wan", "down"}, {"route", "replace", "default", "via", "10.79.2.1"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "sip:agent@10.79.9.1")
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	ev, err := c.WaitEvent(ctx, gateway.EventEnded)
	if err != nil {
		t.Fatalf("the agent's BYE never reached the box: %v", err)
	}
	if ev.SIPCode != 200 || ev.Reason != "agent hung up" {
		t.Errorf("ended %d %q, want 200 agent hung up", ev.SIPCode, ev.Reason)
	}
}

// inviteTrunk sends an INVITE for the trunk's AoR from inside the PBX's
// namespace (as agent, who may call) and returns the final status.
func inviteTrunk(t *testing.T, ns, registrar string) int {
	t.Helper()
	host, _, _ := net.SplitHostPort(registrar)
	var pc net.PacketConn
	if err := testenv.DoIn(ns, func() (err error) { pc, err = net.ListenPacket("udp4", host+":0"); return err }); err != nil {
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
