package gateway_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"
	"edgebox/internal/config"
	"edgebox/internal/testenv"
)

// The PBX side of a fleet (issue 20 item 2, docs/fleet.md section 7):
// three boxes, each with its own SIM (the real netctl driving its own
// modemsim), behind Kamailio's dispatcher; SIPp as the PBX sends SMS
// (MESSAGE) and GSM calls (INVITE) to the dispatcher alone.
//
// Addresses: the front namespace (Kamailio on :5060, SIPp on :5070) is
// 10.78.0.1 on a bridge; box i is 10.78.0.(11+i) in a namespace of its
// own, holding nothing but its gateway (so killing it is killing the
// namespace's one process).

const fleetFrontIP = "10.78.0.1"

func fleetBoxIP(i int) string { return fmt.Sprintf("10.78.0.%d", 11+i) }

// fleetBox is one box of the PBX-side fleet.
type fleetBox struct {
	name string
	ns   string // its namespace (the gateway alone runs there)
	addr string // SIP host:port
	sim  *realVoice
	api  gateway.Client
	web  string // the portal's base URL, inside ns
}

// startPBXSideFleet makes the front namespace and n boxes.
func startPBXSideFleet(t *testing.T, n int) (*netnsRig, string, []*fleetBox) {
	t.Helper()
	rig := newNetnsRig(t, "fpbx")
	front := rig.ns("front")
	rig.ip("-n", front, "link", "add", "br0", "type", "bridge")
	rig.ip("-n", front, "addr", "add", fleetFrontIP+"/24", "dev", "br0")
	rig.ip("-n", front, "link", "set", "br0", "up")
	var boxes []*fleetBox
	for i := range n {
		ns := rig.ns(fmt.Sprintf("box%d", i))
		veth := fmt.Sprintf("vb%d", i)
		rig.link(ns, "eth0", fleetBoxIP(i)+"/24", front, veth, "")
		rig.ip("-n", front, "link", "set", veth, "master", "br0")
		// the box's netctl and modemsim: the gateway started next finds
		// netctl's socket through EDGEBOX_RUN_DIR, which startGatewayIn
		// sets for it to this netctl's directory
		sim := startRealVoice(t)
		cfg := testConfig(t, fleetFrontIP+":5070")
		cfg.SIP.Listen = []config.GatewaySIPListen{{Transport: "udp", Address: fleetBoxIP(i) + ":5060"}}
		cfg.PBX.AllowedSources = []string{fleetFrontIP}
		cfg.Media.RTPAddress = fleetBoxIP(i)
		cfg.Portal.APIKeys[0].Destinations = append(cfg.Portal.APIKeys[0].Destinations, gateway.CallbackPermission)
		cfg.GSM = config.GatewayGSM{Enabled: true, Domain: gsmDomain, StoreDir: t.TempDir(), RetrySec: 1, SIMs: []config.GSMSIM{{
			Slot: "1", Number: gsmSIMNum, CountryCode: "49",
			SMS:   config.GSMSMS{Allow: []string{"+4915*"}, RatePerMinute: 600, Burst: 100},
			Voice: config.GSMVoice{Allow: []string{"+4930*"}},
		}}}
		b := &fleetBox{name: string(rune('A' + i)), ns: ns, addr: gatewaySIPAddr(cfg), sim: sim, web: "http://" + cfg.Portal.Listen}
		b.api = startGatewayIn(t, ns, cfg)
		boxes = append(boxes, b)
	}
	return rig, front, boxes
}

// kill ends the box's gateway with SIGKILL: a box that dies, nothing
// answered, nothing said goodbye. The namespace holds only that process
// (started by startGatewayIn).
func (b *fleetBox) kill(t *testing.T) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "pids", b.ns).Output()
	if err != nil {
		t.Fatalf("ip netns pids %s: %v", b.ns, err)
	}
	pids := strings.Fields(string(out))
	if len(pids) != 1 {
		t.Fatalf("box %s's namespace holds %d processes (%v), want its gateway alone", b.name, len(pids), pids)
	}
	pid, _ := strconv.Atoi(pids[0])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill box %s (pid %d): %v", b.name, pid, err)
	}
}

