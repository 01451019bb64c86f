package gateway_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"edgebox/gateway"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// kamailioCfg is a minimal registrar + authenticating proxy, users and
// passwords inline (no database).
const kamailioCfg = `#!KAMAILIO
debug=2
log_stderror=yes
children=1
listen=udp:%[2]s:%[1]d
auto_aliases=no
alias="%[2]s:%[1]d"
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "auth.so"
loadmodule "kex.so"
loadmodule "corex.so"
modparam("usrloc", "db_mode", 0)
modparam("registrar", "min_expires", 5)
modparam("registrar", "max_expires", %[3]d)

request_route {
	if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
	if (has_totag()) {
		if (loose_route()) { t_relay(); exit; }
		if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
		sl_send_reply("404", "Not here");
		exit;
	}
	if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
	remove_hf("Route");
	if (is_method("OPTIONS") && $rU == $null) { sl_send_reply("200", "OK"); exit; }
	route(AUTH);
	if (is_method("REGISTER")) {
		if (!save("location")) { sl_reply_error(); exit; }
		xlog("L_NOTICE", "TEST-REGISTERED $au expires=$hdr(Expires) ct=$ct via=$hdr(Via)\n");
		exit;
	}
	if (is_method("INVITE")) {
		xlog("L_NOTICE", "TEST-INVITE from=$fu user=$au to=$ru ct=$ct\n");
		record_route();
	}
	if (!lookup("location")) { xlog("L_NOTICE", "TEST-LOOKUP-FAILED ru=$ru rU=$rU rd=$rd\n"); sl_send_reply("404", "Not Found"); exit; }
	t_on_branch("BRANCH");
	t_relay();
}

branch_route[BRANCH] {
	xlog("L_NOTICE", "TEST-BRANCH $ru\n");
}

route[AUTH] {
	$var(pw) = "no-such-password";
	if ($au == "trunkuser") { $var(pw) = "trunk-secret"; }
	if ($au == "agent" || $au == "agent2") { $var(pw) = "agent-secret"; }
	if (is_method("REGISTER")) {
		if (!pv_www_authenticate("edgebox-test", "$var(pw)", "0")) { www_challenge("edgebox-test", "0"); exit; }
		if ($au != $tU) { sl_send_reply("403", "Register only yourself"); exit; }
	} else {
		if (!pv_proxy_authenticate("edgebox-test", "$var(pw)", "0")) { proxy_challenge("edgebox-test", "0"); exit; }
	}
	consume_credentials();
}
`

type kamailio struct {
	host    string
	port    int
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
}

func startKamailio(t *testing.T) *kamailio {
	t.Helper()
	return startKamailioAt(t, "", "127.0.0.1", 10)
}

// startKamailioAt runs Kamailio in namespace ns ("": the test's own)
// listening on host, granting registrations at most maxExpires seconds.
func startKamailioAt(t *testing.T, ns, host string, maxExpires int) *kamailio {
	t.Helper()
	bin, err := exec.LookPath("kamailio")
	if err != nil {
		bin = "/usr/sbin/kamailio"
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("kamailio not installed (Debian package kamailio, listed in scripts/deps.sh)")
		}
	}
	dir := t.TempDir()
	k := &kamailio{host: host, port: 5060, done: make(chan struct{})}
	if ns == "" {
		k.port = freeUDPTCPPort(t)
	}
	cfg := filepath.Join(dir, "kamailio.cfg")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(kamailioCfg, k.port, host, maxExpires)), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-f", cfg, "-DD", "-E", "-m", "32", "-M", "4", "-Y", dir, "-w", dir}
	k.cmd = exec.Command(bin, args...)
	if ns != "" {
		// ip execs kamailio: the same process, so the group kill below holds
		k.cmd = exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	}
	k.logPath = filepath.Join(dir, "kamailio.log")
	logf, err := os.Create(k.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	k.cmd.Stdout, k.cmd.Stderr = logf, logf
	// kamailio forks workers: a process group lets the test stop them all
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		k.cmd.Wait()
		close(k.done)
	}()
	t.Cleanup(func() {
		syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL)
		<-k.done
		if t.Failed() {
			t.Logf("kamailio log:\n%s", strings.Join(k.log(), "\n"))
		}
	})
	bound := func() bool {
		c, err := net.ListenPacket("udp", k.addr())
		if err != nil {
			return true
		}
		c.Close()
		return false
	}
	for i := 0; ; i++ {
		up := false
		if ns == "" {
			up = bound()
		} else {
			// ask ss: a probe bind in the namespace could take the port
			// from Kamailio in the instant it binds
			out, _ := exec.Command("ip", "netns", "exec", ns, "ss", "-Hlun", fmt.Sprintf("sport = :%d", k.port)).Output()
			up = strings.Contains(string(out), k.addr())
		}
		if up {
			break
		}
		select {
		case <-k.done:
			t.Fatalf("kamailio exited:\n%s", strings.Join(k.log(), "\n"))
		case <-time.After(20 * time.Millisecond):
		}
		if i == 500 {
			t.Fatal("kamailio did not listen within 10 s")
		}
	}
	return k
}

func (k *kamailio) log() []string {
	data, _ := os.ReadFile(k.logPath)
	return strings.Split(string(data), "\n")
}

func (k *kamailio) count(substr string) int {
	n := 0
	for _, l := range k.log() {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

func (k *kamailio) addr() string { return net.JoinHostPort(k.host, fmt.Sprint(k.port)) }

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
	kam := startKamailio(t)
	uas := startSIPp(t, "uas_echo_rr", 1)
	registerContact(t, kam.addr(), "agent", "agent-secret", fmt.Sprintf("sip:agent@%s", uas.addr()))

	cfg := testConfig(t, kam.addr())
	cfg.Trunk.Username, cfg.Trunk.Password = "trunkuser", "trunk-secret"
	cfg.Trunk.Register = true
	cfg.Trunk.RegisterExpiresSec = 30 // the registrar grants at most 10: the box refreshes after 8
	svc := startGateway(t, cfg)

	deadline := time.Now().Add(10 * time.Second)
	for svc.Status().Registration != "registered" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if st := svc.Status().Registration; st != "registered" {
		t.Fatalf("trunk registration: %q", st)
	}
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
	if n := kam.count("TEST-INVITE from=sip:customer42@example.com user=trunkuser"); n != 1 {
		t.Errorf("kamailio saw %d authenticated INVITEs from the customer's identity with the trunk's credentials, want 1", n)
	}

	// The registration is refreshed before the registrar's 10 s run out.
	deadline = time.Now().Add(20 * time.Second)
	for kam.count("TEST-REGISTERED trunkuser expires=30") < 2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := kam.count("TEST-REGISTERED trunkuser expires=30"); n < 2 {
		t.Errorf("trunk registered %d times in 20 s, want a refresh", n)
	}

	c.Hangup(ctx)
	if ev, err := c.WaitEvent(ctx, gateway.EventEnded); err != nil || ev.SIPCode != 200 {
		t.Errorf("end: %+v %v", ev, err)
	}
	uas.wait(t, 10*time.Second)
}

func TestBlindTransferThroughKamailio(t *testing.T) {
	kam := startKamailio(t)
	agent := startSIPp(t, "uas_refer", 1)
	agent2 := startSIPp(t, "uas_echo_rr", 1)
	registerContact(t, kam.addr(), "agent", "agent-secret", fmt.Sprintf("sip:agent@%s", agent.addr()))
	registerContact(t, kam.addr(), "agent2", "agent-secret", fmt.Sprintf("sip:agent2@%s", agent2.addr()))

	cfg := testConfig(t, kam.addr())
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
}
