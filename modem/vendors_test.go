package modem

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fakeAT answers commands from a table of vendor replies: each reply is
// the raw lines up to and including the final result.
type fakeAT struct {
	replies map[string][]string
	seq     map[string][][]string // successive answers to the same command
	sent    []string
}

func (f *fakeAT) Command(ctx context.Context, cmd string, timeout time.Duration) (Response, error) {
	f.sent = append(f.sent, cmd)
	lines, ok := f.replies[cmd]
	if q := f.seq[cmd]; len(q) > 0 {
		lines, ok = q[0], true
		f.seq[cmd] = q[1:]
	}
	if !ok {
		return Response{}, &TimeoutError{Command: cmd, After: timeout}
	}
	var r Response
	for _, l := range lines {
		if final, err := FinalResult(l); final {
			r.Final = l
			if err != nil {
				return r, err
			}
			return r, nil
		}
		r.Lines = append(r.Lines, l)
	}
	return r, errors.New("transcript has no final result")
}

func ctx() context.Context { return context.Background() }

func TestHuaweiTranscript(t *testing.T) {
	h, _ := NewProfile("huawei-me909u")
	at := &fakeAT{replies: map[string][]string{
		"AT^NDISSTATQRY?": {"^NDISSTATQRY: 0,,,IPV6", "^NDISSTATQRY: 1,,,IPV4", "OK"},
		"AT^HCSQ?":        {`^HCSQ: "LTE",49,50,147,28`, "OK"},
		"AT^SYSINFOEX":    {`^SYSINFOEX: 2,3,0,1,,6,"LTE",101,"LTE"`, "OK"},
		"AT^DHCP?":        {"^DHCP: CCDB080A,F8FFFFFF,C9DB080A,C9DB080A,0E18820A,00000000,236800000,236800000", "OK"},
		"AT^NDISDUP=1,0":  {"ERROR"},
		"AT^CPIN?":        {"^CPIN: SIM PIN,3,10,3,10,3", "OK"},
		"AT^ICCID?":       {"^ICCID: 89860318760232867428", "OK"},
		`AT^NDISDUP=1,1,"internet","user","pass",2`: {"OK"},
	}}
	if ls, err := h.LinkStatus(ctx(), at); err != nil || !ls.Connected {
		t.Errorf("link %+v %v", ls, err)
	}
	if s, err := h.Signal(ctx(), at); err != nil || *s.RSRP != -91 || *s.SINR < 9.19 || s.Tech != TechLTE {
		t.Errorf("signal %+v %v", s, err)
	}
	if tech, err := h.Tech(ctx(), at); err != nil || tech != TechLTE {
		t.Errorf("tech %v %v", tech, err)
	}
	if c, err := h.AddressFromModem(ctx(), at); err != nil || c.Address.String() != "10.8.219.204/29" {
		t.Errorf("address %+v %v", c, err)
	}
	if err := h.Disconnect(ctx(), at); err != nil {
		t.Errorf("disconnect when already down: %v", err)
	}
	if a, err := h.PINAttempts(ctx(), at); err != nil || a.PIN != 3 || a.PUK != 10 {
		t.Errorf("attempts %+v %v", a, err)
	}
	if id, err := h.ICCID(ctx(), at); err != nil || id != "89860318760232867428" {
		t.Errorf("ICCID %q %v", id, err)
	}
	if err := h.Connect(ctx(), at, APN{Name: "internet", User: "user", Password: "pass", Auth: AuthCHAP}); err != nil {
		t.Errorf("connect: %v", err)
	}
	// Older firmware: no ^NDISSTATQRY, no ^HCSQ.
	old := &fakeAT{replies: map[string][]string{
		"AT^NDISSTATQRY?": {"COMMAND NOT SUPPORT"},
		"AT^NDISSTAT?":    {`^NDISSTAT: 1,,,"IPV4"`, "OK"},
		"AT^HCSQ?":        {"COMMAND NOT SUPPORT"},
		"AT+CSQ":          {"+CSQ: 17,99", "OK"},
	}}
	if ls, err := h.LinkStatus(ctx(), old); err != nil || !ls.Connected {
		t.Errorf("old firmware link %+v %v", ls, err)
	}
	if s, err := h.Signal(ctx(), old); err != nil || s.RSSI == nil || *s.RSSI != -79 {
		t.Errorf("old firmware signal %+v %v", s, err)
	}
}

