package gateway

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

// An alphanumeric SMS sender becomes a user part that parses back to
// itself; numbers stay as they are.
func TestSMSSenderAsSIPUser(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"+4915550001", "+4915550001"},
		{"DHL Paket", "DHL%20Paket"},
		{"a@b<c>\"", "a%40b%3Cc%3E%22"},
		{"Grüße", "Gr%C3%BC%C3%9Fe"},
	} {
		got := sipUser(c.in)
		if got != c.want {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
		var u sip.Uri
		if err := sip.ParseUri("sip:"+got+"@box.example", &u); err != nil || u.Host != "box.example" {
			t.Errorf("%q: sip:%s@box.example does not parse: %v %+v", c.in, got, err, u)
		}
	}
}
