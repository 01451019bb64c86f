package modem

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEricssonTranscript(t *testing.T) {
	e, _ := newProfile("dell-dw5550")
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
	if err := e.Init(ctx(), never); !errors.Is(err, errNotReady) {
		t.Errorf("never ready: %v", err)
	}
	if n := strings.Count(strings.Join(never.sent, "\n"), "EMRDY"); n > 5 {
		t.Errorf("polled *EMRDY %d times in 600ms", n)
	}
}

func TestParseEricssonTables(t *testing.T) {
	for in, want := range map[string]LinkStatus{"1": {Connected: true}, "0": {}, "2": {Connecting: true}, "0,33": {Cause: "33 requested service option not subscribed"}} {
		if ls, err := parseENAP(in); err != nil || ls != want {
			t.Errorf("ENAP %q: %+v %v", in, ls, err)
		}
	}
	if _, err := parseENAP("7"); err == nil {
		t.Error("ENAP 7 parsed")
	}
	c, err := parseE2IPCFG(`(1,"10.155.68.129")(2,"10.155.68.131")(3,"80.251.192.244")(3,"80.251.192.245")`)
	if err != nil || c.Address.String() != "10.155.68.129/32" || c.Gateway.String() != "10.155.68.131" || len(c.DNS) != 2 {
		t.Errorf("E2IPCFG %+v %v", c, err)
	}
	// UCS-2 hex form (D5540/F3607gw with +CSCS="UCS2").
	c, err = parseE2IPCFG(`(1,"00310030002E00340039002E003100310036002E003100390034")(2,"00310030002E00340039002E003100310036002E003100390035")(3,"00310030002E003200300033002E00360035002E00370030")(3,"00380038002E00380032002E00310033002E00360031")`)
	if err != nil || c.Address.String() != "10.49.116.194/32" || c.Gateway.String() != "10.49.116.195" || fmt.Sprint(c.DNS) != "[10.203.65.70 88.82.13.61]" {
		t.Errorf("E2IPCFG UCS2 %+v %v", c, err)
	}
	c, err = parseE2IPCFG(`(1,"46.157.32.246")(2,"46.157.32.243")(3,"193.213.112.4")(3,"130.67.15.198")`)
	if err != nil || c.Address.String() != "46.157.32.246/32" || len(c.DNS) != 2 {
		t.Errorf("E2IPCFG %+v %v", c, err)
	}
	// IPv6 only: no IPv4 address for the box.
	if _, err := parseE2IPCFG(`(1,"fe80:0000:0000:0000:0000:0000:e537:1801")(3,"2001:4600:0004:0fff:0000:0000:0000:0054")`); err == nil {
		t.Error("IPv6-only E2IPCFG gave an IPv4 config")
	}
	if ls, err := parseENAP(`2,""`); err != nil || !ls.Connecting {
		t.Errorf(`*ENAP:2,"": %+v %v`, ls, err)
	}
	for _, bad := range []string{"", `(1,"x")`, `(1,"10.0.0.1"`, `1,"10.0.0.1"`} {
		if _, err := parseE2IPCFG(bad); err == nil {
			t.Errorf("E2IPCFG %q parsed", bad)
		}
	}
	if r, err := parseEMRDY("1"); err != nil || !r {
		t.Errorf("EMRDY %v %v", r, err)
	}
}

func TestParseEPIN(t *testing.T) {
	if a, err := parseEPIN("2,10,3,10"); err != nil || a.PIN != 2 || a.PUK != 10 {
		t.Errorf("EPIN %+v %v", a, err)
	}
}
