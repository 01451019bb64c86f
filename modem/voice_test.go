package modem

import (
	"bufio"
	"context"
	"io"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// Where a line below comes from:
//   [cap]  a capture from a real card, as published in a log or code
//          comment (source named next to it);
//   [doc]  a 3GPP 27.007/23.040 example or a vendor manual, not a capture.

func TestParseCLIP(t *testing.T) {
	cases := []struct {
		line string
		want clip
	}{
		// [cap] SIM800 log in an Arduino sketch: national digits typed 145.
		{`+CLIP: "79261234888",145,"",,"",0`, clip{Number: "+79261234888", Type: 145, Validity: 0}},
		// [cap] +CLIP with the '+' printed (a C# GSM reader's log comment).
		{`+CLIP: "+13853093066",145,"",0,"",0`, clip{Number: "+13853093066", Type: 145, Validity: 0}},
		// [cap] older firmware: two fields only.
		{`+CLIP: "13800138000",129`, clip{Number: "13800138000", Type: 129, Validity: -1}},
		// [cap] withheld caller as several firmwares print it.
		{`+CLIP: "",128,"",,"",0`, clip{Type: 128, Validity: 0, Withheld: true, Reason: "withheld"}},
		// [doc] 27.007 7.18: CLI validity 1 = withheld by the caller.
		{`+CLIP: "",128,,,,1`, clip{Type: 128, Validity: 1, Withheld: true, Reason: "withheld"}},
		// [doc] CLI validity 2 = not available (interworking).
		{`+CLIP: "",128,,,,2`, clip{Type: 128, Validity: 2, Withheld: true, Reason: "unavailable"}},
		// [cap] two fields, empty number.
		{`+CLIP: "",128`, clip{Type: 128, Validity: -1, Withheld: true, Reason: "withheld"}},
	}
	for _, c := range cases {
		got, err := parseCLIP(afterColon(c.line))
		if err != nil {
			t.Errorf("%s: %v", c.line, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.line, got, c.want)
		}
	}
	for _, bad := range []string{"", `"123"`, `"123",abc`, `"",128,,,,7`} {
		if _, err := parseCLIP(bad); err == nil {
			t.Errorf("parseCLIP(%q) accepted", bad)
		}
	}
}

func TestParseCLCC(t *testing.T) {
	// [cap] Quectel MC20 code comment: an incoming call, national type 161
	// and a trailing empty alpha field.
	calls, err := ParseCLCC([]string{`+CLCC: 1,1,4,0,0,"656783741",161,""`})
	if err != nil || len(calls) != 1 {
		t.Fatalf("%v %v", calls, err)
	}
	want := Call{Index: 1, Incoming: true, State: CallIncoming, Number: "656783741", NumberType: 161}
	if calls[0] != want {
		t.Errorf("got %+v want %+v", calls[0], want)
	}
	// Several calls: [cap] SIM800 "+CLCC: 1,1,4,0,0,"7XXXXXXXXXX",145"
	// (digits without '+') and [doc] 27.007 shapes for held / MO alerting
	// / waiting / a withheld caller without number fields.
	lines := []string{
		`+CLCC: 1,1,1,0,0,"79261234888",145`,
		`+CLCC: 2,0,3,0,0,"+4915550100",145,""`,
		`+CLCC: 3,1,5,0,1,"",128`,
		`+CLCC: 4,0,0,0,0`,
		"OK-not-a-clcc-line",
	}
	calls, err = ParseCLCC(lines)
	if err != nil {
		t.Fatal(err)
	}
	wantAll := []Call{
		{Index: 1, Incoming: true, State: CallHeld, Number: "+79261234888", NumberType: 145},
		{Index: 2, Incoming: false, State: CallAlerting, Number: "+4915550100", NumberType: 145},
		{Index: 3, Incoming: true, State: CallWaiting, Multiparty: true, NumberType: 128},
		{Index: 4, State: CallActive, NumberType: -1},
	}
	if !reflect.DeepEqual(calls, wantAll) {
		t.Errorf("got  %+v\nwant %+v", calls, wantAll)
	}
	// [cap] chan_dongle at_parse.c comment: an empty number typed 145,
	// and one with non-digits as some networks send.
	calls, err = ParseCLCC([]string{`+CLCC: 1,1,4,0,0,"",145`, `+CLCC: 2,1,5,0,0,"+7913913ABCA",145`})
	if err != nil || calls[0].Number != "" || calls[1].Number != "+7913913ABCA" || calls[1].State != CallWaiting {
		t.Errorf("chan_dongle examples: %+v %v", calls, err)
	}
	// AT+CLCC without calls answers OK alone.
	if calls, err := ParseCLCC(nil); err != nil || len(calls) != 0 {
		t.Errorf("no calls: %v %v", calls, err)
	}
	for _, bad := range []string{"+CLCC: 1,1,4", "+CLCC: x,1,4,0,0", "+CLCC: 1,1,9,0,0", "+CLCC: 0,1,4,0,0", "+CLCC: 1,2,4,0,0"} {
		if _, err := ParseCLCC([]string{bad}); err == nil {
			t.Errorf("ParseCLCC(%q) accepted", bad)
		}
	}
}

func TestParseVoiceURC(t *testing.T) {
	cases := []struct {
		line string
		want VoiceEvent
	}{
		{"RING", VoiceEvent{Kind: VoiceRing, Cause: -1}},          // [doc] V.250
		{"+CRING: VOICE", VoiceEvent{Kind: VoiceRing, Cause: -1}}, // [doc] 27.007 +CRC=1
		{`+CLIP: "",128,,,,1`, VoiceEvent{Kind: VoiceCLIP, Withheld: true, Reason: "withheld", Cause: -1}},
		{`+CLIP: "+4915550100",145,,,,0`, VoiceEvent{Kind: VoiceCLIP, Number: "+4915550100", Cause: -1}},
		{"NO CARRIER", VoiceEvent{Kind: VoiceEnded, Reason: EndNoCarrier, Cause: -1}},
		{"BUSY", VoiceEvent{Kind: VoiceEnded, Reason: EndBusy, Cause: -1}},
		{"NO ANSWER", VoiceEvent{Kind: VoiceEnded, Reason: EndNoAnswer, Cause: -1}},
		// [cap] chan_dongle's at_command.c comment (Huawei E1550): the
		// MO call sequence ^ORIG, ^CONF, ^CONN.
		{"^ORIG:2,0", VoiceEvent{Kind: VoiceDialing, Call: 2, Cause: -1}},
		{"^CONF:2", VoiceEvent{Kind: VoiceAlerting, Call: 2, Cause: -1}},
		{"^CONN:2,0", VoiceEvent{Kind: VoiceConnected, Call: 2, Cause: -1}},
		// [cap] Huawei EM770W project comment: "^CEND: 1,9,67,16" then NO
		// CARRIER after a connected call ended (cause 16 normal clearing).
		{"^CEND: 1,9,67,16", VoiceEvent{Kind: VoiceEnded, Call: 1, Cause: 16}},
		// [doc] a Huawei test plan: AT+CHUP on a busy line, cause 17.
		{"^CEND:1,0,101,17,0", VoiceEvent{Kind: VoiceEnded, Call: 1, Cause: 17, Reason: EndBusy}},
		// [doc] Quectel AT+QTONEDET=1 reports the ASCII code: 49 = '1'.
		{"+QTONEDET: 49", VoiceEvent{Kind: VoiceDTMF, Digit: "1", Cause: -1}},
		{`+CDSI: "SM",3`, VoiceEvent{Kind: VoiceReportAt, Mem: "SM", Index: 3, Cause: -1}}, // [doc] 27.007
	}
	for _, c := range cases {
		got, ok := ParseVoiceURC(URC{Line: c.line, Time: time.Unix(1, 0)})
		if !ok {
			t.Errorf("%s: not a voice URC", c.line)
			continue
		}
		got.Time = time.Time{}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.line, got, c.want)
		}
	}
	for _, l := range []string{"+CRING: REL ASYNC", "+CREG: 1", "^CEND:x", "+QTONEDET: 7", "OK", "+CDS: 24"} {
		if ev, ok := ParseVoiceURC(URC{Line: l}); ok {
			t.Errorf("%s taken as %+v", l, ev)
		}
	}
}

