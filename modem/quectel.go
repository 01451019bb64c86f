package modem

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Quectel EC25 in ECM mode: the profile (USB network mode check,
// +QNETDEVCTL data, +QCSQ signal, +QPINC attempts) and the parsers of
// Quectel's own replies.

type quectel struct{ generic }

// ErrNeedsReset is returned by Init when it changed a setting that only
// takes effect after the modem restarts (EC25 USB network mode).
var ErrNeedsReset = errors.New("modem setting changed: the modem is restarting to apply it; detect it again")

func (quectel) Name() string { return "quectel-ec25" }

func (q quectel) Init(ctx context.Context, at AT) error {
	if err := commonInit(ctx, at); err != nil {
		return err
	}
	r, err := at.Command(ctx, `AT+QCFG="usbnet"`, 0)
	if err != nil {
		return err
	}
	if l, ok := r.Line("+QCFG:"); ok {
		f := Fields(l)
		if len(f) == 2 && f[1] == "1" {
			return nil
		}
	}
	// Not ECM (the default is QMI): switch and restart; the USB device
	// comes back with a cdc_ether interface.
	if err := cmd(ctx, at, `AT+QCFG="usbnet",1`); err != nil {
		return err
	}
	if err := cmd(ctx, at, "AT+CFUN=1,1"); err != nil {
		return err
	}
	return ErrNeedsReset
}

func (quectel) Connect(ctx context.Context, at AT, apn APN) error {
	auth := 0
	if apn.User != "" || apn.Password != "" {
		auth = map[AuthType]int{AuthPAP: 1, AuthCHAP: 2, AuthNone: 0, "": 3}[apn.Auth]
	}
	if err := cmd(ctx, at, fmt.Sprintf(`AT+QICSGP=1,1,"%s","%s","%s",%d`, apn.Name, apn.User, apn.Password, auth)); err != nil {
		return err
	}
	_, err := at.Command(ctx, "AT+QNETDEVCTL=1,1,1", 30*time.Second)
	return err
}

func (quectel) Disconnect(ctx context.Context, at AT) error {
	return cmd(ctx, at, "AT+QNETDEVCTL=0,1,0")
}

// LinkStatus reads +QNETDEVCTL: <op>,<cid>,<urc_en>,<state> (the state
// field is unverified on real hardware; the carrier of the ECM interface
// is the reliable signal).
func (quectel) LinkStatus(ctx context.Context, at AT) (LinkStatus, error) {
	r, err := at.Command(ctx, "AT+QNETDEVCTL?", 0)
	if err != nil {
		return LinkStatus{}, err
	}
	l, ok := r.Line("+QNETDEVCTL:")
	if !ok {
		return LinkStatus{}, nil
	}
	f := Fields(l)
	if len(f) >= 4 {
		return LinkStatus{Connected: f[3] == "1", Connecting: f[0] == "1" && f[3] != "1"}, nil
	}
	return LinkStatus{Connected: len(f) > 0 && f[0] == "1"}, nil
}

func (quectel) LinkURC(line string) (LinkStatus, bool) {
	if hasPrefixFold(line, "+QIURC:") && strings.Contains(strings.ToLower(line), "pdpdeact") {
		return LinkStatus{}, true
	}
	if rest, ok := cutPrefixFold(line, "+QNETDEVSTATUS:"); ok {
		return parseQNETDEVSTATUS(rest)
	}
	return LinkStatus{}, false
}

func (quectel) RadioOff(ctx context.Context, at AT) error { return cmd(ctx, at, "AT+CFUN=0") }

func (quectel) Signal(ctx context.Context, at AT) (Signal, error) {
	r, err := at.Command(ctx, "AT+QCSQ", 0)
	if err == nil {
		if l, ok := r.Line("+QCSQ:"); ok {
			if s, err := ParseQCSQ(l); err == nil {
				return s, nil
			}
		}
	} else if !isModemAnswer(err) {
		return Signal{}, err
	}
	return signalCESQ(ctx, at)
}

func (quectel) PINAttempts(ctx context.Context, at AT) (pinAttempts, error) {
	return queryParse(ctx, at, `AT+QPINC="SC"`, "+QPINC:", pinAttempts{-1, -1}, parseQPINC)
}

func (quectel) ICCID(ctx context.Context, at AT) (string, error) {
	return iccidVia(ctx, at, "AT+QCCID")
}

func (quectel) NetDriver() string { return "cdc_ether" }

// parseQPINC parses Quectel "+QPINC: "SC",<pin>,<puk>".
func parseQPINC(s string) (pinAttempts, error) {
	f := Fields(s)
	a := pinAttempts{-1, -1}
	if len(f) < 3 {
		return a, fmt.Errorf("+QPINC %q: too few fields", s)
	}
	var err1, err2 error
	a.PIN, err1 = atoi(f[1])
	a.PUK, err2 = atoi(f[2])
	if err := errors.Join(err1, err2); err != nil {
		return pinAttempts{-1, -1}, fmt.Errorf("+QPINC %q: %v", s, err)
	}
	return a, nil
}

// ParseQCSQ parses Quectel "+QCSQ: "LTE",<rssi>,<rsrp>,<sinr>,<rsrq>"
// (dBm values; SINR in 1/5 dB from -20).
func ParseQCSQ(s string) (Signal, error) {
	f := Fields(s)
	var sig Signal
	if len(f) == 0 {
		return sig, errors.New("+QCSQ: empty")
	}
	num := func(i int) (int, bool) {
		if i >= len(f) {
			return 0, false
		}
		v, err := atoi(f[i])
		return v, err == nil
	}
	switch strings.ToUpper(f[0]) {
	case "NOSERVICE":
	case "GSM":
		sig.Tech = TechGSM
		if v, ok := num(1); ok {
			sig.RSSI = iptr(v)
		}
	case "WCDMA":
		sig.Tech = TechUMTS
		if v, ok := num(1); ok {
			sig.RSSI = iptr(v)
		}
		if v, ok := num(2); ok {
			sig.RSCP = iptr(v)
		}
		if v, ok := num(3); ok {
			sig.EcIo = fptr(float64(v))
		}
	case "LTE", "CAT-M", "CAT-NB":
		sig.Tech = TechLTE
		if v, ok := num(1); ok {
			sig.RSSI = iptr(v)
		}
		if v, ok := num(2); ok {
			sig.RSRP = iptr(v)
		}
		if v, ok := num(3); ok {
			sig.SINR = fptr(-20 + float64(v)/5)
		}
		if v, ok := num(4); ok {
			sig.RSRQ = fptr(float64(v))
		}
	default:
		return sig, fmt.Errorf("+QCSQ %q: unknown mode", s)
	}
	return sig, nil
}

// parseQNETDEVSTATUS reads Quectel's call status indication: either
// "<state>" or "<cid>,<state>,"<type>"[,<cause>]" (state 1 up, 0 down; the
// cause a 24.008 session management cause when the network refused). The
// long form is unverified on real cards.
func parseQNETDEVSTATUS(s string) (LinkStatus, bool) {
	f := Fields(s)
	switch {
	case len(f) == 1:
		return LinkStatus{Connected: f[0] == "1"}, f[0] == "0" || f[0] == "1"
	case len(f) >= 2:
		ls := LinkStatus{Connected: f[1] == "1"}
		if !ls.Connected && len(f) >= 4 && f[3] != "" && f[3] != "0" {
			ls.Cause = smCause(f[3])
		}
		return ls, f[1] == "0" || f[1] == "1"
	}
	return LinkStatus{}, false
}
