package gateway_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/config"
)

// The SMS half of the GSM bridge (issue 19) against SIPp as the PBX and
// netctl's GSM API on its socket.

const simNumber = "+4915550009"

// smsConfig is a gateway toward pbx with one SIM whose SMS go to the PBX
// as MESSAGE, allowed to send to German mobiles (+4915*, +4917*).
func smsConfig(t *testing.T, pbx string) config.Gateway {
	c := testConfig(t, pbx)
	c.GSM = config.GatewayGSM{Enabled: true, StoreDir: t.TempDir(), RetrySec: 1, SIMs: []config.GSMSIM{{
		Slot: "1", Number: simNumber, CountryCode: "49",
		SMS: config.GSMSMS{MessageURI: "sip:sms@127.0.0.1", Allow: []string{"+4915*", "+4917*"}, RatePerMinute: 600, Burst: 20},
	}}}
	return c
}

// sippMessages is everything SIPp logged having sent and received.
func sippMessages(s *sipp) string {
	files, _ := filepath.Glob(filepath.Join(s.logs, "*_messages.log"))
	var b strings.Builder
	for _, f := range files {
		data, _ := os.ReadFile(f)
		b.Write(data)
	}
	return b.String()
}

// storeItems counts the messages the bridge holds undelivered.
func storeItems(t *testing.T, dir string) int {
	files, err := filepath.Glob(filepath.Join(dir, "item-*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return len(files)
}

func gatewaySIPAddr(cfg config.Gateway) string { return cfg.SIP.Listen[0].Address }

// injection writes a SIPp injection file: number;text per line.
func injection(t *testing.T, rows ...string) string {
	p := filepath.Join(t.TempDir(), "rows.csv")
	if err := os.WriteFile(p, []byte("SEQUENTIAL\n"+strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A received SMS reaches the PBX as MESSAGE: From the sender at the box,
// To the SIM's number, the text as the body, umlauts, emoji and a
// multipart message whole.
func TestGSMSMSToPBXMessage(t *testing.T) {
	n := startNetctlGSM(t)
	pbx := startSIPp(t, "uas_sms_message", 3)
	cfg := smsConfig(t, pbx.addr())
	startGateway(t, cfg)

	umlauts := "Grüße aus Köln – schöne Tage! 😀🎉"
	long := strings.Repeat("Dies ist ein langer Text über mehrere Teile. ", 9)
	n.receive("1", "+4915550001", "Hallo Box", 1)
	n.receive("2", "+4917012345678", umlauts, 1)
	n.receive("3", "+4915550003", long, 3)
	pbx.wait(t, 30*time.Second)

	log := sippMessages(pbx)
	for _, want := range []string{"From: <sip:+4915550001@127.0.0.1>", "From: <sip:+4917012345678@127.0.0.1>", "To: <sip:" + simNumber + "@127.0.0.1>",
		"Hallo Box", umlauts, long, "X-SMS-Parts: 3", "X-GSM-Slot: 1"} {
		if !strings.Contains(log, want) {
			t.Errorf("the PBX got no %q", want)
		}
	}
	waitFor(t, 5*time.Second, "store emptied after delivery", func() bool { return storeItems(t, cfg.GSM.StoreDir) == 0 })
}

// A MESSAGE from the PBX to sip:+NUMBER@box becomes an SMS (checked at
// netctl's API), answered 202; its delivery report comes back to the
// PBX as a MESSAGE to the agent that sent it.
func TestGSMMessageFromPBXToSMS(t *testing.T) {
	n := startNetctlGSM(t)
	pbx := startSIPp(t, "uas_sms_report", 1)
	cfg := smsConfig(t, pbx.addr())
	hook := &webhookRecorder{secret: "webhook-secret-0123456789"}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	cfg.GSM.SIMs[0].SMS.WebhookURL, cfg.GSM.SIMs[0].SMS.WebhookSecret = srv.URL, hook.secret
	startGateway(t, cfg)

	text := "Hallo Jürgen 👋 wie geht’s?"
	uac := startSIPp(t, "uac_sms_202", 1, "-inf", injection(t, "+4915550002;"+text), gatewaySIPAddr(cfg))
	uac.wait(t, 20*time.Second)
	waitFor(t, 10*time.Second, "SMS handed to netctl", func() bool { return len(n.sentSMS()) == 1 })
	got := n.sentSMS()[0]
	if got.To != "+4915550002" || strings.TrimSpace(got.Text) != text {
		t.Fatalf("netctl was asked to send %+v, want to +4915550002 %q", got, text)
	}
	n.report(1, "+4915550002", "delivered")
	pbx.wait(t, 20*time.Second)
	if log := sippMessages(pbx); !strings.Contains(log, "SMS to +4915550002: delivered") {
		t.Errorf("report body missing:\n%s", log)
	}
	// the webhook gets the report too
	waitFor(t, 10*time.Second, "report at the webhook", func() bool { return len(hook.received()) == 1 })
	if got := hook.received()[0]; got["type"] != "sms_status" || got["to"] != "+4915550002" || got["status"] != "delivered" {
		t.Errorf("webhook report %v", got)
	}
}

// The allow-list refuses premium, international, short codes and
// anything not listed with 403 and a Warning that says why; nothing
// reaches netctl. A MESSAGE from an address other than the PBX's is
// refused too.
func TestGSMMessageAllowListRefuses(t *testing.T) {
	n := startNetctlGSM(t)
	cfg := smsConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	startGateway(t, cfg)
	rows := []string{"+4990012345678;premium", "0900123456;premium national", "+442071234567;international",
		"11222;short code", "+4930123456;landline not listed"}
	uac := startSIPp(t, "uac_sms_403", len(rows), "-inf", injection(t, rows...), gatewaySIPAddr(cfg))
	uac.wait(t, 20*time.Second)
	log := sippMessages(uac)
	for _, want := range []string{"403 Premium Number Refused", "403 International Number Refused", "403 Short Code Refused",
		"403 Destination Not Allowed", "Warning: 399 edgebox-gateway", "gateway.gsm.sims[0].sms.international is off"} {
		if !strings.Contains(log, want) {
			t.Errorf("no %q in the answers", want)
		}
	}
	if s := n.sentSMS(); len(s) != 0 {
		t.Errorf("refused SMS reached netctl: %+v", s)
	}

	// a stranger at 127.0.0.2 gets 403 before the allow-list is asked
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	gw, _ := net.ResolveUDPAddr("udp4", gatewaySIPAddr(cfg))
	msg := fmt.Sprintf("MESSAGE sip:+4915550002@%[1]s SIP/2.0\r\nVia: SIP/2.0/UDP %[2]s;branch=z9hG4bK-stranger1\r\nFrom: <sip:x@%[2]s>;tag=s1\r\n"+
		"To: <sip:+4915550002@%[1]s>\r\nCall-ID: stranger-1\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
		gw.String(), c.LocalAddr().String())
	if _, err := c.WriteToUDP([]byte(msg), gw); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	k, _, err := c.ReadFromUDP(buf)
	if err != nil || !strings.HasPrefix(string(buf[:k]), "SIP/2.0 403") {
		t.Errorf("stranger's MESSAGE: %q %v, want 403", buf[:k], err)
	}
	if s := n.sentSMS(); len(s) != 0 {
		t.Errorf("a stranger's SMS reached netctl: %+v", s)
	}
}

// Over the SIM's rate the PBX gets 503 with Retry-After.
func TestGSMMessageRateLimit(t *testing.T) {
	n := startNetctlGSM(t)
	cfg := smsConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	cfg.GSM.SIMs[0].SMS.RatePerMinute, cfg.GSM.SIMs[0].SMS.Burst = 1, 2
	startGateway(t, cfg)
	ok := startSIPp(t, "uac_sms_202", 2, "-inf", injection(t, "+4915550002;eins", "+4915550002;zwei"), gatewaySIPAddr(cfg))
	ok.wait(t, 20*time.Second)
	over := startSIPp(t, "uac_sms_503", 1, "-inf", injection(t, "+4915550002;drei"), gatewaySIPAddr(cfg))
	over.wait(t, 20*time.Second)
	if log := sippMessages(over); !strings.Contains(log, "503 Rate Limited") || !strings.Contains(log, "Retry-After: ") {
		t.Errorf("no 503 with Retry-After:\n%s", log)
	}
	waitFor(t, 10*time.Second, "two SMS sent", func() bool { return len(n.sentSMS()) == 2 })
	time.Sleep(300 * time.Millisecond)
	if s := n.sentSMS(); len(s) != 2 {
		t.Errorf("netctl got %d SMS, want the 2 under the limit", len(s))
	}
}

// webhookRecorder verifies each request's signature with the secret,
// independently of the gateway's code, answering fail first.
type webhookRecorder struct {
	secret string
	mu     sync.Mutex
	fail   int
	got    []map[string]any
	errs   []string
}

func (h *webhookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts := r.Header.Get(gateway.WebhookTimestampHeader)
	m := hmac.New(sha256.New, []byte(h.secret))
	m.Write([]byte(ts + "." + string(body)))
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	h.mu.Lock()
	defer h.mu.Unlock()
	if !hmac.Equal([]byte(r.Header.Get(gateway.WebhookSignatureHeader)), []byte(want)) {
		h.errs = append(h.errs, "bad signature "+r.Header.Get(gateway.WebhookSignatureHeader))
		w.WriteHeader(401)
		return
	}
	if h.fail > 0 {
		h.fail--
		w.WriteHeader(500)
		return
	}
	var v map[string]any
	json.Unmarshal(body, &v)
	h.got = append(h.got, v)
	w.WriteHeader(204)
}

func (h *webhookRecorder) received() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.got...)
}

// The webhook gets each SMS signed (HMAC-SHA256 of timestamp.body),
// again after it failed, until it answers 2xx.
func TestGSMWebhookSigned(t *testing.T) {
	n := startNetctlGSM(t)
	hook := &webhookRecorder{secret: "webhook-secret-0123456789", fail: 1}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	cfg := smsConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	cfg.GSM.SIMs[0].SMS.MessageURI = ""
	cfg.GSM.SIMs[0].SMS.WebhookURL, cfg.GSM.SIMs[0].SMS.WebhookSecret = srv.URL+"/sms", hook.secret
	startGateway(t, cfg)
	n.receive("7", "+4915550007", "Rückruf bitte 📞", 1)
	waitFor(t, 15*time.Second, "webhook delivery after one failure", func() bool { return len(hook.received()) == 1 })
	got := hook.received()[0]
	if got["type"] != "sms" || got["from"] != "+4915550007" || got["text"] != "Rückruf bitte 📞" || got["sim"] != simNumber || got["slot"] != "1" {
		t.Errorf("webhook body %v", got)
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if len(hook.errs) > 0 {
		t.Errorf("signature check failed: %v", hook.errs)
	}
}

// A received SMS the PBX has not taken survives a gateway restart (it is
// in the store, not in netctl's events any more) and reaches the PBX
// once it answers.
func TestGSMStoreSurvivesRestart(t *testing.T) {
	n := startNetctlGSM(t)
	cfg := smsConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t))) // nobody answers there
	svc, err := gateway.New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	n.receive("42", "+4915550042", "bitte zurückrufen", 1)
	waitFor(t, 10*time.Second, "SMS stored", func() bool { return storeItems(t, cfg.GSM.StoreDir) == 1 })
	svc.Close()

	startNetctlGSM(t) // netctl's events no longer hold it
	pbx := startSIPp(t, "uas_sms_message", 1)
	cfg2 := smsConfig(t, pbx.addr())
	cfg2.GSM.StoreDir = cfg.GSM.StoreDir
	startGateway(t, cfg2)
	pbx.wait(t, 30*time.Second)
	if log := sippMessages(pbx); !strings.Contains(log, "bitte zurückrufen") || !strings.Contains(log, "+4915550042@") {
		t.Errorf("the PBX did not get the stored SMS:\n%s", log)
	}
	waitFor(t, 5*time.Second, "store emptied", func() bool { return storeItems(t, cfg.GSM.StoreDir) == 0 })
}

// A full store takes no more SMS (they wait in netctl) and takes them
// once room is made; none is lost.
func TestGSMStoreFull(t *testing.T) {
	n := startNetctlGSM(t)
	hook := &webhookRecorder{secret: "webhook-secret-0123456789", fail: 1 << 30}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	cfg := smsConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	cfg.GSM.StoreMax = 1
	cfg.GSM.SIMs[0].SMS.MessageURI = ""
	cfg.GSM.SIMs[0].SMS.WebhookURL, cfg.GSM.SIMs[0].SMS.WebhookSecret = srv.URL, hook.secret
	svc := startGateway(t, cfg)
	n.receive("a", "+4915550001", "eins", 1)
	n.receive("b", "+4915550002", "zwei", 1)
	waitFor(t, 10*time.Second, "first SMS stored", func() bool { return storeItems(t, cfg.GSM.StoreDir) == 1 })
	time.Sleep(time.Second)
	if k := storeItems(t, cfg.GSM.StoreDir); k != 1 {
		t.Fatalf("store holds %d, its maximum is 1", k)
	}
	waitFor(t, 10*time.Second, "store-full metric", func() bool { return metricValue(t, svc, "edgebox_gateway_sms_store_full") == "1" })
	if v := metricValue(t, svc, "edgebox_gateway_sms_pending"); v != "1" {
		t.Errorf("sms_pending %q, want 1", v)
	}
	hook.mu.Lock()
	hook.fail = 0
	hook.mu.Unlock()
	waitFor(t, 30*time.Second, "both SMS delivered", func() bool { return len(hook.received()) == 2 })
	waitFor(t, 5*time.Second, "metrics back to 0", func() bool {
		return metricValue(t, svc, "edgebox_gateway_sms_store_full") == "0" && metricValue(t, svc, "edgebox_gateway_sms_pending") == "0"
	})
	if a, b := hook.received()[0]["text"], hook.received()[1]["text"]; a != "eins" || b != "zwei" {
		t.Errorf("delivered %v then %v", a, b)
	}
}

// An SMS netctl stored while the gateway was down and whose event it
// never saw (a new netctl, its ring lost) is taken from netctl's store
// at start and reaches the PBX once; SMS from before the bridge first
// ran are left alone.
func TestGSMSMSWithoutEventTaken(t *testing.T) {
	n := startNetctlGSM(t)
	n.storeOnly("old", "+4915550100", "from before the bridge", 1)
	time.Sleep(10 * time.Millisecond)
	cfg := smsConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	svc, err := gateway.New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	n.receive("seen", "+4915550101", "announced", 1)
	waitFor(t, 10*time.Second, "announced SMS stored", func() bool { return storeItems(t, cfg.GSM.StoreDir) == 1 })
	svc.Close()

	n2 := startNetctlGSM(t) // restarted: no events, the store kept
	n2.stored = append(n2.stored, n.stored...)
	n2.storeOnly("lost", "+4915550102", "never announced", 1)
	pbx := startSIPp(t, "uas_sms_message", 2)
	cfg2 := smsConfig(t, pbx.addr())
	cfg2.GSM.StoreDir = cfg.GSM.StoreDir
	startGateway(t, cfg2)
	pbx.wait(t, 30*time.Second)
	log := sippMessages(pbx)
	for _, want := range []string{"From: <sip:+4915550101@", "From: <sip:+4915550102@", "never announced"} {
		if !strings.Contains(log, want) {
			t.Errorf("the PBX did not get %q", want)
		}
	}
	if strings.Contains(log, "from before the bridge") {
		t.Error("an SMS from before the bridge first ran was delivered")
	}
	time.Sleep(time.Second)
	if c := strings.Count(sippMessages(pbx), "MESSAGE sip:sms@"); c != 2 {
		t.Errorf("the PBX got %d MESSAGEs, want 2 (each SMS once)", c)
	}
}

// The box's MESSAGE answers the PBX's digest challenge with the trunk's
// account, as its calls do; a wrong password never gets it through.
func TestGSMMessageDigestAuth(t *testing.T) {
	n := startNetctlGSM(t)
	pbx := startSIPp(t, "uas_sms_auth", 1)
	cfg := smsConfig(t, pbx.addr())
	cfg.Trunk.Username, cfg.Trunk.Password = "trunkuser", "trunk-secret"
	startGateway(t, cfg)
	n.receive("auth-1", "+4915550001", "mit Anmeldung", 1)
	pbx.wait(t, 30*time.Second)
	waitFor(t, 5*time.Second, "store emptied", func() bool { return storeItems(t, cfg.GSM.StoreDir) == 0 })
}

// When netctl cannot send the SMS the PBX accepted (202), the PBX hears
// of it as a failed delivery report.
func TestGSMMessageSendFailureReported(t *testing.T) {
	n := startNetctlGSM(t)
	n.sendErr = "modem not registered: no network"
	pbx := startSIPp(t, "uas_sms_report_failed", 1)
	cfg := smsConfig(t, pbx.addr())
	startGateway(t, cfg)
	uac := startSIPp(t, "uac_sms_202", 1, "-inf", injection(t, "+4915550002;geht nicht"), gatewaySIPAddr(cfg))
	uac.wait(t, 20*time.Second)
	pbx.wait(t, 20*time.Second)
	if log := sippMessages(pbx); !strings.Contains(log, "SMS to +4915550002: failed") || !strings.Contains(log, "no network") {
		t.Errorf("failure report:\n%s", log)
	}
}

// What was stored under a SIM the config no longer lists is delivered
// through the first one after a restart (not a crash).
func TestGSMStoreAfterSIMRemoved(t *testing.T) {
	n := startNetctlGSM(t)
	cfg := smsConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	second := cfg.GSM.SIMs[0]
	second.Slot, second.AMISpan = "2", 9
	cfg.GSM.SIMs = append([]config.GSMSIM{second}, cfg.GSM.SIMs...) // the modem's slot "1" is sims[1]
	svc, err := gateway.New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	n.receive("s2", "+4915550077", "vom zweiten Platz", 1)
	waitFor(t, 10*time.Second, "SMS stored", func() bool { return storeItems(t, cfg.GSM.StoreDir) == 1 })
	svc.Close()
	pbx := startSIPp(t, "uas_sms_message", 1)
	cfg2 := smsConfig(t, pbx.addr())
	cfg2.GSM.StoreDir = cfg.GSM.StoreDir
	startGateway(t, cfg2)
	pbx.wait(t, 30*time.Second)
}

// SMS the PBX had 202 for but the gateway had not sent when it stopped
// come back to the PBX as failed reports after the restart.
func TestGSMUnsentSMSReportedAfterRestart(t *testing.T) {
	n := startNetctlGSM(t)
	n.hold = true // the modem takes forever
	cfg := smsConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	svc, err := gateway.New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	rows := []string{"+4915550002;eins", "+4915550002;zwei", "+4915550002;drei", "+4915550002;vier", "+4915550002;fünf", "+4915550002;sechs"}
	uac := startSIPp(t, "uac_sms_202", len(rows), "-inf", injection(t, rows...), gatewaySIPAddr(cfg))
	uac.wait(t, 20*time.Second)
	svc.Close()
	if k := storeItems(t, cfg.GSM.StoreDir); k != len(rows) {
		t.Fatalf("%d reports stored at the stop, want %d (one sending, the others queued)", k, len(rows))
	}
	pbx := startSIPp(t, "uas_sms_report_failed", len(rows))
	cfg2 := smsConfig(t, pbx.addr())
	cfg2.GSM.StoreDir = cfg.GSM.StoreDir
	cfg2.SIP.Listen = cfg.SIP.Listen
	startGateway(t, cfg2)
	pbx.wait(t, 30*time.Second)
}

// A draining box refuses a new MESSAGE from the PBX with 503 and
// Retry-After (a dispatcher in front of several boxes then sends it
// through another one at once) and hands nothing to netctl; after the
// undrain the same MESSAGE is taken.
func TestGSMMessageWhileDrainingRefused(t *testing.T) {
	n := startNetctlGSM(t)
	cfg := smsConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	svc := startGateway(t, cfg)
	pbx := newSIPPeer(t, "127.0.0.1", gatewaySIPAddr(cfg))
	send := func(n int) string {
		t.Helper()
		la := pbx.conn.LocalAddr().String()
		pbx.raw(t, []byte(fmt.Sprintf("MESSAGE sip:+4915550002@%[1]s SIP/2.0\r\nVia: SIP/2.0/UDP %[2]s;branch=z9hG4bK-drain%[3]d\r\n"+
			"From: <sip:agent@%[2]s>;tag=d%[3]d\r\nTo: <sip:+4915550002@%[1]s>\r\nCall-ID: drain-%[3]d\r\nCSeq: 1 MESSAGE\r\n"+
			"Max-Forwards: 70\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi", gatewaySIPAddr(cfg), la, n)))
		st, _ := pbx.response(t)
		return st
	}
	svc.Drain()
	if st := send(1); !strings.HasPrefix(st, "SIP/2.0 503") {
		t.Errorf("MESSAGE while draining: %q, want 503", st)
	}
	time.Sleep(300 * time.Millisecond)
	if s := n.sentSMS(); len(s) != 0 {
		t.Fatalf("a draining box sent an SMS: %+v", s)
	}
	svc.Undrain()
	if st := send(2); !strings.HasPrefix(st, "SIP/2.0 202") {
		t.Errorf("MESSAGE after the undrain: %q, want 202", st)
	}
	waitFor(t, 10*time.Second, "SMS handed to netctl", func() bool { return len(n.sentSMS()) == 1 })
}