// smsAt is which of the numbers the box's modemsim was asked to send an
// SMS to (from the PDUs it got).
func (b *fleetBox) smsAt(numbers []string) int {
	sent := b.sim.sentSMS()
	n := 0
	for _, num := range numbers {
		if _, ok := sent[num]; ok {
			n++
		}
	}
	return n
}

// sippRun waits for SIPp to end (bounded) and reads its counts of
// successful and failed calls (-trace_stat); a failed call does not
// fail the test here, the caller decides.
func sippRun(t *testing.T, s *sipp, d time.Duration) (ok, failed int) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(d):
		s.cmd.Process.Kill()
		<-s.done
		t.Fatalf("sipp did not finish within %v\n%s", d, s.traces())
	}
	files, _ := filepath.Glob(filepath.Join(s.logs, "*_.csv"))
	if len(files) == 0 {
		t.Fatalf("sipp wrote no statistics\n%s", s.traces())
	}
	data, _ := os.ReadFile(files[0])
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) < 2 {
		t.Fatalf("sipp statistics without a row:\n%s", data)
	}
	head, last := strings.Split(lines[0], ";"), strings.Split(lines[len(lines)-1], ";")
	for i, h := range head {
		if i >= len(last) {
			break
		}
		switch h {
		case "SuccessfulCall(C)":
			ok, _ = strconv.Atoi(last[i])
		case "FailedCall(C)":
			failed, _ = strconv.Atoi(last[i])
		}
	}
	return ok, failed
}

// smsRun sends n SMS through the dispatcher, 10 a second, each to its
// own number (+49155501PPNNN: phase p, message i), and returns SIPp and
// the numbers.
func smsRun(t *testing.T, front string, d *dispatcher, phase, n int) (*sipp, []string) {
	t.Helper()
	var rows, nums []string
	for i := range n {
		num := fmt.Sprintf("+49155501%02d%03d", phase, i)
		nums = append(nums, num)
		rows = append(rows, fmt.Sprintf("%s;fleet SMS %d.%d", num, phase, i))
	}
	s := startSIPpAt(t, front, fleetFrontIP, "uac_sms_202", n, "-inf", injection(t, rows...), "-r", "10", "-trace_stat", d.addr())
	return s, nums
}

// inviteRun places INVITEs one after another through the dispatcher to
// users at host and returns each call's final code, in order. An
// answered call is acknowledged and hung up after 1 s along the route
// the dispatcher recorded.
func inviteRun(t *testing.T, front string, d *dispatcher, users []string, host string) []string {
	t.Helper()
	finals, bad := invitesDone(t, startInvites(t, front, d, users, host, 5070), len(users))
	// a refused call ends the scenario well (its code is logged); a
	// failed one lost a step: no final answer, or the BYE unanswered
	if bad != 0 {
		t.Errorf("%d of %d INVITE scenarios failed (a step went unanswered)", bad, len(users))
	}
	return finals
}

// startInvites starts SIPp placing the calls (on SIP port port, beside a
// SIPp on 5070 if another).
func startInvites(t *testing.T, front string, d *dispatcher, users []string, host string, port int) *sipp {
	t.Helper()
	var rows []string
	for _, u := range users {
		rows = append(rows, u+";"+host)
	}
	return startSIPpAt(t, front, fleetFrontIP, "uac_fleet_invite", len(rows), "-inf", injection(t, rows...), "-l", "1",
		"-p", strconv.Itoa(port), "-mp", strconv.Itoa(6000+2*(port-5070)), "-d", "1000", "-trace_logs", "-trace_stat", d.addr())
}

// invitesDone waits for the n calls and returns their final codes and
// how many failed.
func invitesDone(t *testing.T, s *sipp, n int) ([]string, int) {
	t.Helper()
	_, bad := sippRun(t, s, time.Duration(n)*15*time.Second)
	if bad != 0 {
		t.Logf("SIPp placing calls:\n%s", s.traces())
	}
	var finals []string
	for _, l := range strings.Split(sippLog(s), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "FINAL="); ok {
			finals = append(finals, v)
		}
	}
	return finals, bad
}

