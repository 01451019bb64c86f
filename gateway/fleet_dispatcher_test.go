package gateway_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/testenv"
)

// dispatcherCfg is Kamailio's dispatcher in front of several boxes (set 1
// in the list file): it probes every box with OPTIONS each second, marks a
// box that answers 503 or nothing inactive, sends new requests from the
// PBX side (OPTIONS, MESSAGE for SMS, INVITE for GSM calls) round-robin to
// the active ones, and fails over to the next box on 503 or a timeout. It
// record-routes INVITEs, so the dialog's ACK, BYE and re-INVITEs pass
// through it too (loose_route). A request whose Request-URI names a box of
// the list (a callback: the page waits on that box alone) goes to that box
// and nowhere else. It logs which box answered each request (TEST-REPLY).
// %[1]d is the port, %[2]s the run directory, %[3]s the address.
const dispatcherCfg = `#!KAMAILIO
debug=2
log_stderror=yes
children=2
listen=udp:%[3]s:%[1]d
auto_aliases=no
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "ctl.so"
loadmodule "dispatcher.so"
loadmodule "tmx.so"
modparam("ctl", "binrpc", "unix:%[2]s/kamailio_ctl")
modparam("tm", "fr_timer", 2000)
modparam("dispatcher", "list_file", "%[2]s/dispatcher.list")
# failover: keep the other boxes to try
modparam("dispatcher", "flags", 2)
modparam("dispatcher", "ds_ping_interval", 1)
modparam("dispatcher", "ds_probing_mode", 1)
modparam("dispatcher", "ds_probing_threshold", 1)
modparam("dispatcher", "ds_inactive_threshold", 1)
modparam("dispatcher", "ds_ping_from", "sip:dispatcher@%[3]s")

request_route {
	if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
	# within a dialog: along the route its INVITE recorded
	if (has_totag()) {
		if (loose_route()) { t_relay(); exit; }
		if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
		sl_send_reply("404", "Not here");
		exit;
	}
	if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
	if (is_method("INVITE")) { record_route(); }
	t_on_reply("REPLY");
	# a callback names its box: only that box has the waiting page
	if (ds_is_from_list("1", "2", "$ru")) {
		xlog("L_NOTICE", "TEST-BYBOX $rm $ru\n");
		t_relay();
		exit;
	}
	if (!ds_select_dst("1", "4")) { sl_send_reply("503", "No Box Available"); exit; }
	xlog("L_NOTICE", "TEST-SELECT $rm $du\n");
	t_on_failure("NEXT");
	t_relay();
}

onreply_route[REPLY] {
	xlog("L_NOTICE", "TEST-REPLY $rs from $si:$sp $rm\n");
}

failure_route[NEXT] {
	if (t_is_canceled()) { exit; }
	# 503 with Q.850 cause 34: every SIM of that box carries a call. The
	# box is healthy: try the next one, leave it in rotation.
	if (t_check_status("503") && $T_rpl($hdr(Reason)) =~ "cause=34") {
		if (ds_next_dst()) {
			xlog("L_NOTICE", "TEST-FAILOVER $rm $du\n");
			t_on_failure("NEXT");
			t_relay();
		}
		exit;
	}
	if (t_check_status("503") || (t_branch_timeout() && !t_branch_replied())) {
		ds_mark_dst("ip");
		if (ds_next_dst()) {
			xlog("L_NOTICE", "TEST-FAILOVER $rm $du\n");
			t_on_failure("NEXT");
			t_relay();
			exit;
		}
	}
}
`

type dispatcher struct {
	host string
	port int
	dir  string
	log  string
}

// startDispatcher runs Kamailio's dispatcher in front of boxes (SIP
// host:port each) on loopback.
func startDispatcher(t *testing.T, boxes []string) *dispatcher {
	t.Helper()
	return startDispatcherIn(t, nil, "127.0.0.1", boxes)
}