func TestEricssonTranscript(t *testing.T) {
	e, _ := NewProfile("dell-dw5550")
	at := &fakeAT{
		replies: map[string][]string{
			"ATE0": {"OK"}, "AT+CMEE=1": {"OK"}, "AT+CREG=2": {"OK"}, "AT+CGREG=2": {"OK"},
			"AT+CEREG=2": {"ERROR"}, "AT+COPS=3,0": {"OK"}, "AT*E2NAP=1": {"OK"}, `AT+CSCS="GSM"`: {"OK"},
			"AT+CFUN=1": {"OK"}, `AT+CGDCONT=1,"IP","internet"`: {"OK"}, "AT*ENAP=1,1": {"OK"},
			"AT*ENAP?":    {"*ENAP: 1", "OK"},
			"AT*E2IPCFG?": {`*E2IPCFG: (1,"10.155.68.129")(2,"10.155.68.131")(3,"80.251.192.244")(3,"80.251.192.245")`, "OK"},
			"AT*ERINFO?":  {"*ERINFO: 0,0,2", "OK"},
			"AT*EPIN?":    {"*EPIN: 3,10,3,10", "OK"},
			"AT*ENAP=0":   {"OK"}, "AT+CFUN=4": {"OK"},
		},
		seq: map[string][][]string{"AT*EMRDY?": {{"+CME ERROR: 14"}, {"*EMRDY: 0", "OK"}, {"*EMRDY: 1", "OK"}}},
	}
	if err := e.Init(ctx(), at); err != nil {
		t.Fatal(err)
	}
	if err := e.Connect(ctx(), at, APN{Name: "internet"}); err != nil {
		t.Fatal(err)
	}
	// The DW5550 installer sequence, exactly.
	tail := at.sent[len(at.sent)-3:]
	if !reflect.DeepEqual(tail, []string{"AT+CFUN=1", `AT+CGDCONT=1,"IP","internet"`, "AT*ENAP=1,1"}) {
		t.Errorf("connect sequence %q", tail)
	}
	if ls, err := e.LinkStatus(ctx(), at); err != nil || !ls.Connected {
		t.Errorf("link %+v %v", ls, err)
	}
	if c, err := e.AddressFromModem(ctx(), at); err != nil || c.Gateway.String() != "10.155.68.131" || len(c.DNS) != 2 {
		t.Errorf("address %+v %v", c, err)
	}
	if tech, _ := e.Tech(ctx(), at); tech != TechHSPA {
		t.Errorf("tech %v", tech)
	}
	if a, err := e.PINAttempts(ctx(), at); err != nil || a.PIN != 3 {
		t.Errorf("attempts %+v %v", a, err)
	}
	if err := e.RadioOff(ctx(), at); err != nil || at.sent[len(at.sent)-1] != "AT+CFUN=4" {
		t.Errorf("radio off: %v %q", err, at.sent[len(at.sent)-1])
	}
	// A card that never gets ready is reported, not polled forever.
	never := &fakeAT{replies: map[string][]string{"ATE0": {"OK"}, "AT*EMRDY?": {"*EMRDY: 0", "OK"}}}
	e.(*ericsson).readyWait = 600 * time.Millisecond
	if err := e.Init(ctx(), never); !errors.Is(err, ErrNotReady) {
		t.Errorf("never ready: %v", err)
	}
	if n := strings.Count(strings.Join(never.sent, "\n"), "EMRDY"); n > 5 {
		t.Errorf("polled *EMRDY %d times in 600ms", n)
	}
}