// TestPBXSideAcrossBoxes: SMS and GSM calls from the PBX spread over three
// boxes by Kamailio's dispatcher, each box sending on its own SIM; box A
// drained gets none of what follows; box B killed in the middle of an SMS
// run loses at most what was in flight to it, the rest fails over to C; a
// callback's INVITE goes to the box in its URI, not round robin.
func TestPBXSideAcrossBoxes(t *testing.T) {
	// Not parallel: Kamailio's 2 s fr_timer fails a box over when it
	// has not answered an INVITE by then, and a box starved of CPU by
	// parallel call tests did not once (408, then 500).
	if _, err := exec.LookPath("kamcmd"); err != nil {
		t.Fatal("kamcmd not installed (Debian package kamailio)")
	}
	rig, front, boxes := startPBXSideFleet(t, 3)
	var addrs []string
	for _, b := range boxes {
		addrs = append(addrs, b.addr)
	}
	d := startDispatcherIn(t, rig.netns(front), fleetFrontIP, addrs)
	for _, a := range addrs {
		waitFor(t, 60*time.Second, "box "+a+" active in the dispatcher", func() bool { return strings.HasPrefix(d.flags(a), "A") })
	}
	A, B, C := boxes[0], boxes[1], boxes[2]
	var sent, failed int
	spread := map[string]int{}
	count := func(phase string, nums []string, want []*fleetBox) {
		t.Helper()
		total := 0
		var per []string
		for _, b := range boxes {
			k := b.smsAt(nums)
			spread[b.name] += k
			total += k
			per = append(per, fmt.Sprintf("%s %d", b.name, k))
		}
		t.Logf("%s: %d SMS at the SIMs of the boxes: %s", phase, total, strings.Join(per, ", "))
		for _, b := range want {
			if b.smsAt(nums) == 0 {
				t.Errorf("%s: box %s's SIM sent none of the SMS", phase, b.name)
			}
		}
	}
	waitSent := func(what string, nums []string, n int) {
		t.Helper()
		testenv.WaitFor(t, 30*time.Second, what, testenv.Why(func() (bool, string) {
			k := 0
			var per []string
			for _, b := range boxes {
				k += b.smsAt(nums)
				per = append(per, fmt.Sprintf("%s %d", b.name, b.smsAt(nums)))
			}
			return k >= n, fmt.Sprintf("%d of %d at the SIMs (%s); accepted per box %v", k, n, strings.Join(per, ", "), d.answered("202", "MESSAGE"))
		}))
	}
	// 1. All healthy: 30 SMS spread over the three SIMs, all 202.
	s, nums1 := smsRun(t, front, d, 1, 30)
	ok, bad := sippRun(t, s, 60*time.Second)
	sent, failed = sent+ok+bad, failed+bad
	if ok != 30 {
		t.Errorf("healthy fleet: %d of 30 SMS accepted (202), %d failed", ok, bad)
	}
	waitSent("the healthy run's SMS at the SIMs", nums1, 30)
	count("healthy", nums1, boxes)

	// GSM calls, healthy: one per box in turn, each dialled on that box's SIM.
	calls1 := []string{"+49301230001", "+49301230002", "+49301230003"}
	finals := inviteRun(t, front, d, calls1, d.addr())
	dialed := map[string]int{}
	for _, b := range boxes {
		dialed[b.name] = len(b.sim.dialed())
		if dialed[b.name] == 0 {
			t.Errorf("healthy fleet: box %s's SIM dialled none of the calls", b.name)
		}
	}
	if strings.Count(strings.Join(finals, " "), "200") != len(calls1) {
		t.Errorf("healthy fleet: GSM calls answered %v, want %d times 200", finals, len(calls1))
	}

	// 2. Box A drained: inactive in the dispatcher (its OPTIONS get 503);
	// the next SMS and calls go to B and C only, none fails.
	if err := A.api.Post(context.Background(), "/v1/drain", struct{}{}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "box A inactive in the dispatcher", func() bool { return strings.HasPrefix(d.flags(A.addr), "I") })
	s, nums2 := smsRun(t, front, d, 2, 30)
	ok, bad = sippRun(t, s, 60*time.Second)
	sent, failed = sent+ok+bad, failed+bad
	if ok != 30 {
		t.Errorf("box A drained: %d of 30 SMS accepted, %d failed", ok, bad)
	}
	waitSent("the drained run's SMS at the SIMs", nums2, 30)
	count("A drained", nums2, []*fleetBox{B, C})
	if k := A.smsAt(nums2); k != 0 {
		t.Errorf("the drained box's SIM sent %d SMS", k)
	}
	movedDrain := B.smsAt(nums2) + C.smsAt(nums2)

	calls2 := []string{"+49301230011", "+49301230012", "+49301230013", "+49301230014"}
	finals = append(finals, inviteRun(t, front, d, calls2, d.addr())...)
	if n := len(A.sim.dialed()); n != dialed["A"] {
		t.Errorf("the drained box dialled %d calls", n-dialed["A"])
	}
	for _, b := range []*fleetBox{B, C} {
		if len(b.sim.dialed()) == dialed[b.name] {
			t.Errorf("box A drained: box %s dialled none of the calls", b.name)
		}
	}
	callsPer := map[string]int{}
	for _, b := range boxes {
		callsPer[b.name] = len(b.sim.dialed())
	}
	if n := strings.Count(strings.Join(finals, " "), "200"); n != len(calls1)+len(calls2) {
		t.Errorf("GSM calls answered %v, want all 200", finals)
	}

	// One call per SIM: box C's SIM carries a call the PBX placed at C
	// directly (held 8 s). The dispatcher's next calls that land on C get
	// 503 with Q.850 cause 34 and move on to B; C stays in rotation.
	held := startSIPpAt(t, front, fleetFrontIP, "uac_fleet_invite", 1, "-inf", injection(t, "+49301230031;"+C.addr),
		"-l", "1", "-p", "5074", "-mp", "6008", "-d", "8000", "-trace_logs", "-trace_stat", C.addr)
	waitFor(t, 15*time.Second, "box C's SIM in the held call", func() bool { return C.sim.live() == 1 })
	busyFailovers, dialedC := d.count("TEST-FAILOVER INVITE"), len(C.sim.dialed())
	finals4 := inviteRun(t, front, d, []string{"+49301230032", "+49301230033"}, d.addr())
	if strings.Join(finals4, " ") != "200 200" {
		t.Errorf("calls while box C's SIM is busy: %v, want both answered by box B", finals4)
	}
	busyMoved := d.count("TEST-FAILOVER INVITE") - busyFailovers
	if busyMoved < 1 {
		t.Errorf("no call moved on from box C's busy SIM (round robin sends one of two there)")
	}
	if n := len(C.sim.dialed()) - dialedC; n != 0 {
		t.Errorf("box C dialled %d calls while its SIM was busy", n)
	}
	if f := d.flags(C.addr); !strings.HasPrefix(f, "A") {
		t.Errorf("box C is %q in the dispatcher after a busy SIM, want still active", f)
	}
	heldFinal, _ := invitesDone(t, held, 1)
	if strings.Join(heldFinal, " ") != "200" {
		t.Errorf("the held call at box C: %v", heldFinal)
	}
	finals = append(append(finals, finals4...), heldFinal...)
	placed := len(calls1) + len(calls2) + 3

	// A callback names its box: the INVITE goes to B (whose page is not
	// waiting: 480), never round robin (another box would not know the
	// token: 404).
	tok, err := client.Authorize(context.Background(), testenv.HTTPClientIn(B.ns), B.web, testAPIKey,
		gateway.AuthorizeRequest{From: testFrom, Receive: true, Context: testContext})
	if err != nil {
		t.Fatalf("callback token from box B: %v", err)
	}
	if want := "sip:" + tok.SIPUser + "@" + B.addr; tok.CallbackURI != want {
		t.Fatalf("callback URI %q, want %q", tok.CallbackURI, want)
	}
	cb := inviteRun(t, front, d, []string{tok.SIPUser, tok.SIPUser, tok.SIPUser}, B.addr)
	if strings.Join(cb, " ") != "480 480 480" {
		t.Errorf("callback INVITEs to box B through the dispatcher got %v, want 480 (box B: the page is not waiting) each time", cb)
	}
	if n := d.count("TEST-BYBOX INVITE sip:" + tok.SIPUser + "@" + B.addr); n != 3 {
		t.Errorf("the dispatcher routed %d callback INVITEs by their box, want 3", n)
	}

	// 3. Box B killed in the middle of an SMS run: what was on its way to
	// B fails over to C after the dispatcher's timer; what B had accepted
	// (202) and not yet handed to its SIM is lost with it; nothing fails.
	failovers := d.count("TEST-FAILOVER MESSAGE")
	accepted := d.answered("202", "MESSAGE")
	s, nums3 := smsRun(t, front, d, 3, 30)
	// GSM calls alongside, one at a time, so that one is likely up on B
	// when it dies: a second SIPp, on port 5072
	dialedB := len(B.sim.dialed())
	calls3 := []string{"+49301230021", "+49301230022", "+49301230023", "+49301230024"}
	inv := startInvites(t, front, d, calls3, d.addr(), 5072)
	// about a third into the run (B takes one in two of 10 a second)
	waitFor(t, 20*time.Second, "box B's SIM sending some of the run's SMS", func() bool { return B.smsAt(nums3) >= 5 })
	B.kill(t)
	dialedAtKill := len(B.sim.dialed())
	ok, bad = sippRun(t, s, 90*time.Second)
	finals3, cut := invitesDone(t, inv, len(calls3))
	sent, failed = sent+ok+bad, failed+bad
	waitFor(t, 30*time.Second, "box B inactive in the dispatcher", func() bool { return strings.HasPrefix(d.flags(B.addr), "I") })
	movedKill := d.count("TEST-FAILOVER MESSAGE") - failovers
	byC := d.answered("202", "MESSAGE")[C.addr] - accepted[C.addr]
	byB := d.answered("202", "MESSAGE")[B.addr] - accepted[B.addr]
	waitFor(t, 30*time.Second, "the SMS box C accepted at its SIM", func() bool { return C.smsAt(nums3) >= byC })
	count("B killed", nums3, []*fleetBox{C})
	if k := A.smsAt(nums3); k != 0 {
		t.Errorf("the drained box's SIM sent %d SMS", k)
	}
	atB, atC := B.sim.sentSMS(), C.sim.sentSMS()
	lost, twice := 0, 0
	for _, num := range nums3 {
		_, b := atB[num]
		_, c := atC[num]
		switch {
		case !b && !c:
			lost++
		case b && c:
			twice++ // B sent it and died before its 202: C sent it again
		}
	}
	if ok+bad != 30 {
		t.Errorf("B killed: SIPp sent %d of 30", ok+bad)
	}
	if bad != 0 {
		t.Errorf("B killed: %d SMS failed at the PBX; what was on its way to B should have failed over to C", bad)
	}
	if lost > byB {
		t.Errorf("B killed: %d SMS lost, more than the %d box B accepted", lost, byB)
	}
	// a call up on B when it died is cut (its BYE goes unanswered); one
	// at a time, so at most one; the others are answered, by C once B is
	// out
	if cut > 1 {
		t.Errorf("B killed: %d GSM calls failed (%v), want at most the one up on B", cut, finals3)
	}
	if n := strings.Count(strings.Join(finals3, " "), "200"); n != len(finals3) || len(finals3) < len(calls3)-cut {
		t.Errorf("B killed: GSM calls got %v with %d cut; want the rest answered", finals3, cut)
	}
	if n := len(B.sim.dialed()); n != dialedAtKill {
		t.Errorf("box B dialled %d calls after it was killed", n-dialedAtKill)
	}
	finals = append(finals, finals3...)
	for _, b := range boxes {
		callsPer[b.name] = len(b.sim.dialed())
	}
	t.Logf("B killed: %d GSM calls, %d of them dialled on B before it died, %d cut with it: %v", len(calls3), dialedAtKill-dialedB, cut, finals3)
	t.Logf("B killed: B accepted %d before it died, %d of them never reached its SIM; C accepted %d, %d failed over from B; %d sent by both", byB, lost, byC, movedKill, twice)
	t.Logf("fleet run (PBX side): SMS sent %d, per box A %d B %d C %d, failed %d, lost on the killed box %d, moved after drain %d (none to the drained box), failed over after kill %d; GSM calls %d, per box A %d B %d C %d, failed %d (cut on the killed box %d), moved on from a busy SIM %d",
		sent, spread["A"], spread["B"], spread["C"], failed, lost, movedDrain, movedKill,
		placed+len(calls3), callsPer["A"], callsPer["B"], callsPer["C"], placed+len(calls3)-strings.Count(strings.Join(finals, " "), "200")+cut, cut, busyMoved)
}
