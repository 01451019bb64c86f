package netctl

import (
	"net/netip"
	"strings"
	"testing"

	"edgebox/api/netapi"
	"edgebox/internal/config"
)

func TestParseHealthTarget(t *testing.T) {
	ht, err := parseHealthTarget("tcp:192.0.2.1:443")
	if err != nil || ht.Kind != "tcp" || ht.Addr.Port() != 443 || ht.String() != "tcp:192.0.2.1:443" {
		t.Fatalf("%+v %v", ht, err)
	}
	ht, err = parseHealthTarget("icmp:192.0.2.9")
	if err != nil || ht.Kind != "icmp" || ht.String() != "icmp:192.0.2.9" {
		t.Fatalf("%+v %v", ht, err)
	}
	for _, bad := range []string{"", "icmp:", "icmp:host.example", "tcp:192.0.2.1", "tcp:192.0.2.1:0", "udp:192.0.2.1:53", "icmp:::1"} {
		if _, err := parseHealthTarget(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzParseHealthTarget: netctl accepts exactly what config validation
// accepts, and what it accepts prints back the same.
func FuzzParseHealthTarget(f *testing.F) {
	for _, s := range []string{"icmp:192.0.2.1", "tcp:192.0.2.1:443", "tcp:[::1]:80", "icmp:1.2.3", "tcp:1.2.3.4:65536"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ht, err := parseHealthTarget(s)
		if (err == nil) != (config.ValidHealthTarget(s) == nil) {
			t.Fatalf("%q: netctl %v, config %v", s, err, config.ValidHealthTarget(s))
		}
		if err == nil {
			again, err := parseHealthTarget(ht.String())
			if err != nil || again != ht {
				t.Fatalf("%q -> %q -> %+v %v", s, ht.String(), again, err)
			}
		}
	})
}

func TestRenderResolvConf(t *testing.T) {
	got := string(renderResolvConf("wan", []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("192.0.2.54"),
		netip.MustParseAddr("192.0.2.55"), netip.MustParseAddr("192.0.2.56")}))
	if strings.Count(got, "nameserver ") != 3 || !strings.Contains(got, "nameserver 192.0.2.53\n") || !strings.Contains(got, "uplink wan") {
		t.Fatalf("resolv.conf:\n%s", got)
	}
}

func TestRedactAT(t *testing.T) {
	for in, want := range map[string]string{
		`AT+CPIN="1234"`:        "AT+CPIN=<redacted>",
		`at+clck="SC",0,"1234"`: "at+clck=<redacted>",
		"AT+CSQ":                "AT+CSQ",
	} {
		if got := redactAT(in); got != want {
			t.Errorf("%s -> %s, want %s", in, got, want)
		}
	}
}

func TestValidSMS(t *testing.T) {
	if err := validSMS(netapi.SendSMSRequest{To: "+4915550001", Text: "hi"}); err != nil {
		t.Error(err)
	}
	for _, bad := range []netapi.SendSMSRequest{{To: "", Text: "x"}, {To: "12ab", Text: "x"}, {To: "123", Text: ""}, {To: "123", Text: strings.Repeat("x", 1531)}} {
		if validSMS(bad) == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestFirewallPlanHelpers(t *testing.T) {
	if d := ifnameData("tun*"); string(d) != "tun" {
		t.Errorf("prefix match data %q", d)
	}
	if d := ifnameData("wan0"); len(d) != 16 || string(d[:4]) != "wan0" || d[4] != 0 {
		t.Errorf("exact match data %q", d)
	}
	r, err := parseRanges([]string{"5060", "10000-20000"})
	if err != nil || len(r) != 2 || r[1] != (portRange{10000, 20000}) {
		t.Fatal(r, err)
	}
	a := firewallPlan{Uplinks: []string{"wan0"}, OpenUDP: r}
	b := a
	b.Uplinks = []string{"wan0", "lte0"}
	if !a.Equal(a) || a.Equal(b) {
		t.Error("plan equality")
	}
}
