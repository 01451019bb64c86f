package modem

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// AT is what profiles need from the engine.
type AT interface {
	Command(ctx context.Context, cmd string, timeout time.Duration) (Response, error)
}

// profile is one vendor's way of driving a modem. Methods send AT
// commands through at; they never own the port.
type profile interface {
	Name() string
	// Init runs after open and after every modem reset: echo off, numeric
	// errors, registration URCs, vendor URCs.
	Init(ctx context.Context, at AT) error
	// Connect starts the data connection; Modem waits for the link.
	Connect(ctx context.Context, at AT, apn APN) error
	Disconnect(ctx context.Context, at AT) error
	LinkStatus(ctx context.Context, at AT) (LinkStatus, error)
	// LinkURC interprets an unsolicited line about the data connection.
	LinkURC(line string) (LinkStatus, bool)
	RadioOff(ctx context.Context, at AT) error
	// ResetCommand restarts the modem (AT^RESET, AT*E2RESET, AT+CFUN=1,1).
	ResetCommand() string
	AddressFromModem(ctx context.Context, at AT) (IPConfig, error)
	Signal(ctx context.Context, at AT) (Signal, error)
	// Tech reads the access technology when +COPS/+CREG do not say it.
	Tech(ctx context.Context, at AT) (AccessTech, error)
	PINAttempts(ctx context.Context, at AT) (pinAttempts, error)
	ICCID(ctx context.Context, at AT) (string, error)
	// PreferModemAddress: use AddressFromModem rather than DHCP.
	PreferModemAddress() bool
	// PPPOnly: no network interface; pppd dials DialString.
	PPPOnly() bool
	DialString() string
	// NetDriver is the kernel driver of the data interface.
	NetDriver() string
}

// ErrPPPOnly is returned for operations that pppd does on PPP-only modems.
var ErrPPPOnly = errors.New("this modem only does PPP: pppd handles the data connection")

var profileFactories = map[string]func() profile{
	"huawei-mu609":     func() profile { return &huawei{model: "mu609"} },
	"huawei-me909u":    func() profile { return &huawei{model: "me909u"} },
	"huawei-me909s":    func() profile { return &huawei{model: "me909s"} },
	"ericsson-f5521gw": func() profile { return &ericsson{} },
	"dell-dw5550":      func() profile { return &ericsson{} },
	"quectel-ec25":     func() profile { return &quectel{} },
	"sierra-mc8775":    func() profile { return &sierra{} },
	"generic":          func() profile { return &generic{} },
}

// profileNames lists the supported profiles.
func profileNames() []string {
	var out []string
	for n := range profileFactories {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// newProfile returns the profile called name.
func newProfile(name string) (profile, error) {
	f, ok := profileFactories[name]
	if !ok {
		return nil, fmt.Errorf("unknown modem profile %q (known: %s)", name, strings.Join(profileNames(), ", "))
	}
	p := f()
	if h, ok := p.(*huawei); ok {
		h.name = name
	}
	if e, ok := p.(*ericsson); ok {
		e.name = name
	}
	return p, nil
}

// profileForModel picks a profile from +CGMI/+CGMM answers (probing).
func profileForModel(manufacturer, model string) string {
	mf, md := strings.ToLower(manufacturer), strings.ToLower(model)
	switch {
	case strings.Contains(mf, "huawei") && strings.Contains(md, "mu609"):
		return "huawei-mu609"
	case strings.Contains(mf, "huawei") && strings.Contains(md, "me909s"):
		return "huawei-me909s"
	case strings.Contains(mf, "huawei") && strings.Contains(md, "me909"):
		return "huawei-me909u"
	case strings.Contains(md, "f5521") || strings.Contains(md, "f5321"):
		return "ericsson-f5521gw"
	case strings.Contains(md, "dw5550"):
		return "dell-dw5550"
	case strings.Contains(mf, "quectel") && strings.Contains(md, "ec25"):
		return "quectel-ec25"
	case strings.Contains(md, "mc8775"):
		return "sierra-mc8775"
	}
	return "generic"
}

// ---- generic 3GPP ----