// Real +CDS status reports (PDU mode).
func TestStatusReportCDS(t *testing.T) {
	cases := []struct {
		src, pdu  string
		ref       int
		recipient string
		status    string
		st        byte
	}{
		// [cap] ModemManager src/mm-modem-helpers.c, comment on
		// mm_3gpp_cds_regex_get: "+CDS: 24" — TP-ST 0x30, SC still trying.
		{"ModemManager", "07914356060013F10659098136395339F6219011707193802190117071938030", 0x59, "639335936", ReportPending, 0x30},
		// [cap] a Java SMS library's parser test: "+CDS: 25", delivered.
		{"java", "07915391131213F406030C91539133131316218030612015402180306120654000", 3, "+351933313161", ReportDelivered, 0},
	}
	for _, c := range cases {
		ev, ok := ParseVoiceURC(URC{Line: "+CDS: 24", PDU: c.pdu})
		if !ok || ev.Report == nil {
			t.Fatalf("%s: not decoded", c.src)
		}
		r := *ev.Report
		if r.Ref != c.ref || r.Recipient != c.recipient || r.Status != c.status || r.TPStatus != c.st {
			t.Errorf("%s: %+v", c.src, r)
		}
	}
	if _, err := decodeStatusReport("0011000B911326880736F40000A90AE8329BFD4697D9EC37"); err == nil {
		t.Error("an SMS-SUBMIT decoded as a status report")
	}
	// The simulator's encoder round-trips.
	h, n, err := EncodeStatusReport(200, "+491701234567", 0x46, time.Now(), time.Now())
	if err != nil || n < 20 {
		t.Fatal(h, n, err)
	}
	r, err := decodeStatusReport(h)
	if err != nil || r.Ref != 200 || r.Recipient != "+491701234567" || r.Status != ReportFailed {
		t.Errorf("%+v %v", r, err)
	}
}