func TestQuectelTranscript(t *testing.T) {
	q, _ := NewProfile("quectel-ec25")
	base := map[string][]string{"ATE0": {"OK"}, "AT+CMEE=1": {"OK"}, "AT+CREG=2": {"OK"}, "AT+CGREG=2": {"OK"}, "AT+CEREG=2": {"OK"}, "AT+COPS=3,0": {"OK"}, `AT+CSCS="GSM"`: {"OK"}}
	ecm := &fakeAT{replies: map[string][]string{`AT+QCFG="usbnet"`: {`+QCFG: "usbnet",1`, "OK"}}}
	qmi := &fakeAT{replies: map[string][]string{`AT+QCFG="usbnet"`: {`+QCFG: "usbnet",0`, "OK"}, `AT+QCFG="usbnet",1`: {"OK"}, "AT+CFUN=1,1": {"OK"}}}
	for k, v := range base {
		ecm.replies[k], qmi.replies[k] = v, v
	}
	if err := q.Init(ctx(), ecm); err != nil {
		t.Fatal(err)
	}
	if err := q.Init(ctx(), qmi); !errors.Is(err, ErrNeedsReset) || qmi.sent[len(qmi.sent)-1] != "AT+CFUN=1,1" {
		t.Fatalf("QMI mode: %v %q", err, qmi.sent)
	}
	at := &fakeAT{replies: map[string][]string{
		`AT+QICSGP=1,1,"internet","u","p",2`: {"OK"}, "AT+QNETDEVCTL=1,1,1": {"OK"},
		"AT+QNETDEVCTL?": {"+QNETDEVCTL: 1,1,1,1", "OK"},
		"AT+QCSQ":        {`+QCSQ: "LTE",-52,-81,195,-10`, "OK"},
		`AT+QPINC="SC"`:  {`+QPINC: "SC",3,10`, "OK"},
		"AT+QCCID":       {"+QCCID: 89860318760232867428", "OK"},
	}}
	if err := q.Connect(ctx(), at, APN{Name: "internet", User: "u", Password: "p", Auth: AuthCHAP}); err != nil {
		t.Fatal(err)
	}
	if ls, err := q.LinkStatus(ctx(), at); err != nil || !ls.Connected {
		t.Errorf("link %+v %v", ls, err)
	}
	if s, err := q.Signal(ctx(), at); err != nil || *s.RSRP != -81 {
		t.Errorf("signal %+v %v", s, err)
	}
	if a, err := q.PINAttempts(ctx(), at); err != nil || a.PUK != 10 {
		t.Errorf("attempts %+v %v", a, err)
	}
	if id, err := q.ICCID(ctx(), at); err != nil || id != "89860318760232867428" {
		t.Errorf("ICCID %q %v", id, err)
	}
}

func TestSierraAndGenericTranscript(t *testing.T) {
	s, _ := NewProfile("sierra-mc8775")
	at := &fakeAT{replies: map[string][]string{`AT+CGDCONT=1,"IP","internet"`: {"OK"}}}
	if err := s.Connect(ctx(), at, APN{Name: "internet"}); err != nil || len(at.sent) != 1 {
		t.Fatalf("sierra connect: %v %q", err, at.sent)
	}
	if _, err := s.LinkStatus(ctx(), at); !errors.Is(err, ErrPPPOnly) || !s.PPPOnly() {
		t.Fatalf("sierra link: %v", err)
	}
	g, _ := NewProfile("generic")
	at = &fakeAT{replies: map[string][]string{
		"AT+CESQ":         {"ERROR"},
		"AT+CSQ":          {"+CSQ: 20,99", "OK"},
		`AT+CPINR="SIM*"`: {"+CPINR: SIM PIN,2,3", "+CPINR: SIM PUK,9,10", "+CPINR: SIM PIN2,3,3", "OK"},
		"AT+CGACT?":       {"+CGACT: 1,1", "+CGACT: 2,0", "OK"},
		"AT+CCID":         {"+CCID: 89014103211118510720", "OK"},
	}}
	if sig, err := g.Signal(ctx(), at); err != nil || *sig.RSSI != -73 {
		t.Errorf("generic signal %+v %v", sig, err)
	}
	if a, err := g.PINAttempts(ctx(), at); err != nil || a.PIN != 2 || a.PUK != 9 {
		t.Errorf("generic attempts %+v %v", a, err)
	}
	if ls, err := g.LinkStatus(ctx(), at); err != nil || !ls.Connected {
		t.Errorf("generic link %+v %v", ls, err)
	}
	if _, err := NewProfile("nokia"); err == nil {
		t.Error("unknown profile accepted")
	}
	for _, c := range []struct{ mf, md, want string }{
		{"Huawei Technologies Co., Ltd.", "MU609", "huawei-mu609"},
		{"Huawei Technologies Co., Ltd.", "ME909u-521", "huawei-me909u"},
		{"Huawei Technologies Co., Ltd.", "ME909s-120", "huawei-me909s"},
		{"Ericsson", "F5521gw", "ericsson-f5521gw"},
		{"Dell Inc.", "DW5550", "dell-dw5550"},
		{"Quectel", "EC25", "quectel-ec25"},
		{"Sierra Wireless, Incorporated", "MC8775", "sierra-mc8775"},
		{"ACME", "X1", "generic"},
	} {
		if got := ProfileForModel(c.mf, c.md); got != c.want {
			t.Errorf("%s %s: %s", c.mf, c.md, got)
		}
	}
}
