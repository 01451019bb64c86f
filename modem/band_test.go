package modem

import "testing"

// Real replies: Quectel EC25 (AT+QNWINFO), Huawei ME909s (AT^HFREQINFO?,
// Huawei's HFREQINFO format: n,sysmode,band_class,dl_fcn,...), any modem
// for AT+CNUM.
func TestParseBandAndNumber(t *testing.T) {
	cases := []struct {
		name, in, want string
		parse          func(string) (string, error)
		wantErr        bool
	}{
		{"qnwinfo lte", `"FDD LTE","26201","LTE BAND 3",1300`, "LTE BAND 3", parseQNWINFO, false},
		{"qnwinfo wcdma", `"WCDMA","26202","WCDMA 2100",10700`, "WCDMA 2100", parseQNWINFO, false},
		{"qnwinfo no service", `No Service`, "", parseQNWINFO, true},
		{"hfreqinfo lte b3", `0,6,3,1300,18150,15000,19300,17200,15000`, "LTE BAND 3", parseHFREQINFO, false},
		{"hfreqinfo lte b20", `0,6,20,6300,8060,10000,24300,8470,10000`, "LTE BAND 20", parseHFREQINFO, false},
		{"hfreqinfo wcdma", `0,3,1,10700,21400,5000,9750,19500,5000`, "WCDMA BAND 1", parseHFREQINFO, false},
		{"hfreqinfo no service", `0,0`, "", parseHFREQINFO, true},
		{"hfreqinfo bad band", `0,6,x,1300`, "", parseHFREQINFO, true},
		{"cnum stored", `"","+491701234567",145`, "+491701234567", parseCNUM, false},
		{"cnum named", `"Own number","01701234567",129`, "01701234567", parseCNUM, false},
		{"cnum empty", `"","",129`, "", parseCNUM, false},
		{"cnum garbage", `"","+49 170 SPAM",145`, "", parseCNUM, true},
		{"cnum short", ``, "", parseCNUM, true},
	}
	for _, c := range cases {
		got, err := c.parse(c.in)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("%s: %q, %v; want %q (error %v)", c.name, got, err, c.want, c.wantErr)
		}
	}
}

// The vendors' Signal path reads the band with the card's own command;
// a card without one (Ericsson) leaves it empty.
func TestBandPerVendor(t *testing.T) {
	cases := []struct {
		profile string
		replies map[string][]string
		want    string
	}{
		{"quectel-ec25", map[string][]string{
			"AT+QCSQ":    {`+QCSQ: "LTE",-52,-81,195,-10`, "OK"},
			"AT+QNWINFO": {`+QNWINFO: "FDD LTE","26201","LTE BAND 3",1300`, "OK"},
		}, "LTE BAND 3"},
		{"huawei-me909s", map[string][]string{
			"AT^HCSQ?":      {`^HCSQ: "LTE",49,50,147,28`, "OK"},
			"AT^HFREQINFO?": {"^HFREQINFO: 0,6,20,6300,8060,10000,24300,8470,10000", "OK"},
		}, "LTE BAND 20"},
		{"huawei-me909s", map[string][]string{ // older firmware without ^HFREQINFO
			"AT^HCSQ?":      {`^HCSQ: "LTE",49,50,147,28`, "OK"},
			"AT^HFREQINFO?": {"COMMAND NOT SUPPORT"},
		}, ""},
	}
	for _, c := range cases {
		p, err := newProfile(c.profile)
		if err != nil {
			t.Fatal(err)
		}
		at := &fakeAT{replies: c.replies}
		b, ok := p.(bandReader)
		if !ok {
			t.Fatalf("%s: no band reader", c.profile)
		}
		if got := b.Band(ctx(), at); got != c.want {
			t.Errorf("%s: band %q, want %q", c.profile, got, c.want)
		}
	}
	if p, _ := newProfile("ericsson-f5521gw"); p != nil {
		if _, ok := p.(bandReader); ok {
			t.Error("ericsson: no documented band command, yet a band reader")
		}
	}
}