// Every part the box sends asks for a status report (TP-SRR).
func TestSubmitRequestsStatusReport(t *testing.T) {
	enc := NewSMSEncoder(1)
	for _, text := range []string{"short", strings.Repeat("x", 300)} {
		pdus, err := enc.Submit("+491701234567", text)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range pdus {
			_, tp, err := DecodeSubmit(p.Hex)
			if err != nil {
				t.Fatal(err)
			}
			if !tp.FirstOctet.SRR() {
				t.Errorf("%d-char text, part %d: TP-SRR not set", len(text), i+1)
			}
		}
	}
}

func TestParseCEER(t *testing.T) {
	cases := map[string]string{
		`+CEER: "User busy"`:                           EndBusy,          // [doc] 24.008 cause name
		`+CEER: CC CAUSE 17`:                           EndBusy,          // [doc] numeric form (guessed layout)
		`+CEER: "Unassigned (unallocated) number"`:     EndInvalidNumber, // [doc]
		`+CEER: "No user responding"`:                  EndNoAnswer,      // [doc]
		`+CEER: "Normal call clearing"`:                "",               // [doc]: says nothing new
		`+CEER: "Invalid number format (incomplete nu`: EndInvalidNumber, // truncated line still matches
	}
	for l, want := range cases {
		if got := ParseCEER([]string{l}); got != want {
			t.Errorf("%s: %q, want %q", l, got, want)
		}
	}
}