// startDispatcherIn runs it in namespace ns (nil: the test's own) on
// address host, port 5060 in a namespace of the test's.
func startDispatcherIn(t *testing.T, ns *testenv.Netns, host string, boxes []string) *dispatcher {
	t.Helper()
	bin, err := exec.LookPath("kamailio")
	if err != nil {
		bin = "/usr/sbin/kamailio"
	}
	d := &dispatcher{host: host, port: 5060, dir: t.TempDir()}
	if ns == nil {
		d.port = freeUDPTCPPort(t)
	}
	var list strings.Builder
	for _, b := range boxes {
		fmt.Fprintf(&list, "1 sip:%s 0 0\n", b)
	}
	if err := os.WriteFile(filepath.Join(d.dir, "dispatcher.list"), []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(d.dir, "kamailio.cfg")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(dispatcherCfg, d.port, d.dir, d.host)), 0o644); err != nil {
		t.Fatal(err)
	}
	d.log = filepath.Join(d.dir, "kamailio.log")
	logf, err := os.Create(d.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	// kamailio forks workers: the Proc's process group is killed with the test
	args := []string{"-f", cfg, "-DD", "-E", "-m", "32", "-M", "4", "-Y", d.dir, "-w", d.dir}
	var p *testenv.Proc
	if ns != nil {
		p = ns.Command(bin, args...)
	} else {
		p = testenv.Command(t, bin, args...)
	}
	p.Cmd.Stdout, p.Cmd.Stderr = logf, logf
	t.Cleanup(func() {
		if t.Failed() {
			data, _ := os.ReadFile(d.log)
			t.Logf("kamailio log:\n%s", data)
		}
	})
	p.Start()
	testenv.WaitFor(t, 30*time.Second, "kamailio's control socket", func() (bool, error) {
		select {
		case <-p.Done():
			data, _ := os.ReadFile(d.log)
			return false, testenv.Final(fmt.Errorf("kamailio exited:\n%s", data))
		default:
		}
		_, err := d.list()
		return err == nil, err
	})
	return d
}

// list is the dispatcher's view through kamcmd: each destination's URI and
// flags (A active, I inactive, P probing).
func (d *dispatcher) list() (string, error) {
	out, err := exec.Command("kamcmd", "-s", "unix:"+filepath.Join(d.dir, "kamailio_ctl"), "dispatcher.list").CombinedOutput()
	return string(out), err
}

// flags returns the dispatcher's flags for box (host:port).
func (d *dispatcher) flags(box string) string {
	out, err := d.list()
	if err != nil {
		return ""
	}
	_, rest, ok := strings.Cut(out, "sip:"+box)
	if !ok {
		return ""
	}
	_, rest, ok = strings.Cut(rest, "FLAGS:")
	if !ok {
		return ""
	}
	f, _, _ := strings.Cut(strings.TrimSpace(rest), "\n")
	return strings.TrimSpace(f)
}

func (d *dispatcher) addr() string { return fmt.Sprintf("%s:%d", d.host, d.port) }

// replies counts the requests each box answered 200, from Kamailio's log.
func (d *dispatcher) replies() map[string]int { return d.answered("200", "") }

// answered counts the requests (of method, "" any) each box answered
// with code, from Kamailio's log.
func (d *dispatcher) answered(code, method string) map[string]int {
	data, _ := os.ReadFile(d.log)
	n := map[string]int{}
	for _, l := range strings.Split(string(data), "\n") {
		if _, rest, ok := strings.Cut(l, "TEST-REPLY "+code+" from "); ok {
			box, m, _ := strings.Cut(strings.TrimSpace(rest), " ")
			if method == "" || m == method {
				n[box]++
			}
		}
	}
	return n
}

// count is how many lines of Kamailio's log hold text.
func (d *dispatcher) count(text string) int {
	data, _ := os.ReadFile(d.log)
	return strings.Count(string(data), text)
}

