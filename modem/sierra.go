package modem

import (
	"context"
	"strings"
)

// Sierra Wireless MC8775: PPP only. The profile sets the PDP context;
// netctl's pppd dials.

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
	return csqOnly(ctx, at)
}

// ICCID tries Sierra's !ICCID? first, then +CCID.
func (s sierra) ICCID(ctx context.Context, at AT) (string, error) {
	if id, err := iccidVia(ctx, at, "AT!ICCID?"); err == nil {
		return id, nil
	}
	return s.generic.ICCID(ctx, at)
}

func (sierra) PPPOnly() bool { return true }

func (sierra) NetDriver() string { return "" }
