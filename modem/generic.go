package modem

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The generic 3GPP profile (27.007 commands only) that the vendor
// profiles embed, and the command helpers they share.

type generic struct{}

func (generic) Name() string { return "generic" }

func cmd(ctx context.Context, at AT, c string) error {
	_, err := at.Command(ctx, c, 0)
	return err
}

// commonInit is what every profile does first.
func commonInit(ctx context.Context, at AT) error {
	if err := cmd(ctx, at, "ATE0"); err != nil {
		return err
	}
	if err := cmd(ctx, at, "AT+CMEE=1"); err != nil {
		return err
	}
	// Registration URCs with location; +CEREG is missing on 3G-only
	// modules and +CGREG=2 on some firmware: both optional.
	if err := cmd(ctx, at, "AT+CREG=2"); err != nil && !isModemAnswer(err) {
		return err
	}
	// String parameters (APN, *E2IPCFG answers) in plain text: someone
	// may have switched the card to UCS2 (passthrough, another program).
	for _, c := range []string{`AT+CSCS="GSM"`, "AT+CGREG=2", "AT+CEREG=2", "AT+COPS=3,0"} {
		if err := cmd(ctx, at, c); err != nil && !isModemAnswer(err) {
			return err
		}
	}
	return nil
}

// isModemAnswer is true for errors that are a final result from the
// modem (it is alive, it just refused), as opposed to timeouts.
func isModemAnswer(err error) bool {
	var c *CMEError
	var s *cmsError
	var r *resultError
	return errors.As(err, &c) || errors.As(err, &s) || errors.As(err, &r)
}

func (generic) Init(ctx context.Context, at AT) error { return commonInit(ctx, at) }

func setPDP(ctx context.Context, at AT, apn APN) error {
	return cmd(ctx, at, fmt.Sprintf(`AT+CGDCONT=1,"IP","%s"`, apn.Name))
}

func (generic) Connect(ctx context.Context, at AT, apn APN) error {
	if err := setPDP(ctx, at, apn); err != nil {
		return err
	}
	if apn.User != "" || apn.Auth != AuthNone && apn.Auth != "" {
		a := map[AuthType]int{AuthNone: 0, AuthPAP: 1, AuthCHAP: 2, "": 1}[apn.Auth]
		if err := cmd(ctx, at, fmt.Sprintf(`AT+CGAUTH=1,%d,"%s","%s"`, a, apn.User, apn.Password)); err != nil && !isModemAnswer(err) {
			return err
		}
	}
	_, err := at.Command(ctx, "AT+CGACT=1,1", 60*time.Second)
	return err
}

func (generic) Disconnect(ctx context.Context, at AT) error {
	return cmd(ctx, at, "AT+CGACT=0,1")
}

func (generic) LinkStatus(ctx context.Context, at AT) (LinkStatus, error) {
	r, err := at.Command(ctx, "AT+CGACT?", 0)
	if err != nil {
		return LinkStatus{}, err
	}
	for _, l := range r.Lines {
		if rest, ok := cutPrefixFold(l, "+CGACT:"); ok {
			f := Fields(rest)
			if len(f) == 2 && f[0] == "1" {
				return LinkStatus{Connected: f[1] == "1"}, nil
			}
		}
	}
	return LinkStatus{}, nil
}

func (generic) LinkURC(line string) (LinkStatus, bool) {
	if hasPrefixFold(line, "+CGEV:") && strings.Contains(strings.ToUpper(line), "DEACT") {
		return LinkStatus{}, true
	}
	return LinkStatus{}, false
}

func (generic) RadioOff(ctx context.Context, at AT) error { return cmd(ctx, at, "AT+CFUN=4") }

func (generic) ResetCommand() string { return "AT+CFUN=1,1" }

func (generic) AddressFromModem(ctx context.Context, at AT) (IPConfig, error) {
	return IPConfig{}, errors.New("this modem does not report its address: use DHCP")
}