// pbxRequests sends n OPTIONS from the PBX side through the dispatcher and
// returns how many got 200 from a box.
func pbxRequests(t *testing.T, to string, n int) (ok int, failed []string) {
	t.Helper()
	p := newSIPPeer(t, "127.0.0.1", to)
	buf := make([]byte, 65535)
	for range n {
		p.request(t, "OPTIONS", "pbx", "")
		status := "no answer"
		p.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		for {
			k, _, err := p.conn.ReadFromUDP(buf)
			if err != nil {
				break
			}
			line, _, _ := strings.Cut(string(buf[:k]), "\r\n")
			if strings.HasPrefix(line, "SIP/2.0 1") {
				continue
			}
			status = line
			break
		}
		if status == "SIP/2.0 200 OK" {
			ok++
		} else {
			failed = append(failed, status)
		}
	}
	return ok, failed
}

// TestDispatcherAcrossBoxes: three gateways behind Kamailio's dispatcher.
// Requests from the PBX side are spread over all three; one box drained
// turns inactive in the dispatcher's view (its OPTIONS answer 503) and gets
// nothing more; one box killed is skipped too; no request fails.
func TestDispatcherAcrossBoxes(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("kamcmd"); err != nil {
		if _, err := os.Stat("/usr/sbin/kamcmd"); err != nil {
			t.Fatal("kamcmd not installed (Debian package kamailio)")
		}
	}
	pbx := fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t))
	var boxes []*gateway.Service
	var addrs []string
	for range 3 {
		svc := startGateway(t, testConfig(t, pbx))
		boxes = append(boxes, svc)
		addrs = append(addrs, sipListen(svc))
	}
	d := startDispatcher(t, addrs)
	for _, a := range addrs {
		waitFor(t, 60*time.Second, "box "+a+" active in the dispatcher", func() bool { return strings.HasPrefix(d.flags(a), "A") })
	}
	dst := fmt.Sprintf("127.0.0.1:%d", d.port)

	// All healthy: spread over the three.
	if ok, failed := pbxRequests(t, dst, 30); ok != 30 {
		t.Fatalf("healthy fleet: %d of 30 answered 200; failed: %v", ok, failed)
	}
	spread := d.replies()
	for _, a := range addrs {
		if spread[a] == 0 {
			t.Errorf("box %s got no request while healthy: %v", a, spread)
		}
	}

	// Box 0 drained: the dispatcher marks it inactive and sends it nothing.
	boxes[0].Drain()
	waitFor(t, 60*time.Second, "the drained box inactive in the dispatcher", func() bool { return strings.HasPrefix(d.flags(addrs[0]), "I") })
	out, _ := d.list()
	t.Logf("dispatcher view with box 0 drained:\n%s", out)
	before := d.replies()
	if ok, failed := pbxRequests(t, dst, 30); ok != 30 {
		t.Errorf("one box drained: %d of 30 answered 200; failed: %v", ok, failed)
	}
	after := d.replies()
	if after[addrs[0]] != before[addrs[0]] {
		t.Errorf("the drained box answered %d requests", after[addrs[0]]-before[addrs[0]])
	}
	if after[addrs[1]] == before[addrs[1]] || after[addrs[2]] == before[addrs[2]] {
		t.Errorf("requests not spread over the two healthy boxes: before %v after %v", before, after)
	}

	// Box 2 killed in the middle of the run: what was on its way fails
	// over to box 1; then box 2 turns inactive.
	boxes[2].Close()
	if ok, failed := pbxRequests(t, dst, 30); ok != 30 {
		t.Errorf("one drained, one killed: %d of 30 answered 200; failed: %v", ok, failed)
	}
	waitFor(t, 60*time.Second, "the killed box inactive in the dispatcher", func() bool { return strings.HasPrefix(d.flags(addrs[2]), "I") })
	data, _ := os.ReadFile(d.log)
	t.Logf("requests failed over from the killed box: %d", strings.Count(string(data), "TEST-FAILOVER"))

	// Box 0 back: active again, gets requests again.
	boxes[0].Undrain()
	waitFor(t, 60*time.Second, "the undrained box active again", func() bool { return strings.HasPrefix(d.flags(addrs[0]), "A") })
	before = d.replies()
	if ok, failed := pbxRequests(t, dst, 10); ok != 10 {
		t.Errorf("after undrain: %d of 10 answered 200; failed: %v", ok, failed)
	}
	if d.replies()[addrs[0]] == before[addrs[0]] {
		t.Errorf("the undrained box got no request")
	}
}
