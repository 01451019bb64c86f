package netctl

import (
	"strings"
	"testing"
)

func TestCheckATRefusesUnsafeInEveryDisguise(t *testing.T) {
	for _, c := range []string{
		"ATD+4915550100;", "atd*99#", "ATE0D0019005550100;", "AT&FD123", "ATDL",
		"AT+CFUN=0", "at+cfun=4", "AT + C F U N = 0", "AT;+CFUN=0", "AT+CSQ;+CFUN=1,1", "ATE0+CFUN=0",
		`AT+CMSS=3,"+4915550100"`, "AT+CMGS=23", `AT+CCFC=0,3,"+4915550100"`, `AT+CGDCONT=1,"IP","evil"`,
		`AT+CLCK="SC",0,"1234"`, `AT+CPWD="SC","1234","4321"`, `AT+CPIN="1234"`, `AT;+CPIN="1234"`,
		`AT^NDISDUP=1,1,"x"`, "AT*ENAP=1,1", `AT+CUSD=1,"*100#"`, "AT^RESET", "AT*E2RESET",
		`AT+CSQ;+CMGS="x;y"`, "ATA",
	} {
		if err := checkAT(c, false); err == nil {
			t.Errorf("%q accepted without the unsafe flag", c)
		}
		if err := checkAT(c, true); err != nil {
			t.Errorf("%q refused with the unsafe flag: %v", c, err)
		}
	}
	for _, c := range []string{"AT", "AT+CSQ", "ATI", "AT+CFUN?", "AT+CPIN?", "AT+CGDCONT?", "AT+CFUN=?", `AT+CPMS="SM"`, "AT+CMGL=4", "ATE0", `AT+COPS?`, `AT+CSCS="UCS2"`} {
		if err := checkAT(c, false); err != nil {
			t.Errorf("%q refused: %v", c, err)
		}
	}
	for _, c := range []string{"", "A", "rm -rf /", "AT\r+CFUN=0", "AT\x1a", "AT+CSQ\n", `AT+CMGS="unterminated`, "AT" + strings.Repeat("E", 600)} {
		if err := checkAT(c, true); err == nil {
			t.Errorf("%q accepted", c)
		}
	}
}

func TestRedactATAnywhere(t *testing.T) {
	for _, c := range []string{
		`AT+CPIN="1234"`, `AT;+CPIN="1234"`, `at+cpin = "1234"`, `AT+CSQ;+CPIN="1234";+CSQ`, `AT + C P I N="1234"`,
		`AT+CPIN="12345678","1234"`, `AT+CLCK="SC",0,"1234"`, `AT+CPWD="SC","1234","5678"`, `AT^CPIN="1234"`,
		`AT*EIAAUW=1,1,"user","1234"`, `AT+CGAUTH=1,1,"user","1234"`, `AT+QICSGP=1,1,"apn","user","1234",1`,
	} {
		r := redactAT(c)
		if strings.Contains(r, "1234") || strings.Contains(r, "5678") {
			t.Errorf("%q logged as %q", c, r)
		}
	}
	if r := redactAT(`AT+CSQ;+CPIN="1234";+CGMM`); !strings.HasSuffix(r, ";+CGMM") {
		t.Errorf("redaction ate the next command: %q", r)
	}
}
