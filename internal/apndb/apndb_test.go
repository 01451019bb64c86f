package apndb

import "testing"

func TestLookup(t *testing.T) {
	for _, c := range []struct{ in, apn string }{
		{"262021234567890", "web.vodafone.de"}, // IMSI, two-digit MNC
		{"26201", "internet.telekom"},
		{"310260123456789", "fast.t-mobile.com"}, // three-digit MNC
		{"901401234567890", "iot.1nce.net"},
		{"999991234567890", ""},
		{"26", ""},
	} {
		e, ok := Lookup(c.in)
		if ok != (c.apn != "") || e.APN != c.apn {
			t.Errorf("Lookup(%s) = %+v, %v; want %q", c.in, e, ok, c.apn)
		}
	}
	seen := map[string]bool{}
	for _, e := range table {
		if seen[e.MCCMNC] || len(e.MCCMNC) < 5 || len(e.MCCMNC) > 6 || e.APN == "" {
			t.Errorf("bad or duplicate entry %+v", e)
		}
		seen[e.MCCMNC] = true
	}
}
