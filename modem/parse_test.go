package modem

import (
	"errors"
	"fmt"
	"testing"
)

// Replies as the modems send them (vendor AT guides, ModemManager's test
// tables, logs from installers' chat scripts). One table per parser.

func TestFinalResultTable(t *testing.T) {
	cases := []struct {
		line  string
		final bool
		err   error
		code  int
	}{
		{"OK", true, nil, 0},
		{"CONNECT", true, nil, 0},
		{"CONNECT 7200000", true, nil, 0},
		{"ERROR", true, errError, 0},
		{"NO CARRIER", true, errNoCarrier, 0},
		{"BUSY", true, errBusy, 0},
		{"NO ANSWER", true, errNoAnswer, 0},
		{"NO DIALTONE", true, errNoDialtone, 0},
		{"COMMAND NOT SUPPORT", true, errNotSupported, 0},
		{"TOO MANY PARAMETERS", true, errTooManyParams, 0},
		{"+CME ERROR: 10", true, &CMEError{}, 10},
		{"+CME ERROR: 16", true, &CMEError{}, 16},
		{"+CME ERROR: SIM not inserted", true, &CMEError{}, 10},
		{"+CME ERROR: incorrect password", true, &CMEError{}, 16},
		{"+CME ERROR: 30", true, &CMEError{}, 30},
		{"+CMS ERROR: 500", true, &cmsError{}, 500},
		{"+CMS ERROR: 321", true, &cmsError{}, 321},
		{"+CREG: 1", false, nil, 0},
		{"OKAY", false, nil, 0},
		{"^NDISSTAT: 1,,,\"IPV4\"", false, nil, 0},
	}
	for _, c := range cases {
		final, err := FinalResult(c.line)
		if final != c.final {
			t.Errorf("%q: final %v", c.line, final)
			continue
		}
		switch want := c.err.(type) {
		case nil:
			if err != nil {
				t.Errorf("%q: err %v", c.line, err)
			}
		case *CMEError:
			var ce *CMEError
			if !errors.As(err, &ce) || ce.Code != c.code || ce.Meaning == "" {
				t.Errorf("%q: %v", c.line, err)
			}
		case *cmsError:
			var ce *cmsError
			if !errors.As(err, &ce) || ce.Code != c.code || ce.Meaning == "" {
				t.Errorf("%q: %v", c.line, err)
			}
		default:
			if !errors.Is(err, want) {
				t.Errorf("%q: %v, want %v", c.line, err, want)
			}
		}
	}
}

func TestUnsolicitedClassification(t *testing.T) {
	cases := []struct {
		cmd, line string
		urc       bool
	}{
		{"AT+CREG?", "+CREG: 2,1,\"00C3\",\"0000A13F\",7", false},
		{"AT+CREG?", "+CREG: 0,1", false},
		{"AT+CREG?", "+CREG: 1", true},
		{"AT+CREG?", "+CREG: 1,\"00C3\",\"0000A13F\",7", true},
		{"AT+CGREG?", "+CREG: 1", true},
		{"AT+CEREG?", "+CEREG: 2,1,\"D20A\",\"0A3C8B01\",7", false},
		{"AT^NDISSTATQRY?", "^NDISSTAT: 0,,,\"IPV4\"", true},
		{"AT^NDISSTAT?", "^NDISSTAT: 1,,,\"IPV4\"", false},
		{"AT+CSQ", "^RSSI: 17", true},
		{"AT+CSQ", "+CSQ: 17,99", false},
		{"AT+CMGL=4", "+CMTI: \"SM\",2", true},
		{"AT+CMGL=4", "+CMGL: 0,1,,23", false},
		{"AT+CMGL=4", "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07", false},
		{"AT*ENAP?", "*E2NAP: 1", true},
		{"AT*ENAP?", "*ENAP: 1", false},
		{"AT+CPIN?", "+CPIN: READY", false},
		{"AT+CSQ", "+CPIN: NOT READY", true},
		{"AT+CGMR", "11.608.13.02.00", false},
		{"AT+CGMR", "RING", true},
		{"AT+CREG?;+CGREG?", "+CGREG: 0,1", false},
		{"AT+QCSQ", "+QIURC: \"pdpdeact\",1", true}, // EC25 link drop: must reach LinkURC even mid-response
		{"AT+CGMM", "+CGEV: ME PDN ACT 1", true},
		{"AT+QNETDEVCTL?", "+QNETDEVSTATUS: 1,0,\"IPV4\",27", true},
		{"AT", "*EMRDY: 1", true},
	}
	for _, c := range cases {
		if got := isUnsolicited(c.line, ownedPrefixes(c.cmd)); got != c.urc {
			t.Errorf("%s / %q: unsolicited %v, want %v", c.cmd, c.line, got, c.urc)
		}
	}
}