func (generic) Signal(ctx context.Context, at AT) (Signal, error) { return signalCESQ(ctx, at) }

// signalCESQ tries +CESQ (LTE values) and falls back to +CSQ.
func signalCESQ(ctx context.Context, at AT) (Signal, error) {
	r, err := at.Command(ctx, "AT+CESQ", 0)
	if err == nil {
		if l, ok := r.Line("+CESQ:"); ok {
			if s, err := parseCESQ(l); err == nil && (s.RSRP != nil || s.RSCP != nil || s.RSSI != nil) {
				if s.RSSI == nil {
					if dbm, ok, err := csqSignal(ctx, at); err == nil && ok {
						s.RSSI = &dbm
					}
				}
				return s, nil
			}
		}
	} else if !isModemAnswer(err) {
		return Signal{}, err
	}
	return csqOnly(ctx, at)
}

func csqSignal(ctx context.Context, at AT) (int, bool, error) {
	r, err := at.Command(ctx, "AT+CSQ", 0)
	if err != nil {
		return 0, false, err
	}
	l, ok := r.Line("+CSQ:")
	if !ok {
		return 0, false, fmt.Errorf("AT+CSQ: no +CSQ line in %q", r.Lines)
	}
	return ParseCSQ(l)
}

func (generic) Tech(ctx context.Context, at AT) (AccessTech, error) { return TechUnknown, nil }

func (generic) PINAttempts(ctx context.Context, at AT) (pinAttempts, error) {
	r, err := at.Command(ctx, `AT+CPINR="SIM*"`, 0)
	a := pinAttempts{-1, -1}
	if err != nil {
		return a, err
	}
	for _, l := range r.Lines {
		if rest, ok := cutPrefixFold(l, "+CPINR:"); ok {
			code, n, err := parseCPINR(rest)
			if err != nil {
				continue
			}
			switch code {
			case "SIM PIN":
				a.PIN = n
			case "SIM PUK":
				a.PUK = n
			}
		}
	}
	return a, nil
}

func (generic) ICCID(ctx context.Context, at AT) (string, error) { return iccidVia(ctx, at, "AT+CCID") }

func iccidVia(ctx context.Context, at AT, c string) (string, error) {
	r, err := at.Command(ctx, c, 0)
	if err != nil {
		return "", err
	}
	for _, l := range r.Lines {
		if id, err := parseCCID(l); err == nil {
			return id, nil
		}
	}
	return "", fmt.Errorf("%s: no ICCID in %q", c, r.Lines)
}

func (generic) PreferModemAddress() bool { return false }

func (generic) PPPOnly() bool { return false }

func (generic) DialString() string { return "ATD*99***1#" }

func (generic) NetDriver() string { return "" }

// queryLine sends a query and returns the answer line that starts with
// prefix, or an error naming what was missing.
func queryLine(ctx context.Context, at AT, command, prefix string) (string, error) {
	r, err := at.Command(ctx, command, 0)
	if err != nil {
		return "", err
	}
	l, ok := r.Line(prefix)
	if !ok {
		return "", fmt.Errorf("%s missing in %q", strings.TrimSuffix(prefix, ":"), r.Lines)
	}
	return l, nil
}

// queryParse sends a query and parses its prefix line; on a failed query
// it returns failed (e.g. pinAttempts{-1, -1} for "not known").
func queryParse[T any](ctx context.Context, at AT, command, prefix string, failed T, parse func(string) (T, error)) (T, error) {
	l, err := queryLine(ctx, at, command, prefix)
	if err != nil {
		return failed, err
	}
	return parse(l)
}

// csqOnly is the signal as +CSQ gives it, for modems (or moments) without
// a richer query: the RSSI alone, none when the modem does not know it.
func csqOnly(ctx context.Context, at AT) (Signal, error) {
	dbm, ok, err := csqSignal(ctx, at)
	if err != nil {
		return Signal{}, err
	}
	var s Signal
	if ok {
		s.RSSI = &dbm
	}
	return s, nil
}
