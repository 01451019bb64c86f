package modem

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Huawei MU609, ME909u-521 and ME909s-120: the profile (NDIS data over
// ^NDISDUP, ^HCSQ signal, ^SYSINFOEX technology, ^CPIN attempts) and the
// parsers of Huawei's own replies, side by side as in ModemManager's
// huawei plugin.

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
	if errors.Is(err, errError) {
		return nil // already down
	}
	return err
}

func (h *huawei) LinkStatus(ctx context.Context, at AT) (LinkStatus, error) {
	r, err := at.Command(ctx, "AT^NDISSTATQRY?", 0)
	prefix := "^NDISSTATQRY:"
	if errors.Is(err, errNotSupported) || errors.Is(err, errError) {
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
	return parseNDISSTAT(strings.Join(groups, ","))
}

func (h *huawei) LinkURC(line string) (LinkStatus, bool) {
	if rest, ok := cutPrefixFold(line, "^NDISSTAT:"); ok {
		ls, v4, err := parseNDISSTATv4(rest)
		return ls, err == nil && v4
	}
	return LinkStatus{}, false
}

func (h *huawei) RadioOff(ctx context.Context, at AT) error { return cmd(ctx, at, "AT+CFUN=0") }

func (h *huawei) ResetCommand() string { return "AT^RESET" }

func (h *huawei) AddressFromModem(ctx context.Context, at AT) (IPConfig, error) {
	return queryParse(ctx, at, "AT^DHCP?", "^DHCP:", IPConfig{}, parseDHCP)
}

func (h *huawei) Signal(ctx context.Context, at AT) (Signal, error) {
	r, err := at.Command(ctx, "AT^HCSQ?", 0)
	if err == nil {
		if l, ok := r.Line("^HCSQ:"); ok {
			if s, err := parseHCSQ(l); err == nil {
				return s, nil
			}
		}
	} else if !isModemAnswer(err) {
		return Signal{}, err
	}
	return csqOnly(ctx, at)
}

func (h *huawei) Tech(ctx context.Context, at AT) (AccessTech, error) {
	l, err := queryLine(ctx, at, "AT^SYSINFOEX", "^SYSINFOEX:")
	if err != nil {
		return TechUnknown, err
	}
	si, err := parseSYSINFOEX(l)
	if err != nil {
		return TechUnknown, err
	}
	return techOfHuaweiMode(si.SysModeName, si.SubModeName), nil
}

func (h *huawei) PINAttempts(ctx context.Context, at AT) (pinAttempts, error) {
	l, err := queryLine(ctx, at, "AT^CPIN?", "^CPIN:")
	if err != nil {
		return pinAttempts{-1, -1}, err
	}
	_, a, err := parseHuaweiCPIN(l)
	return a, err
}

func (h *huawei) ICCID(ctx context.Context, at AT) (string, error) {
	return iccidVia(ctx, at, "AT^ICCID?")
}

func (h *huawei) NetDriver() string { return "cdc_ether" }

// parseHuaweiCPIN parses Huawei "^CPIN: <code>,[<times>],<puk_times>,
// <pin_times>,<puk2_times>,<pin2_times>".
func parseHuaweiCPIN(s string) (SIMState, pinAttempts, error) {
	f := Fields(s)
	a := pinAttempts{-1, -1}
	if len(f) < 4 {
		return SIMUnknown, a, fmt.Errorf("^CPIN %q: too few fields", s)
	}
	st, err := ParseCPIN(f[0])
	if err != nil {
		return SIMUnknown, a, err
	}
	if v, err := atoi(f[2]); err == nil {
		a.PUK = v
	}
	if v, err := atoi(f[3]); err == nil {
		a.PIN = v
	}
	return st, a, nil
}

// parseHCSQ parses Huawei "^HCSQ: <sysmode>,<v1>,...". Huawei's guide
// gives each value as an interval (RSSI 1 is -120 <= x < -119 dBm); like
// ModemManager we report the interval's lower bound: RSSI/RSCP -121+v,
// RSRP -141+v, SINR -20.2+v/5, RSRQ -20+v/2, Ec/Io -32.5+v/2; 255 unknown.
func parseHCSQ(s string) (Signal, error) {
	f := Fields(s)
	var sig Signal
	if len(f) == 0 {
		return sig, errors.New("^HCSQ: empty")
	}
	mode := strings.ToUpper(f[0])
	vals := make([]int, 0, len(f)-1)
	for _, x := range f[1:] {
		v, err := atoi(x)
		if err != nil {
			return sig, fmt.Errorf("^HCSQ %q: %v", s, err)
		}
		vals = append(vals, v)
	}
	get := func(i, lo, hi int) (int, bool) {
		if i < len(vals) && vals[i] != 255 && validRange(vals[i], lo, hi) {
			return vals[i], true
		}
		return 0, false
	}
	switch mode {
	case "NOSERVICE":
		return sig, nil
	case "GSM":
		sig.Tech = TechGSM
		if v, ok := get(0, 0, 96); ok {
			sig.RSSI = iptr(-121 + v)
		}
	case "WCDMA", "TD-SCDMA":
		sig.Tech = TechUMTS
		if v, ok := get(0, 0, 96); ok {
			sig.RSSI = iptr(-121 + v)
		}
		if v, ok := get(1, 0, 96); ok {
			sig.RSCP = iptr(-121 + v)
		}
		if v, ok := get(2, 0, 65); ok {
			sig.EcIo = fptr(-32.5 + float64(v)/2)
		}
	case "LTE":
		sig.Tech = TechLTE
		if v, ok := get(0, 0, 96); ok {
			sig.RSSI = iptr(-121 + v)
		}
		if v, ok := get(1, 0, 97); ok {
			sig.RSRP = iptr(-141 + v)
		}
		if v, ok := get(2, 0, 251); ok {
			sig.SINR = fptr(-20.2 + float64(v)/5)
		}
		if v, ok := get(3, 0, 34); ok {
			sig.RSRQ = fptr(-20 + float64(v)/2)
		}
	default:
		return sig, fmt.Errorf("^HCSQ %q: unknown mode", s)
	}
	return sig, nil
}

// sysInfoEx is Huawei's ^SYSINFOEX answer.
type sysInfoEx struct {
	SrvStatus, SrvDomain, Roam, SIMState int
	SysMode                              int
	SysModeName, SubModeName             string
	SubMode                              int
}

// parseSYSINFOEX parses "^SYSINFOEX: <srv_status>,<srv_domain>,<roam_status>,
// <sim_state>,<lock_state>,<sysmode>,<sysmode_name>,<submode>,<submode_name>".
func parseSYSINFOEX(s string) (sysInfoEx, error) {
	f := Fields(s)
	var si sysInfoEx
	if len(f) < 7 {
		return si, fmt.Errorf("^SYSINFOEX %q: too few fields", s)
	}
	ints := []*int{&si.SrvStatus, &si.SrvDomain, &si.Roam, &si.SIMState}
	for i, p := range ints {
		v, err := atoi(f[i])
		if err != nil {
			return si, fmt.Errorf("^SYSINFOEX %q: field %d: %v", s, i+1, err)
		}
		*p = v
	}
	v, err := atoi(f[5])
	if err != nil {
		return si, fmt.Errorf("^SYSINFOEX %q: sysmode: %v", s, err)
	}
	si.SysMode = v
	si.SysModeName = f[6]
	if len(f) >= 9 {
		si.SubMode, _ = atoi(f[7])
		si.SubModeName = f[8]
	}
	return si, nil
}

// techOfHuaweiMode maps ^SYSINFOEX sub-mode names to a technology.
func techOfHuaweiMode(sysmode, submode string) AccessTech {
	switch strings.ToUpper(submode) {
	case "GSM":
		return TechGSM
	case "GPRS":
		return TechGPRS
	case "EDGE":
		return TechEDGE
	case "WCDMA":
		return TechUMTS
	case "HSDPA":
		return TechHSDPA
	case "HSUPA":
		return TechHSUPA
	case "HSPA":
		return TechHSPA
	case "HSPA+", "DC-HSPA+":
		return TechHSPAP
	case "LTE", "LTE FDD", "LTE TDD":
		return TechLTE
	}
	switch strings.ToUpper(sysmode) {
	case "GSM":
		return TechGSM
	case "WCDMA":
		return TechUMTS
	case "LTE":
		return TechLTE
	}
	return TechUnknown
}

// parseNDISSTAT parses "^NDISSTAT: <stat>[,<err>[,<wx_state>[,<PDP_type>]]]"
// or the same fields after "^NDISSTATQRY:" (IPv4 then IPv6 groups; some
// firmware sends one line per family, which callers join with ','). The
// IPv4 group decides; without one, the first group. stat 1 is connected,
// 2 connecting.
func parseNDISSTAT(s string) (LinkStatus, error) {
	ls, _, err := parseNDISSTATv4(s)
	return ls, err
}

// parseNDISSTATv4 is parseNDISSTAT that also says whether an IPv4 group
// (or an untyped one) was present: a URC about IPv6 alone says nothing
// about the box's IPv4 uplink.
func parseNDISSTATv4(s string) (LinkStatus, bool, error) {
	f := Fields(s)
	if len(f) == 0 || f[0] == "" {
		return LinkStatus{}, false, fmt.Errorf("^NDISSTAT %q: empty", s)
	}
	var first LinkStatus
	for i := 0; i < len(f); i += 4 {
		st, err := atoi(f[i])
		if err != nil || st < 0 || st > 3 {
			return LinkStatus{}, false, fmt.Errorf("^NDISSTAT %q: bad state", s)
		}
		ls := LinkStatus{Connected: st == 1, Connecting: st == 2}
		if st == 0 && i+1 < len(f) && f[i+1] != "" {
			ls.Cause = smCause(f[i+1])
		}
		typ := "IPV4"
		if i+3 < len(f) && f[i+3] != "" {
			typ = strings.ToUpper(f[i+3])
		}
		if typ == "IPV4" || typ == "IPV4V6" {
			return ls, true, nil
		}
		if i == 0 {
			first = ls
		}
	}
	return first, false, nil
}

// parseDHCP parses Huawei "^DHCP: <ip>,<netmask>,<gw>,<dhcp>,<dns1>,
// <dns2>,<max_rx>,<max_tx>"; addresses are little-endian hex, sometimes
// without the leading zero.
func parseDHCP(s string) (IPConfig, error) {
	f := Fields(s)
	var c IPConfig
	if len(f) < 6 {
		return c, fmt.Errorf("^DHCP %q: too few fields", s)
	}
	addrs := make([]netip.Addr, 6)
	for i := 0; i < 6; i++ {
		a, err := leHexIP(f[i])
		if err != nil {
			return c, fmt.Errorf("^DHCP %q: field %d: %v", s, i+1, err)
		}
		addrs[i] = a
	}
	mask := addrs[1].As4()
	bits := 0
	for _, b := range mask {
		for j := 7; j >= 0; j-- {
			if b&(1<<j) != 0 {
				bits++
			}
		}
	}
	if addrs[0].IsUnspecified() {
		return c, errors.New("^DHCP: modem has no address (not connected)")
	}
	c.Address = netip.PrefixFrom(addrs[0], bits)
	c.Gateway = addrs[2]
	for _, d := range addrs[4:6] {
		if !d.IsUnspecified() {
			c.DNS = append(c.DNS, d)
		}
	}
	return c, nil
}

func leHexIP(h string) (netip.Addr, error) {
	h = strings.TrimSpace(h)
	if len(h) == 0 || len(h) > 8 {
		return netip.Addr{}, fmt.Errorf("bad hex address %q", h)
	}
	h = strings.Repeat("0", 8-len(h)) + h
	b, err := hex.DecodeString(h)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("bad hex address %q", h)
	}
	return netip.AddrFrom4([4]byte{b[3], b[2], b[1], b[0]}), nil
}
