package gateway_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/testenv"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// pbxUsers are the gateway tests' PBX accounts: the box's trunk and two
// agents (SIPp UASs that registerContact registers).
var pbxUsers = map[string]string{"trunkuser": "trunk-secret", "agent": "agent-secret", "agent2": "agent-secret"}

// startKamailio runs the test PBX on loopback, granting registrations at
// most 10 s.
func startKamailio(t *testing.T) *testenv.KamailioServer {
	t.Helper()
	return testenv.Kamailio(t, nil, testenv.KamailioOptions{Users: pbxUsers, MaxExpires: 10})
}

// startKamailioAt runs the test PBX in namespace ns on host:5060,
// granting registrations at most maxExpires seconds.
func startKamailioAt(t *testing.T, ns *testenv.Netns, host string, maxExpires int) *testenv.KamailioServer {
	t.Helper()
	return testenv.Kamailio(t, ns, testenv.KamailioOptions{Host: host, Users: pbxUsers, MaxExpires: maxExpires})
}

// registerContact registers agent's AoR at the registrar with the UAS's
// address as contact (a third-party registration: SIPp as a pure UAS
// cannot send REGISTER itself).
func registerContact(t *testing.T, registrar, user, password, contact string) {
	t.Helper()
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(registrar)
	aor := sip.Uri{Scheme: "sip", User: user, Host: host}
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: host})
	req.SetDestination(registrar)
	req.AppendHeader(&sip.ToHeader{Address: aor})
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	var cu sip.Uri
	if err := sip.ParseUri(contact, &cu); err != nil {
		t.Fatal(err)
	}
	req.AppendHeader(&sip.ContactHeader{Address: cu})
	req.AppendHeader(sip.NewHeader("Expires", "10"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := cli.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode == 401 {
		res, err = cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: password})
		if err != nil {
			t.Fatal(err)
		}
	}
	if res.StatusCode != 200 {
		t.Fatalf("register %s: %d %s", user, res.StatusCode, res.Reason)
	}
}

func TestCallThroughKamailioWithRegistration(t *testing.T) {
	t.Parallel()
	kam := startKamailio(t)
	uas := startSIPp(t, "uas_echo_rr", 1)
	registerContact(t, kam.Addr(), "agent", "agent-secret", fmt.Sprintf("sip:agent@%s", uas.addr()))

	cfg := testConfig(t, kam.Addr())
	cfg.Trunk.Username, cfg.Trunk.Password = "trunkuser", "trunk-secret"
	cfg.Trunk.Register = true
	cfg.Trunk.RegisterExpiresSec = 30 // the registrar grants at most 10: the box refreshes after 8
	svc := startGateway(t, cfg)

	testenv.WaitFor(t, 10*time.Second, "trunk registered", func() (bool, error) {
		st := svc.Status().Registration
		return st == "registered", fmt.Errorf("registration %q", st)
	})
	if v := metricValue(t, svc, "edgebox_gateway_trunk_registered"); v != "1" {
		t.Errorf("registered gauge = %q", v)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	c.StartAudio(ctx, 0)
	waitEchoed(t, c, 25)
	if n := kam.Count("TEST-INVITE from=sip:customer42@example.com user=trunkuser"); n != 1 {
		t.Errorf("kamailio saw %d authenticated INVITEs from the customer's identity with the trunk's credentials, want 1", n)
	}

	// The registration is refreshed before the registrar's 10 s run out.
	testenv.Until(20*time.Second, "a refreshed registration", testenv.Cond(func() bool { return kam.Count("TEST-REGISTERED trunkuser expires=30") >= 2 }))
	if n := kam.Count("TEST-REGISTERED trunkuser expires=30"); n < 2 {
		t.Errorf("trunk registered %d times in 20 s, want a refresh", n)
	}

	c.Hangup(ctx)
	if ev, err := c.WaitEvent(ctx, gateway.EventEnded); err != nil || ev.SIPCode != 200 {
		t.Errorf("end: %+v %v", ev, err)
	}
	uas.wait(t, 10*time.Second)
}

func TestBlindTransferThroughKamailio(t *testing.T) {
	t.Parallel()
	blindTransferThroughKamailio(t)
}

// blindTransferThroughKamailio: the agent transfers the call (REFER)
// 800 ms after its answer; the box reports it on the old dialog (two
// NOTIFYs) and ends it (BYE), then hangs up the new one, record-routed
// through Kamailio.
func blindTransferThroughKamailio(t *testing.T) *gateway.Service {
	kam := startKamailio(t)
	agent := startSIPp(t, "uas_refer", 1)
	agent2 := startSIPp(t, "uas_echo_rr", 1)
	registerContact(t, kam.Addr(), "agent", "agent-secret", fmt.Sprintf("sip:agent@%s", agent.addr()))
	registerContact(t, kam.Addr(), "agent2", "agent-secret", fmt.Sprintf("sip:agent2@%s", agent2.addr()))

	cfg := testConfig(t, kam.Addr())
	cfg.Trunk.Username, cfg.Trunk.Password = "trunkuser", "trunk-secret"
	svc := startGateway(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	c.StartAudio(ctx, 0)
	ev, err := c.WaitEvent(ctx, gateway.EventTransfer)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ev.Reason, "agent2") {
		t.Errorf("transferred to %q", ev.Reason)
	}
	agent.wait(t, 15*time.Second) // got both NOTIFYs and the BYE of the old dialog
	before := c.Stats().Echoed
	waitEchoed(t, c, before+25) // now echoed by agent2
	if calls := svc.Snapshot(); len(calls) != 1 || calls[0].Destination != "sip:agent2@127.0.0.1" {
		t.Errorf("after transfer: %+v", calls)
	}
	c.Hangup(ctx)
	if ev, err := c.WaitEvent(ctx, gateway.EventEnded); err != nil || ev.SIPCode != 200 {
		t.Errorf("end %+v %v", ev, err)
	}
	agent2.wait(t, 10*time.Second)
	return svc
}
