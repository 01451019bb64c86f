package modem_test

import (
	"testing"

	"edgebox/modem/modemsim"
)

// Band and the SIM's number arrive over a real pty from the simulated
// cards; a SIM without a stored number gives an empty one, not an error.
func TestBandAndNumberOverPTY(t *testing.T) {
	cases := []struct{ profile, number, band string }{
		{"quectel-ec25", "+491701234567", "LTE BAND 3"},
		{"huawei-me909s", "+491701234567", "LTE BAND 3"},
		{"ericsson-f5521gw", "", ""},
	}
	for _, c := range cases {
		t.Run(c.profile, func(t *testing.T) {
			r := newRig(t, c.profile, func(cfg *modemsim.Config) { cfg.Number = c.number })
			ctx := ctxT(t)
			id, err := r.m.Identity(ctx)
			if err != nil || id.Number != c.number {
				t.Fatalf("identity %+v %v, want number %q", id, err, c.number)
			}
			if c.profile == "ericsson-f5521gw" {
				if _, err := r.m.Engine().Command(ctx, "AT+CFUN=1", 0); err != nil {
					t.Fatal(err)
				}
			}
			sig, err := r.m.Signal(ctx)
			if err != nil || sig.Band != c.band {
				t.Fatalf("signal %+v %v, want band %q", sig, err, c.band)
			}
		})
	}
}