func TestParseCREGTable(t *testing.T) {
	cases := []struct {
		line      string
		state     RegState
		lac, ci   string
		act       int
		solicited bool
	}{
		{"+CREG: 0,1", RegHome, "", "", -1, true},
		{"+CREG: 2,1,\"00C3\",\"0000A13F\",7", RegHome, "00C3", "0000A13F", 7, true},
		{"+CREG: 2,5,\"1A2B\",\"0345C5E1\",2", RegRoaming, "1A2B", "0345C5E1", 2, true},
		{"+CGREG: 2,1,\"A2B4\",\"01D2A2A3\",7,\"01\"", RegHome, "A2B4", "01D2A2A3", 7, true},
		{"+CEREG: 2,1,\"D20A\",\"0A3C8B01\",7", RegHome, "D20A", "0A3C8B01", 7, true},
		{"+CREG: 2,1,\"7b1a\",\"00d96a13\",2", RegHome, "7B1A", "00D96A13", 2, true}, // Ericsson, lower case
		{"+CREG: 1,0", RegNotRegistered, "", "", -1, true},
		{"+CGREG: 2,2", RegSearching, "", "", -1, true},
		{"+CREG: 2,3", RegDenied, "", "", -1, true},
		{"+CREG: 1", RegHome, "", "", -1, false},
		{"+CREG: 3", RegDenied, "", "", -1, false},
		{"+CREG: 1,\"00C3\",\"0000A13F\",7", RegHome, "00C3", "0000A13F", 7, false},
		{"+CEREG: 5,\"D20A\",\"0A3C8B01\",7", RegRoaming, "D20A", "0A3C8B01", 7, false},
		{"+CGREG: 4", RegUnknown, "", "", -1, false},
		// unquoted hex ids made of digits only: URCs, not answers with n
		{"+CEREG: 1,1234,01234567,7", RegHome, "1234", "01234567", 7, false},
		{"+CEREG: 5,0012,00000123,7", RegRoaming, "0012", "00000123", 7, false},
		{"+CEREG: 2,1,1234,01234567,7", RegHome, "1234", "01234567", 7, true},
		{"+CREG: 2,1, 3E9E, 82A2BA8,2", RegHome, "3E9E", "82A2BA8", 2, true},
	}
	for _, c := range cases {
		ri, err := ParseCREGLine(c.line)
		if err != nil {
			t.Errorf("%q: %v", c.line, err)
			continue
		}
		if (ri.N >= 0) != c.solicited || regStateOf(ri.Stat) != c.state || ri.LAC != c.lac || ri.CellID != c.ci || ri.AcT != c.act {
			t.Errorf("%q: %+v", c.line, ri)
		}
	}
	for _, bad := range []string{"+CREG: ", "+CREG: x", "+CREG: 99"} {
		if _, err := ParseCREGLine(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestParseCOPSTable(t *testing.T) {
	cases := []struct {
		in  string
		op  string
		act int
	}{
		{`0,0,"vodafone ES",2`, "vodafone ES", 2},
		{`0,0,"Telekom.de",7`, "Telekom.de", 7},
		{`0`, "", -1},
		{`1,2,"26201",7`, "26201", 7},
		{`0,0,"o2 - de"`, "o2 - de", -1},
	}
	for _, c := range cases {
		op, act, err := ParseCOPS(c.in)
		if err != nil || op != c.op || act != c.act {
			t.Errorf("%q: %q %d %v", c.in, op, act, err)
		}
	}
}

func TestParseSignalTables(t *testing.T) {
	csq := []struct {
		in  string
		dbm int
		ok  bool
	}{{"20,99", -73, true}, {"99,99", 0, false}, {"31,0", -51, true}, {"0,0", -113, true}, {"17,4", -79, true}}
	for _, c := range csq {
		dbm, ok, err := ParseCSQ(c.in)
		if err != nil || ok != c.ok || dbm != c.dbm {
			t.Errorf("CSQ %q: %d %v %v", c.in, dbm, ok, err)
		}
	}
	cesq := map[string]string{
		"99,99,255,255,20,45": "lte rssi=- rsrp=-96 rsrq=-10.0 sinr=- rscp=- ecio=-",
		"99,99,40,30,255,255": "umts rssi=- rsrp=- rsrq=- sinr=- rscp=-81 ecio=-9.5",
	}
	for in, want := range cesq {
		s, err := parseCESQ(in)
		if err != nil || signalString(s) != want {
			t.Errorf("CESQ %q: %s %v", in, signalString(s), err)
		}
	}
}

func TestParseSIMTables(t *testing.T) {
	for in, want := range map[string]SIMState{"READY": SIMReady, "SIM PIN": SIMPIN, "SIM PUK": SIMPUK, "NOT INSERTED": SIMAbsent, "NOT READY": SIMAbsent, "SIM PIN2": "sim-pin2", "PH-NET PIN": "ph-net-pin"} {
		if got, err := ParseCPIN(in); err != nil || got != want {
			t.Errorf("CPIN %q: %s %v", in, got, err)
		}
	}
	if c, n, err := parseCPINR("SIM PIN,3,3"); err != nil || c != "SIM PIN" || n != 3 {
		t.Errorf("CPINR %s %d %v", c, n, err)
	}
	for in, want := range map[string]string{
		"+CCID: 89014103211118510720":  "89014103211118510720",
		"^ICCID: 89860318760232867428": "89860318760232867428",
		"+QCCID: 8949020000123456789F": "8949020000123456789",
		"89490200001234567890":         "89490200001234567890",
		`+CCID: "8944500102198304826"`: "8944500102198304826",
		// BCD nibble-swapped forms (raw EF_ICCID), as some firmware sends them.
		`"984402003576012594F9"`:       "8944200053671052499",
		"^ICCID: 98231420326409614067": "89324102234690160476",
		"!ICCID: 8944200053671052499F": "8944200053671052499",
	} {
		if got, err := parseCCID(in); err != nil || got != want {
			t.Errorf("CCID %q: %q %v", in, got, err)
		}
	}
	for _, bad := range []string{"+CCID: ERROR", "12345", "+CCID: 8901410321111851072X"} {
		if _, err := parseCCID(bad); err == nil {
			t.Errorf("CCID %q parsed", bad)
		}
	}
	if v, err := parseIMEI("867223020123456"); err != nil || v != "867223020123456" {
		t.Errorf("IMEI %q %v", v, err)
	}
	if v, err := parseIMEI("+CGSN: \"356938035643809\""); err != nil || v != "356938035643809" {
		t.Errorf("IMEI %q %v", v, err)
	}
}

func TestParseSMSLists(t *testing.T) {
	lines := []string{
		"+CMGL: 0,1,,23", "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07",
		"+CMGL: 3,0,,24", "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD0700",
	}
	l, err := parseCMGL(lines)
	if err != nil || len(l) != 2 || l[1].Index != 3 || l[1].Stat != 0 {
		t.Fatalf("CMGL %+v %v", l, err)
	}
	if _, err := parseCMGL([]string{"+CMGL: 0,1,,23"}); err == nil {
		t.Error("CMGL without PDU parsed")
	}
	sp, found, err := parseCMGR([]string{"+CMGR: 0,,23", lines[1]})
	if err != nil || !found || sp.PDU != lines[1] {
		t.Fatalf("CMGR %+v %v %v", sp, found, err)
	}
	if _, found, err := parseCMGR(nil); found || err != nil {
		t.Fatal("empty CMGR")
	}
	if mem, i, err := parseCMTI(`"SM",3`); err != nil || mem != "SM" || i != 3 {
		t.Errorf("CMTI %s %d %v", mem, i, err)
	}
	if _, _, err := parseCMTI(`"SM",-1`); err == nil {
		t.Error("CMTI -1 parsed")
	}
}

// signalString shows every field of a Signal, '-' for the absent ones.
func signalString(s Signal) string {
	f := func(p *int) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	g := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf("%.1f", *p)
	}
	return fmt.Sprintf("%s rssi=%s rsrp=%s rsrq=%s sinr=%s rscp=%s ecio=%s", s.Tech, f(s.RSSI), f(s.RSRP), g(s.RSRQ), g(s.SINR), f(s.RSCP), g(s.EcIo))
}
