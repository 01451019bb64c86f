package modem

import (
	"strings"
	"testing"
)

// TestRedactATQuotedSemicolon: an APN password may hold a ';' (the config
// refuses only quotes and control characters). Inside quotes it does not
// end the command, so it must not end the redaction either: before, the
// log kept what followed it (`AT+CGAUTH=<redacted>;cret"`).
func TestRedactATQuotedSemicolon(t *testing.T) {
	for _, c := range []string{
		`AT+CGAUTH=1,1,"user","se;cret"`, `AT+QICSGP=1,1,"apn","user","se;cret",1`,
		`AT*EIAAUW=1,1,"user","se;cret"`, `AT^NDISDUP=1,1,"apn","user","se;cret",2`,
		`AT+CGAUTH=1,1,"user","se;cret`, // unterminated: the rest of the line
	} {
		if r := RedactAT(c); strings.Contains(r, "cret") {
			t.Errorf("%q logged as %q", c, r)
		}
	}
	if r := RedactAT(`AT+CGAUTH=1,1,"u","p;w";+CGMM`); r != `AT+CGAUTH=<redacted>;+CGMM` {
		t.Errorf("redaction with a quoted ';' then a command: %q", r)
	}
	if r := RedactAT(`AT+CSQ;+CPIN="1234";+CGMM`); r != `AT+CSQ;+CPIN=<redacted>;+CGMM` {
		t.Errorf("redaction ate or kept too much: %q", r)
	}
}

// TestRedactATRawSIMAndVendorCredentials: a VERIFY APDU through +CSIM or
// +CGLA carries the PIN in hex, and Sierra's $QCPDPP and Huawei's
// ^AUTHDATA carry APN passwords: all passthrough-able with the unsafe
// flag, all logged. Before, they were logged as typed.
func TestRedactATRawSIMAndVendorCredentials(t *testing.T) {
	for _, c := range []string{
		`AT+CSIM=26,"002000010831323334FFFFFFFF"`, `AT+CGLA=1,26,"002000010831323334FFFFFFFF"`,
		`AT$QCPDPP=1,1,"31323334","user"`, `AT^AUTHDATA=1,1,"","31323334","user"`,
	} {
		if r := RedactAT(c); strings.Contains(r, "31323334") {
			t.Errorf("%q logged as %q", c, r)
		}
	}
}
