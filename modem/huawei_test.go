package modem

import (
	"fmt"
	"testing"
)

func TestHuaweiTranscript(t *testing.T) {
	h, _ := newProfile("huawei-me909u")
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

func TestParseHuaweiTables(t *testing.T) {
	si := map[string]AccessTech{
		`2,3,0,1,,3,"WCDMA",41,"WCDMA"`:    TechUMTS,
		`2,3,0,1,,6,"LTE",101,"LTE"`:       TechLTE,
		`2,3,1,1,,3,"WCDMA",46,"DC-HSPA+"`: TechHSPAP,
		`2,3,0,1,,3,"WCDMA",43,"HSDPA"`:    TechHSDPA,
		`2,3,0,1,,1,"GSM",3,"EDGE"`:        TechEDGE,
		`2,4,5,1,,3,WCDMA,41,HSPA+`:        TechHSPAP,
		`2,4,5,1,0,3,"WCDMA",41,"HSPA+"`:   TechHSPAP,
	}
	for in, want := range si {
		s, err := parseSYSINFOEX(in)
		if err != nil || techOfHuaweiMode(s.SysModeName, s.SubModeName) != want {
			t.Errorf("SYSINFOEX %q: %+v %v", in, s, err)
		}
	}
	nd := []struct {
		in         string
		up, coming bool
	}{
		{`1,,,"IPV4"`, true, false},
		{`0,33,,"IPV4"`, false, false},
		{`1,,,"IPV4",0,,,"IPV6"`, true, false},
		{`0,,,"IPV4",0,,,"IPV6"`, false, false},
		{`0,,,"IPV4",1,,,"IPV6"`, false, false},
		{`0,,,"IPV6",1,,,"IPV4"`, true, false},
		{`2,,,"IPV4"`, false, true},
		{`1`, true, false},
		// Unquoted and one-line-per-family forms (joined by the caller),
		// as ModemManager's Huawei tests list them.
		{`1,,,IPV4`, true, false},
		{`0,,,IPV4`, false, false},
		{`1,,,IPV4,0,,,IPV6`, true, false},
		{`0,,,IPV6,1,,,IPV4`, true, false},
		{`0,,,IPV4,1,,,IPV6`, false, false},
		{`1,,,IPV6`, true, false}, // no IPv4 group: first group
	}
	for _, c := range nd {
		ls, err := parseNDISSTAT(c.in)
		if err != nil || ls.Connected != c.up || ls.Connecting != c.coming {
			t.Errorf("NDISSTAT %q: %+v %v", c.in, ls, err)
		}
	}
	if ls, _ := parseNDISSTAT(`0,33,,"IPV4"`); ls.Cause != "33 requested service option not subscribed" {
		t.Errorf("NDISSTAT cause %q", ls.Cause)
	}
	if ls, _ := parseNDISSTAT(`0,,,"IPV4"`); ls.Cause != "" {
		t.Errorf("plain disconnect has cause %q", ls.Cause)
	}
	h := &huawei{}
	if _, ok := h.LinkURC(`^NDISSTAT: 0,,,IPV6`); ok {
		t.Error("an IPv6-only ^NDISSTAT taken as the uplink's state")
	}
	if ls, ok := h.LinkURC(`^NDISSTAT: 0,,,"IPV4"`); !ok || ls.Connected {
		t.Error("IPv4 down URC not recognised")
	}
	dh := []struct{ in, addr, gw, dns string }{
		{"CCDB080A,F8FFFFFF,C9DB080A,C9DB080A,0E18820A,00000000,236800000,236800000", "10.8.219.204/29", "10.8.219.201", "[10.130.24.14]"},
		{"100000A,FCFFFFFF,200000A,200000A,808080A,404080A,43200000,5760000", "10.0.0.1/30", "10.0.0.2", "[10.8.8.8 10.8.4.4]"},
		{"CCDB080A,F8FFFFFF,C9DB080A,C9DB080A,0E18820A,0F18820A,43200000,5760000", "10.8.219.204/29", "10.8.219.201", "[10.130.24.14 10.130.24.15]"},
	}
	for _, c := range dh {
		ip, err := parseDHCP(c.in)
		if err != nil || ip.Address.String() != c.addr || ip.Gateway.String() != c.gw || fmt.Sprint(ip.DNS) != c.dns {
			t.Errorf("DHCP %q: %+v %v", c.in, ip, err)
		}
	}
	for _, bad := range []string{"", "ZZ,1,2,3,4,5", "0,0,0,0,0,0,0,0", "123456789,1,1,1,1,1"} {
		if _, err := parseDHCP(bad); err == nil {
			t.Errorf("DHCP %q parsed", bad)
		}
	}
}

func TestParseHCSQ(t *testing.T) {
	hcsq := map[string]string{
		`"LTE",49,50,147,28`:    "lte rssi=-72 rsrp=-91 rsrq=-6.0 sinr=9.2 rscp=- ecio=-",
		`"LTE",44,41,163,27`:    "lte rssi=-77 rsrp=-100 rsrq=-6.5 sinr=12.4 rscp=- ecio=-",
		`"WCDMA",30,30,58`:      "umts rssi=-91 rsrp=- rsrq=- sinr=- rscp=-91 ecio=-3.5",
		`"GSM",36`:              "gsm rssi=-85 rsrp=- rsrq=- sinr=- rscp=- ecio=-",
		`LTE,33,40,135,11`:      "lte rssi=-88 rsrp=-101 rsrq=-14.5 sinr=6.8 rscp=- ecio=-", // unquoted mode
		`"NOSERVICE"`:           " rssi=- rsrp=- rsrq=- sinr=- rscp=- ecio=-",
		`"LTE",255,255,255,255`: "lte rssi=- rsrp=- rsrq=- sinr=- rscp=- ecio=-",
	}
	for in, want := range hcsq {
		s, err := parseHCSQ(in)
		if err != nil || signalString(s) != want {
			t.Errorf("HCSQ %q: %s %v", in, signalString(s), err)
		}
	}
	if _, err := parseHCSQ(`"5G",1`); err == nil {
		t.Error("unknown ^HCSQ mode parsed")
	}
}

func TestParseHuaweiCPIN(t *testing.T) {
	st, a, err := parseHuaweiCPIN("SIM PIN,3,10,3,10,3")
	if err != nil || st != SIMPIN || a.PIN != 3 || a.PUK != 10 {
		t.Errorf("^CPIN: %s %+v %v", st, a, err)
	}
	st, a, err = parseHuaweiCPIN("READY,,10,2,10,3")
	if err != nil || st != SIMReady || a.PIN != 2 || a.PUK != 10 {
		t.Errorf("^CPIN ready: %s %+v %v", st, a, err)
	}
}
