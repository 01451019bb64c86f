package modem

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ---- Huawei MU609 / ME909u-521 / ME909s-120 ----

type huawei struct {
	generic
	name  string
	model string // mu609, me909u, me909s
}

func (h *huawei) Name() string { return h.name }

func (h *huawei) Init(ctx context.Context, at AT) error {
	return commonInit(ctx, at)
}

// huaweiAuth maps the auth type to ^NDISDUP's <auth_type>.
func huaweiAuth(a AuthType) int {
	switch a {
	case AuthPAP:
		return 1
	case AuthCHAP:
		return 2
	}
	return 0
}

func (h *huawei) Connect(ctx context.Context, at AT, apn APN) error {
	c := fmt.Sprintf(`AT^NDISDUP=1,1,"%s"`, apn.Name)
	if apn.User != "" || apn.Password != "" {
		auth := apn.Auth
		if auth == "" || auth == AuthNone {
			auth = AuthCHAP // what installers' scripts used with credentials
		}
		c = fmt.Sprintf(`AT^NDISDUP=1,1,"%s","%s","%s",%d`, apn.Name, apn.User, apn.Password, huaweiAuth(auth))
	}
	return cmd(ctx, at, c)
}

func (h *huawei) Disconnect(ctx context.Context, at AT) error {
	err := cmd(ctx, at, "AT^NDISDUP=1,0")
	if errors.Is(err, ErrError) {
		return nil // already down
	}
	return err
}

func (h *huawei) LinkStatus(ctx context.Context, at AT) (LinkStatus, error) {
	r, err := at.Command(ctx, "AT^NDISSTATQRY?", 0)
	prefix := "^NDISSTATQRY:"
	if errors.Is(err, ErrNotSupported) || errors.Is(err, ErrError) {
		// Older firmware only knows the query form of ^NDISSTAT.
		r, err = at.Command(ctx, "AT^NDISSTAT?", 0)
		prefix = "^NDISSTAT:"
	}
	if err != nil {
		return LinkStatus{}, err
	}
	// One line per IP family on some firmware: join the groups.
	var groups []string
	for _, l := range r.Lines {
		if rest, ok := cutPrefixFold(l, prefix); ok {
			groups = append(groups, strings.TrimSpace(rest))
		}
	}
	if len(groups) == 0 {
		return LinkStatus{}, fmt.Errorf("%s missing in %q", prefix, r.Lines)
	}
	return ParseNDISSTAT(strings.Join(groups, ","))
}

func (h *huawei) LinkURC(line string) (LinkStatus, bool) {
	if rest, ok := cutPrefixFold(line, "^NDISSTAT:"); ok {
		ls, v4, err := ParseNDISSTATv4(rest)
		return ls, err == nil && v4
	}
	return LinkStatus{}, false
}

func (h *huawei) RadioOff(ctx context.Context, at AT) error { return cmd(ctx, at, "AT+CFUN=0") }
func (h *huawei) ResetCommand() string                      { return "AT^RESET" }

func (h *huawei) AddressFromModem(ctx context.Context, at AT) (IPConfig, error) {
	l, err := queryLine(ctx, at, "AT^DHCP?", "^DHCP:")
	if err != nil {
		return IPConfig{}, err
	}
	return ParseDHCP(l)
}

