package testenv

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// sipRequest sends req to the PBX and answers its digest challenge with
// user and password; it returns the final status.
func sipRequest(t *testing.T, req *sip.Request, user, password string, wait time.Duration) int {
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
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	res, err := cli.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode == 401 || res.StatusCode == 407 {
		if res, err = cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: password}); err != nil {
			return 0 // no final answer (a relayed INVITE nobody answers)
		}
	}
	return res.StatusCode
}

func sipRegister(t *testing.T, pbx, user, password string) int {
	host, _, _ := net.SplitHostPort(pbx)
	aor := sip.Uri{Scheme: "sip", User: user, Host: host}
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: host})
	req.SetDestination(pbx)
	req.AppendHeader(&sip.ToHeader{Address: aor})
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: 5999}})
	req.AppendHeader(sip.NewHeader("Expires", "30"))
	return sipRequest(t, req, user, password, 5*time.Second)
}

// TestKamailioRegistrarAndStaticRoute runs the real Kamailio with the
// options the tests use: a user registers with its password only, the
// log lines the tests count come out as documented, and an INVITE for a
// static user is relayed to its fixed address.
func TestKamailioRegistrarAndStaticRoute(t *testing.T) {
	RequireRoot(t)
	agent, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	k := Kamailio(t, nil, KamailioOptions{Realm: "testenv", MaxExpires: 20,
		Users:  map[string]string{"trunk": "pw-1"},
		Static: map[string]string{"agent": agent.LocalAddr().String()}})

	if code := sipRegister(t, k.Addr(), "trunk", "wrong"); code == 200 {
		t.Fatal("REGISTER with a wrong password accepted")
	}
	if code := sipRegister(t, k.Addr(), "trunk", "pw-1"); code != 200 {
		t.Fatalf("REGISTER: %d, want 200", code)
	}
	WaitFor(t, 5*time.Second, "the REGISTERED line", Cond(func() bool { return k.Count(KamailioRegistered+"trunk expires=30 ct=<sip:trunk@127.0.0.1:5999>") == 1 }))
	if l := k.Lines(); !strings.Contains(strings.Join(l, "\n"), "src=127.0.0.1 via=SIP/2.0/UDP") {
		t.Errorf("REGISTERED line without src and via:\n%s", k.Log())
	}

	host, _, _ := net.SplitHostPort(k.Addr())
	inv := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "agent", Host: host})
	inv.SetDestination(k.Addr())
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "customer", Host: "example.com"}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	inv.AppendHeader(from)
	inv.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "agent", Host: host}})
	inv.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "trunk", Host: "127.0.0.1", Port: 5999}})
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 8192)
		agent.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := agent.ReadFrom(buf)
		if err != nil {
			got <- fmt.Sprint(err)
			return
		}
		got <- string(buf[:n])
	}()
	sipRequest(t, inv, "trunk", "pw-1", 2*time.Second) // the agent never answers
	if msg := <-got; !strings.HasPrefix(msg, "INVITE sip:agent@") {
		t.Fatalf("the static agent got %q, want the relayed INVITE\nkamailio:\n%s", Tail(msg, 300), k.Log())
	}
	if k.Count(KamailioInvite+"from=sip:customer@example.com user=trunk to=sip:agent@") != 1 {
		t.Errorf("no INVITE line:\n%s", k.Log())
	}
}