func TestDialAndDTMFInputChecked(t *testing.T) {
	for _, ok := range []string{"+4915550100", "112", "0049301234"} {
		if err := CheckDialNumber(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "+", "123abc", "123;", "ATH", "1234567890123456789012", "12 34", ">1"} {
		if err := CheckDialNumber(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := CheckDTMF("0123456789*#ABCD"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "X", "12;ATH", "a"} {
		if err := CheckDTMF(bad); err == nil {
			t.Errorf("DTMF %q accepted", bad)
		}
	}
}

func TestHuaweiVoiceSetup(t *testing.T) {
	// [cap] a Huawei dongle's AT log published with a chan_dongle setup:
	// "AT^CVOICE?  ^CVOICE:0,8000,16,20  OK" (mode, rate, bits, frame ms);
	// a chan_dongle fork compares the reply with exactly this string.
	at := &fakeAT{replies: map[string][]string{"AT^CVOICE?": {"^CVOICE:0,8000,16,20", "OK"}}}
	vs, err := huaweiVoiceSetup(ctx2(), at)
	if err != nil || !vs.Capable || vs.AudioInterface != 1 {
		t.Errorf("%+v %v", vs, err)
	}
	if len(at.sent) != 1 {
		t.Errorf("voice already on, yet sent %q", at.sent)
	}
	// Voice off in a 4-field answer: ^CVOICE=0 turns it on, checked again.
	at = &fakeAT{seq: map[string][][]string{"AT^CVOICE?": {{"^CVOICE: 1,8000,16,20", "OK"}, {"^CVOICE: 0,8000,16,20", "OK"}}},
		replies: map[string][]string{"AT^CVOICE=0": {"OK"}}}
	if vs, err := huaweiVoiceSetup(ctx2(), at); err != nil || !vs.Capable || !reflect.DeepEqual(at.sent, []string{"AT^CVOICE?", "AT^CVOICE=0", "AT^CVOICE?"}) {
		t.Errorf("%+v %v %q", vs, err, at.sent)
	}
	// [cap] data-only firmware answers the mode alone, "^CVOICE:1" (a
	// TypeScript AT parser's test vector), and refuses ^CVOICE=0.
	at = &fakeAT{replies: map[string][]string{"AT^CVOICE?": {"^CVOICE:1", "OK"}, "AT^CVOICE=0": {"ERROR"}}}
	if vs, err := huaweiVoiceSetup(ctx2(), at); err != nil || vs.Capable || !strings.Contains(vs.Why, "data-only") {
		t.Errorf("^CVOICE:1: %+v %v", vs, err)
	}
	// [doc] firmware without the command: ERROR, COMMAND NOT SUPPORT (how
	// Huawei firmware refuses unknown commands), +CME ERROR (guessed).
	for _, final := range []string{"ERROR", "COMMAND NOT SUPPORT", "+CME ERROR: 100"} {
		at = &fakeAT{replies: map[string][]string{"AT^CVOICE?": {final}}}
		vs, err := huaweiVoiceSetup(ctx2(), at)
		if err != nil || vs.Capable || vs.Why == "" {
			t.Errorf("%s: %+v %v", final, vs, err)
		}
	}
	for _, bad := range []string{"", "0,8000", "x,8000,16,20"} {
		if _, _, _, _, err := parseCVOICE(bad); err == nil {
			t.Errorf("parseCVOICE(%q) accepted", bad)
		}
	}
	if v := voiceVendorFor("huawei-me909s"); v.afterConnect != "AT^DDSETEX=2" || v.dtmf(2, '5') != "AT^DTMF=2,5" {
		t.Errorf("huawei vendor %+v", v)
	}
}

func TestQuectelVoiceSetup(t *testing.T) {
	at := &fakeAT{replies: map[string][]string{"AT+QPCMV=1,0": {"OK"}, "AT+QTONEDET=1": {"OK"}}}
	vs, err := quectelVoiceSetup(ctx2(), at)
	if err != nil || !vs.Capable || vs.AudioInterface != 1 {
		t.Errorf("%+v %v", vs, err)
	}
	// UAC mode on: the card refuses the switch until voice is off.
	at = &fakeAT{replies: map[string][]string{"AT+QPCMV=0": {"OK"}, "AT+QTONEDET=1": {"ERROR"}}}
	at.replies["AT+QPCMV=1,0"] = []string{"ERROR"}
	if vs, _ := quectelVoiceSetup(ctx2(), at); vs.Capable {
		t.Errorf("refused twice yet capable: %+v", vs)
	}
	if !reflect.DeepEqual(at.sent[:3], []string{"AT+QPCMV=1,0", "AT+QPCMV=0", "AT+QPCMV=1,0"}) {
		t.Errorf("sent %q", at.sent)
	}
	for _, p := range []string{"ericsson-f5521gw", "dell-dw5550", "sierra-mc8775", "generic"} {
		vs, err := voiceVendorFor(p).setup(ctx2(), &fakeAT{})
		if err != nil || vs.Capable || vs.Why == "" {
			t.Errorf("%s: %+v %v", p, vs, err)
		}
	}
}

func ctx2() context.Context { return context.Background() }

// scriptedPort answers every command line with OK, except the commands in
// refuse (ERROR); it records what it was sent.
type scriptedPort struct {
	net.Conn
	peer   net.Conn
	refuse map[string]bool
	mu     sync.Mutex
	sent   []string
}

func newScriptedPort(refuse ...string) *scriptedPort {
	a, b := net.Pipe()
	p := &scriptedPort{Conn: a, peer: b, refuse: map[string]bool{}}
	for _, r := range refuse {
		p.refuse[r] = true
	}
	go func() {
		rd := bufio.NewReader(b)
		for {
			line, err := rd.ReadString('\r')
			if err != nil {
				return
			}
			cmd := strings.TrimSpace(line)
			p.mu.Lock()
			p.sent = append(p.sent, cmd)
			answer := "\r\nOK\r\n"
			if p.refuse[cmd] {
				answer = "\r\nERROR\r\n"
			}
			p.mu.Unlock()
			if _, err := b.Write([]byte(answer)); err != nil {
				return
			}
		}
	}()
	return p
}

func (p *scriptedPort) Close() error { p.peer.Close(); return p.Conn.Close() }

func (p *scriptedPort) commands() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.sent...)
}

// A card without AT+CHUP is hung up with ATH.
func TestHangupFallsBackToATH(t *testing.T) {
	port := newScriptedPort("AT+CHUP")
	m, err := Open(context.Background(), Options{Device: Device{Port: "scripted", Profile: "generic"}, CommandTimeout: time.Second,
		OpenPort: func() (io.ReadWriteCloser, error) { return port, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Hangup(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	sent := port.commands()
	if len(sent) < 2 || sent[len(sent)-2] != "AT+CHUP" || sent[len(sent)-1] != "ATH" {
		t.Fatalf("sent %q", sent)
	}
	// Both refused: the error names both.
	port.mu.Lock()
	port.refuse["ATH"] = true
	port.mu.Unlock()
	if err := m.Hangup(context.Background(), 0); err == nil || !strings.Contains(err.Error(), "ATH") {
		t.Fatalf("both refused: %v", err)
	}
}