func (h *huawei) Signal(ctx context.Context, at AT) (Signal, error) {
	r, err := at.Command(ctx, "AT^HCSQ?", 0)
	if err == nil {
		if l, ok := r.Line("^HCSQ:"); ok {
			if s, err := ParseHCSQ(l); err == nil {
				return s, nil
			}
		}
	} else if !isModemAnswer(err) {
		return Signal{}, err
	}
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

func (h *huawei) Tech(ctx context.Context, at AT) (AccessTech, error) {
	l, err := queryLine(ctx, at, "AT^SYSINFOEX", "^SYSINFOEX:")
	if err != nil {
		return TechUnknown, err
	}
	si, err := ParseSYSINFOEX(l)
	if err != nil {
		return TechUnknown, err
	}
	return TechOfHuaweiMode(si.SysModeName, si.SubModeName), nil
}

func (h *huawei) PINAttempts(ctx context.Context, at AT) (PINAttempts, error) {
	l, err := queryLine(ctx, at, "AT^CPIN?", "^CPIN:")
	if err != nil {
		return PINAttempts{-1, -1}, err
	}
	_, a, err := ParseHuaweiCPIN(l)
	return a, err
}

func (h *huawei) ICCID(ctx context.Context, at AT) (string, error) {
	return iccidVia(ctx, at, "AT^ICCID?")
}

func (h *huawei) NetDriver() string { return "cdc_ether" }

// ---- Ericsson F5521gw / Dell DW5550 ----

// ErrNotReady is returned when a modem answers but never becomes ready.
var ErrNotReady = errors.New("modem never became ready")

type ericsson struct {
	generic
	name string
	// ReadyWait bounds the wait for *EMRDY: 1.
	readyWait time.Duration
}

func (e *ericsson) Name() string { return e.name }

// Init waits until the card says *EMRDY: 1 (it refuses most commands
// before), bounded: a card that never gets ready is reported, not polled
// forever.
func (e *ericsson) Init(ctx context.Context, at AT) error {
	if err := cmd(ctx, at, "ATE0"); err != nil {
		return err
	}
	wait := e.readyWait
	if wait <= 0 {
		wait = 20 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		r, err := at.Command(ctx, "AT*EMRDY?", 0)
		if err == nil {
			if l, ok := r.Line("*EMRDY:"); ok {
				if ready, _ := ParseEMRDY(l); ready {
					break
				}
			}
		} else if !isModemAnswer(err) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: no *EMRDY: 1 within %v", ErrNotReady, wait)
		}
		sleepCtx(ctx, 250*time.Millisecond)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if err := commonInit(ctx, at); err != nil {
		return err
	}
	return cmd(ctx, at, "AT*E2NAP=1")
}

func (e *ericsson) Connect(ctx context.Context, at AT, apn APN) error {
	if err := cmd(ctx, at, "AT+CFUN=1"); err != nil {
		return err
	}
	if err := setPDP(ctx, at, apn); err != nil {
		return err
	}
	if apn.User != "" || apn.Password != "" {
		if err := cmd(ctx, at, fmt.Sprintf(`AT*EIAAUW=1,1,"%s","%s"`, apn.User, apn.Password)); err != nil {
			return err
		}
	}
	return cmd(ctx, at, "AT*ENAP=1,1")
}

func (e *ericsson) Disconnect(ctx context.Context, at AT) error { return cmd(ctx, at, "AT*ENAP=0") }

func (e *ericsson) LinkStatus(ctx context.Context, at AT) (LinkStatus, error) {
	l, err := queryLine(ctx, at, "AT*ENAP?", "*ENAP:")
	if err != nil {
		return LinkStatus{}, err
	}
	return ParseENAP(l)
}

func (e *ericsson) LinkURC(line string) (LinkStatus, bool) {
	if rest, ok := cutPrefixFold(line, "*E2NAP:"); ok {
		ls, err := ParseENAP(rest)
		return ls, err == nil
	}
	return LinkStatus{}, false
}

func (e *ericsson) RadioOff(ctx context.Context, at AT) error { return cmd(ctx, at, "AT+CFUN=4") }
func (e *ericsson) ResetCommand() string                      { return "AT*E2RESET" }

func (e *ericsson) AddressFromModem(ctx context.Context, at AT) (IPConfig, error) {
	l, err := queryLine(ctx, at, "AT*E2IPCFG?", "*E2IPCFG:")
	if err != nil {
		return IPConfig{}, err
	}
	return ParseE2IPCFG(l)
}

func (e *ericsson) Signal(ctx context.Context, at AT) (Signal, error) {
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

// Tech reads *ERINFO: <mode>,<gsm_rinfo>,<umts_rinfo> (umts 1 UMTS, 2 HSPA).
func (e *ericsson) Tech(ctx context.Context, at AT) (AccessTech, error) {
	r, err := at.Command(ctx, "AT*ERINFO?", 0)
	if err != nil {
		return TechUnknown, err
	}
	l, ok := r.Line("*ERINFO:")
	if !ok {
		return TechUnknown, nil
	}
	f := Fields(l)
	if len(f) < 3 {
		return TechUnknown, fmt.Errorf("*ERINFO %q: too few fields", l)
	}
	switch {
	case f[2] == "2":
		return TechHSPA, nil
	case f[2] == "1":
		return TechUMTS, nil
	case f[1] == "2":
		return TechEDGE, nil
	case f[1] == "1":
		return TechGPRS, nil
	}
	return TechUnknown, nil
}

func (e *ericsson) PINAttempts(ctx context.Context, at AT) (PINAttempts, error) {
	l, err := queryLine(ctx, at, "AT*EPIN?", "*EPIN:")
	if err != nil {
		return PINAttempts{-1, -1}, err
	}
	return ParseEPIN(l)
}

func (e *ericsson) NetDriver() string { return "cdc_ether" }

// ---- Quectel EC25 in ECM mode ----

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
		return ParseQNETDEVSTATUS(rest)
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

func (quectel) PINAttempts(ctx context.Context, at AT) (PINAttempts, error) {
	l, err := queryLine(ctx, at, `AT+QPINC="SC"`, "+QPINC:")
	if err != nil {
		return PINAttempts{-1, -1}, err
	}
	return ParseQPINC(l)
}

func (quectel) ICCID(ctx context.Context, at AT) (string, error) {
	return iccidVia(ctx, at, "AT+QCCID")
}
func (quectel) NetDriver() string { return "cdc_ether" }

// ---- Sierra Wireless MC8775: PPP only ----

type sierra struct{ generic }

func (sierra) Name() string { return "sierra-mc8775" }

// Connect only sets the PDP context; netctl's pppd dials.
func (sierra) Connect(ctx context.Context, at AT, apn APN) error { return setPDP(ctx, at, apn) }

func (sierra) Disconnect(ctx context.Context, at AT) error { return nil }

func (sierra) LinkStatus(ctx context.Context, at AT) (LinkStatus, error) {
	return LinkStatus{}, ErrPPPOnly
}

func (sierra) LinkURC(line string) (LinkStatus, bool) {
	if strings.TrimSpace(line) == "NO CARRIER" {
		return LinkStatus{}, true
	}
	return LinkStatus{}, false
}

func (sierra) RadioOff(ctx context.Context, at AT) error { return cmd(ctx, at, "AT+CFUN=0") }
func (sierra) Signal(ctx context.Context, at AT) (Signal, error) {
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

// ICCID tries Sierra's !ICCID? first, then +CCID.
func (s sierra) ICCID(ctx context.Context, at AT) (string, error) {
	if id, err := iccidVia(ctx, at, "AT!ICCID?"); err == nil {
		return id, nil
	}
	return s.generic.ICCID(ctx, at)
}

func (sierra) PPPOnly() bool     { return true }
func (sierra) NetDriver() string { return "" }

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
