package modem

import (
	"errors"
	"testing"
)

func TestSierraAndGenericTranscript(t *testing.T) {
	s, _ := newProfile("sierra-mc8775")
	at := &fakeAT{replies: map[string][]string{`AT+CGDCONT=1,"IP","internet"`: {"OK"}}}
	if err := s.Connect(ctx(), at, APN{Name: "internet"}); err != nil || len(at.sent) != 1 {
		t.Fatalf("sierra connect: %v %q", err, at.sent)
	}
	if _, err := s.LinkStatus(ctx(), at); !errors.Is(err, ErrPPPOnly) || !s.PPPOnly() {
		t.Fatalf("sierra link: %v", err)
	}
	g, _ := newProfile("generic")
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
	if _, err := newProfile("nokia"); err == nil {
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
		if got := profileForModel(c.mf, c.md); got != c.want {
			t.Errorf("%s %s: %s", c.mf, c.md, got)
		}
	}
}
