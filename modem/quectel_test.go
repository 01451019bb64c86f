package modem

import (
	"errors"
	"testing"
)

func TestQuectelTranscript(t *testing.T) {
	q, _ := newProfile("quectel-ec25")
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

func TestParseQNETDEVSTATUS(t *testing.T) {
	for _, c := range []struct {
		in        string
		ok, up    bool
		wantCause string
	}{
		{"1", true, true, ""},
		{"0", true, false, ""},
		{`1,0,"IPV4",27`, true, false, "27 missing or unknown APN"},
		{`1,1,"IPV4"`, true, true, ""},
		{`1,0,"IPV4",0`, true, false, ""},
		{"x", false, false, ""},
	} {
		ls, ok := parseQNETDEVSTATUS(c.in)
		if ok != c.ok || ls.Connected != c.up || ls.Cause != c.wantCause {
			t.Errorf("%q: %+v %v", c.in, ls, ok)
		}
	}
}

func TestParseQCSQ(t *testing.T) {
	q, err := ParseQCSQ(`"LTE",-52,-81,195,-10`)
	if err != nil || signalString(q) != "lte rssi=-52 rsrp=-81 rsrq=-10.0 sinr=19.0 rscp=- ecio=-" {
		t.Errorf("QCSQ: %s %v", signalString(q), err)
	}
}

func TestParseQPINC(t *testing.T) {
	if a, err := parseQPINC(`"SC",3,10`); err != nil || a.PIN != 3 || a.PUK != 10 {
		t.Errorf("QPINC %+v %v", a, err)
	}
}
