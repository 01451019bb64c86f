package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"edgebox/api/netapi"
	"edgebox/internal/testenv"
	"edgebox/modem"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/tpdu"
)

// realNetctl is cmd/netctl in a namespace of its own (its firewall and
// links stay there) driving cmd/modemsim over a pty: the gateway reaches
// its GSM API on the socket, as on the box.
type realNetctl struct {
	t   *testing.T
	ctl string // modemsim's control socket
	api netapi.Client
}

var (
	smsBinOnce sync.Once
	smsBinDir  string
	smsBinErr  error
)

// TestMain keeps go test's default of GOMAXPROCS parallel tests: make
// test runs this package beside the image package, whose emulated box
// (QEMU without KVM) starved with four call tests at once beside it
// (TestQEMUPPP's pppd was hung up a second after connecting, once). It
// then removes the binaries smsBinaries built.
func TestMain(m *testing.M) {
	testenv.DefaultParallel(runtime.GOMAXPROCS(0))
	code := m.Run()
	if smsBinDir != "" {
		os.RemoveAll(smsBinDir)
	}
	os.Exit(code)
}

// smsBinaries builds cmd/netctl and cmd/modemsim once per test binary.
func smsBinaries(t *testing.T) (netctlBin, modemsimBin string) {
	smsBinOnce.Do(func() {
		smsBinDir, smsBinErr = os.MkdirTemp("", "gw-sms-bin")
		if smsBinErr != nil {
			return
		}
		for _, p := range []string{"netctl", "modemsim"} {
			if out, err := exec.Command("go", "build", "-o", filepath.Join(smsBinDir, p), "edgebox/cmd/"+p).CombinedOutput(); err != nil {
				smsBinErr = fmt.Errorf("go build %s: %v\n%s", p, err, out)
				return
			}
		}
	})
	if smsBinErr != nil {
		t.Fatal(smsBinErr)
	}
	return filepath.Join(smsBinDir, "netctl"), filepath.Join(smsBinDir, "modemsim")
}

func startRealNetctl(t *testing.T) *realNetctl {
	t.Helper()
	testenv.RequireRoot(t, "ip")
	netctlBin, simBin := smsBinaries(t)
	dir := t.TempDir()
	r := &realNetctl{t: t, ctl: filepath.Join(dir, "modemsim.ctl")}
	// with a PCM port: netctl's GSM hub reports itself ready (voice set
	// up) only on a card with one, and the test waits for that
	audio := filepath.Join(dir, "pcm.sock")
	pty, sim := startModemsimProc(t, simBin, r.ctl, audio, "huawei-me909s")
	r.api = startNetctlProc(t, netctlBin, dir, "gwsms", modemNetwork(pty, "huawei-me909s", audio), sim)
	t.Setenv("EDGEBOX_RUN_DIR", dir) // the gateway runs in this process here
	err := testenv.Until(30*time.Second, "netctl's GSM API with the SIM read and voice set up", func() (bool, error) {
		st, err := r.api.GSMStatus(context.Background())
		// voice set up: netctl's GSM hub follows the modem it opened (an
		// SMS that came while the modem was still being opened was not
		// announced in a run without this wait)
		return err == nil && (st.IMSI != "" || st.Number != "") && st.Voice, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *realNetctl) control(cmd string) string {
	r.t.Helper()
	c, err := net.DialTimeout("unix", r.ctl, 5*time.Second)
	if err != nil {
		r.t.Fatalf("modemsim control: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintln(c, cmd)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "OK") {
		r.t.Fatalf("modemsim control %q: %q %v", cmd, line, err)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "OK"))
}

// sentSMS is what modemsim got from the box: each message's number and
// text, parts joined (UCS-2 and GSM 7-bit decoded).
func (r *realNetctl) sentSMS() map[string]string {
	r.t.Helper()
	var st struct {
		Sent []struct{ To, PDU string }
	}
	if err := json.Unmarshal([]byte(r.control("state")), &st); err != nil {
		r.t.Fatalf("modemsim state: %v", err)
	}
	parts := map[string][]*tpdu.TPDU{}
	for _, s := range st.Sent {
		to, p, err := modem.DecodeSubmit(s.PDU)
		if err != nil {
			r.t.Fatalf("PDU %s: %v", s.PDU, err)
		}
		parts[to] = append(parts[to], p)
	}
	out := map[string]string{}
	for to, ps := range parts {
		text, err := sms.Decode(ps)
		if err != nil {
			r.t.Fatalf("SMS to %s: %v", to, err)
		}
		out[to] = string(text)
	}
	return out
}

// Through the real netctl and modemsim: SMS with umlauts and emoji
// (UCS-2), one of them in three parts, arrive at SIPp as MESSAGEs, From
// their senders, To the SIM, each whole.
func TestGSMSMSThroughNetctlAndModemsim(t *testing.T) {
	r := startRealNetctl(t)
	pbx := startSIPp(t, "uas_sms_message", 2)
	startGateway(t, smsConfig(t, pbx.addr()))
	short := "Grüße aus Köln 😀"
	long := "Lieber Jürgen, " + strings.Repeat("schöne Grüße aus Köln! ", 7) + "👋"
	r.control("sms +4915550001 " + short)
	r.control("sms +4917012345678 " + long)
	pbx.wait(t, 30*time.Second)
	log := sippMessages(pbx)
	for _, want := range []string{short, long, "From: <sip:+4915550001@", "From: <sip:+4917012345678@", "X-SMS-Parts: 3"} {
		if !strings.Contains(log, want) {
			t.Errorf("the PBX got no %q", want)
		}
	}
}

// A SIM that stores no number (modemsim's, like most) is named by its
// IMSI in To.
func TestGSMSMSIdentityIsIMSIWithoutNumber(t *testing.T) {
	r := startRealNetctl(t)
	pbx := startSIPp(t, "uas_sms_message_imsi", 1)
	cfg := smsConfig(t, pbx.addr())
	cfg.GSM.SIMs[0].Number = ""
	startGateway(t, cfg)
	r.control("sms +4915550001 hallo")
	pbx.wait(t, 30*time.Second)
}

// Through the real netctl and modemsim: a MESSAGE from SIPp leaves as an
// SMS of two UCS-2 parts that modemsim decodes to the same text; the
// delivery reports of both parts (modemsim's +CDS) come back to SIPp as
// one MESSAGE.
func TestGSMMessageThroughNetctlAndModemsim(t *testing.T) {
	r := startRealNetctl(t)
	pbx := startSIPp(t, "uas_sms_report", 1)
	cfg := smsConfig(t, pbx.addr())
	startGateway(t, cfg)
	text := "Hallo Jürgen 👋 " + strings.Repeat("schöne Grüße ", 6)
	uac := startSIPp(t, "uac_sms_202", 1, "-inf", injection(t, "+4915550002;"+text), gatewaySIPAddr(cfg))
	uac.wait(t, 20*time.Second)
	// the parts leave one AT+CMGS each: read modemsim until the last
	// is there (the first alone decodes to the text's beginning)
	var got map[string]string
	deadline := time.Now().Add(30 * time.Second)
	for {
		got = r.sentSMS()
		if strings.TrimSpace(got["+4915550002"]) == strings.TrimSpace(text) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.TrimSpace(got["+4915550002"]) != strings.TrimSpace(text) {
		t.Errorf("modemsim got %q, want %q", got["+4915550002"], text)
	}
	pbx.wait(t, 60*time.Second)
}
