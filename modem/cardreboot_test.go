package modem_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
	"edgebox/modem"
)

// TestQuietRebootEchoOn: the card reboots by itself and its boot URCs are
// lost (sent while its USB port re-enumerated): all the box sees is echo
// on again and its settings gone (ATE1 state, CMEE 0, no registration
// URCs, the radio as it boots). The box must notice from the echo and set
// the card up again; the Ericsson card boots with its radio off.
func TestQuietRebootEchoOn(t *testing.T) {
	for _, p := range []string{"quectel-ec25", "huawei-me909s", "dell-dw5550", "generic"} {
		t.Run(p, func(t *testing.T) {
			r := newRig(t, p, nil)
			ctx := ctxT(t)
			r.sim.RebootQuietly()
			testenv.WaitFor(t, 10*time.Second, "the card set up again after its quiet reboot", func() (bool, error) {
				if _, err := r.m.Identity(ctx); err != nil {
					return false, err
				}
				st := r.sim.State()
				if st.Echo || st.CFUN != 1 {
					return false, fmt.Errorf("echo %v, CFUN %d", st.Echo, st.CFUN)
				}
				return true, nil
			})
			reg, err := r.m.Registration(ctx)
			if err != nil || !reg.State.Registered() {
				t.Fatalf("registration after the quiet reboot: %+v %v", reg, err)
			}
			r.known(t)
		})
	}
}

// TestSupportedCommandAnsweredOddly: a card answers a command it supports
// with a bare ERROR (CMEE ignored, or busy) or with NO CARRIER once. The
// query fails with an error that names the answer, the SIM is not taken
// for absent, and the next query is answered.
func TestSupportedCommandAnsweredOddly(t *testing.T) {
	r := newRig(t, "quectel-ec25", nil)
	ctx := ctxT(t)
	for _, final := range []string{"ERROR", "NO CARRIER"} {
		r.sim.FailNext("AT+CPIN?", final)
		st, err := r.m.SIM(ctx)
		if err == nil || st.State == modem.SIMAbsent || !strings.Contains(err.Error(), "modem answered") {
			t.Errorf("AT+CPIN? answered %s: %+v %v, want an error naming the answer and no 'absent'", final, st, err)
		}
		if st, err := r.m.SIM(ctx); err != nil || st.State != modem.SIMReady {
			t.Errorf("next AT+CPIN? after %s: %+v %v", final, st, err)
		}
		r.sim.FailNext("AT+CGSN", final)
		if _, err := r.m.Engine().Command(ctx, "AT+CGSN", 0); err == nil || errors.Is(err, modem.ErrTimeout) {
			t.Errorf("AT+CGSN answered %s: %v, want that answer as the error", final, err)
		}
		if id, err := r.m.Identity(ctx); err != nil || id.IMEI != "867223020123456" {
			t.Errorf("identity after %s: %+v %v", final, id, err)
		}
	}
	r.known(t)
}
