package modem

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Ericsson F5521gw and Dell DW5550 (ModemManager's mbm plugin): the
// profile (*EMRDY wait, *ENAP data, *E2IPCFG address) and the parsers of
// Ericsson's own replies.

// errNotReady is returned when a modem answers but never becomes ready.
var errNotReady = errors.New("modem never became ready")

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
				if ready, _ := parseEMRDY(l); ready {
					break
				}
			}
		} else if !isModemAnswer(err) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: no *EMRDY: 1 within %v", errNotReady, wait)
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
	return queryParse(ctx, at, "AT*ENAP?", "*ENAP:", LinkStatus{}, parseENAP)
}

func (e *ericsson) LinkURC(line string) (LinkStatus, bool) {
	if rest, ok := cutPrefixFold(line, "*E2NAP:"); ok {
		ls, err := parseENAP(rest)
		return ls, err == nil
	}
	return LinkStatus{}, false
}

func (e *ericsson) RadioOff(ctx context.Context, at AT) error { return cmd(ctx, at, "AT+CFUN=4") }

func (e *ericsson) ResetCommand() string { return "AT*E2RESET" }

func (e *ericsson) AddressFromModem(ctx context.Context, at AT) (IPConfig, error) {
	return queryParse(ctx, at, "AT*E2IPCFG?", "*E2IPCFG:", IPConfig{}, parseE2IPCFG)
}

func (e *ericsson) Signal(ctx context.Context, at AT) (Signal, error) {
	return csqOnly(ctx, at)
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

func (e *ericsson) PINAttempts(ctx context.Context, at AT) (pinAttempts, error) {
	return queryParse(ctx, at, "AT*EPIN?", "*EPIN:", pinAttempts{-1, -1}, parseEPIN)
}

func (e *ericsson) NetDriver() string { return "cdc_ether" }

// parseEPIN parses Ericsson "*EPIN: <pin1>,<puk1>,<pin2>,<puk2>".
func parseEPIN(s string) (pinAttempts, error) {
	f := Fields(s)
	a := pinAttempts{-1, -1}
	if len(f) < 2 {
		return a, fmt.Errorf("*EPIN %q: too few fields", s)
	}
	var err1, err2 error
	a.PIN, err1 = atoi(f[0])
	a.PUK, err2 = atoi(f[1])
	if err := errors.Join(err1, err2); err != nil {
		return pinAttempts{-1, -1}, fmt.Errorf("*EPIN %q: %v", s, err)
	}
	return a, nil
}

// parseENAP parses Ericsson "*ENAP: <status>" and "*E2NAP: <status>[,...]":
// 0 disconnected, 1 connected, 2 connecting.
func parseENAP(s string) (LinkStatus, error) {
	f := Fields(s)
	st, err := atoi(f[0])
	if err != nil || st < 0 || st > 2 {
		return LinkStatus{}, fmt.Errorf("*ENAP %q: bad status", s)
	}
	ls := LinkStatus{Connected: st == 1, Connecting: st == 2}
	if st == 0 && len(f) > 1 && f[1] != "" {
		ls.Cause = smCause(f[1])
	}
	return ls, nil
}

// parseE2IPCFG parses Ericsson "*E2IPCFG: (1,"a.b.c.d")(2,"gw")(3,"dns")...":
// 1 address, 2 gateway, 3 DNS. Values come as UCS-2 hex when the
// character set is UCS2; IPv6 groups are skipped (the box uses IPv4).
func parseE2IPCFG(s string) (IPConfig, error) {
	var c IPConfig
	rest := strings.TrimSpace(s)
	for rest != "" {
		if rest[0] != '(' {
			return c, fmt.Errorf("*E2IPCFG %q: expected '('", s)
		}
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return c, fmt.Errorf("*E2IPCFG %q: unterminated group", s)
		}
		f := Fields(rest[1:end])
		rest = strings.TrimSpace(strings.TrimLeft(rest[end+1:], ", "))
		if len(f) != 2 {
			return c, fmt.Errorf("*E2IPCFG %q: bad group", s)
		}
		v := f[1]
		if !strings.ContainsAny(v, ".:") {
			if d, ok := ucs2Hex(v); ok {
				v = d
			}
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return c, fmt.Errorf("*E2IPCFG %q: %v", s, err)
		}
		if !a.Is4() {
			continue
		}
		switch f[0] {
		case "1":
			// The card hands out a point-to-point style address; /32.
			c.Address = netip.PrefixFrom(a, 32)
		case "2":
			c.Gateway = a
		case "3":
			c.DNS = append(c.DNS, a)
		}
	}
	if !c.Address.IsValid() {
		return c, errors.New("*E2IPCFG: no IPv4 address (not connected)")
	}
	return c, nil
}

// ucs2Hex decodes "0031002E" style UCS-2 hex holding ASCII.
func ucs2Hex(h string) (string, bool) {
	if len(h) == 0 || len(h)%4 != 0 {
		return "", false
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return "", false
	}
	out := make([]byte, 0, len(b)/2)
	for i := 0; i < len(b); i += 2 {
		if b[i] != 0 || b[i+1] >= 0x80 {
			return "", false
		}
		out = append(out, b[i+1])
	}
	return string(out), true
}

// parseEMRDY parses Ericsson "*EMRDY: <ready>".
func parseEMRDY(s string) (bool, error) {
	v, err := atoi(Fields(s)[0])
	if err != nil {
		return false, fmt.Errorf("*EMRDY %q: %v", s, err)
	}
	return v == 1, nil
}
