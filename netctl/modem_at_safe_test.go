package netctl

import "testing"

// TestCheckATAllowsOnlyKnownHarmless: without the unsafe flag only
// commands known to be harmless pass (and every query). The deny-list
// before let through whatever it did not name, and these do what the
// flag is for: raw SIM access (three wrong PIN VERIFY APDUs block the
// SIM), powering the modem off, a new SMS centre (outgoing SMS through
// someone else's), auto-answer, factory settings, call control and DTMF
// in a call, other vendors' APN credentials, deleting every SMS, SMS
// routing, detaching, data mode, and anything unknown.
func TestCheckATAllowsOnlyKnownHarmless(t *testing.T) {
	for _, c := range []string{
		`AT+CSIM=26,"0020000108FFFFFFFFFFFFFFFF"`, `AT+CRSM=214,28474,0,0,4,"FFFF"`, `AT+CGLA=1,10,"00A4040000"`, `AT+CCHO="A0000000871002"`,
		"AT+CPOF", "AT+QPOWD=1", "AT+CFUN?;+QPOWD", `AT+CSCA="+491710000000"`, "ATS0=1", "AT&F", "AT&W", "ATZ",
		"AT+CHLD=1", "AT+CHUP", "ATH", "AT+VTS=1", `AT$QCPDPP=1,1,"pw","user"`, `AT^AUTHDATA=1,1,"","pw","user"`,
		"AT+CMGD=1,4", "AT+CNMI=0,0,0,0,0", `AT+CPBW=1,"+4915550100"`, "AT+CGATT=0", "ATO", "AT+CMEE=0",
		`ATE0;+CSIM=10,"0020000108"`, "AT+XYZ=1", "AT!RESET", "AT%RESET",
	} {
		if err := checkAT(c, false); err == nil {
			t.Errorf("%q accepted without the unsafe flag", c)
		}
		if err := checkAT(c, true); err != nil {
			t.Errorf("%q refused with the unsafe flag: %v", c, err)
		}
	}
	for _, c := range []string{
		"AT+CGMM", "AT+CGMI", "AT+CGMR", "AT+CGSN", "AT+CIMI", "AT+CCID", "AT+QCCID", "AT^ICCID?", "AT+CNUM", "AT+CLCC",
		"AT+CESQ", "AT+QNWINFO", `AT+QENG="servingcell"`, "AT^SYSINFOEX", "AT^HCSQ?", "AT*ERINFO?", "AT+CGPADDR=1",
		"AT+CMGR=3", "AT+CEER", "ATI;+CSQ", "AT+CSIM=?", "AT+QPOWD=?", "AT+CSCA?",
	} {
		if err := checkAT(c, false); err != nil {
			t.Errorf("%q refused: %v", c, err)
		}
	}
}
