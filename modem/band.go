package modem

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// The band the modem is camped on and the SIM's own number, for the
// installer aligning the antenna and reading the SIM. Each vendor has its
// own command for the band; see README.md's verified/guessed table.

// parseQNWINFO parses Quectel `+QNWINFO: "FDD LTE","26201","LTE BAND 3",1300`
// (access technology, operator, band, channel) into "LTE BAND 3".
func parseQNWINFO(s string) (string, error) {
	f := Fields(s)
	if len(f) < 3 {
		return "", fmt.Errorf("+QNWINFO %q: want act,oper,band,channel", s)
	}
	band := strings.TrimSpace(f[2])
	if band == "" || strings.EqualFold(band, "No Service") {
		return "", errors.New("+QNWINFO: no service")
	}
	return band, nil
}

// parseHFREQINFO parses Huawei `^HFREQINFO: <n>,<sysmode>,<band_class>,
// <dl_fcn>,<dl_freq>,<dl_bw>,<ul_fcn>,<ul_freq>,<ul_bw>`; sysmode 6 is
// LTE, then band_class is the E-UTRA band number.
func parseHFREQINFO(s string) (string, error) {
	f := Fields(s)
	if len(f) < 4 {
		return "", fmt.Errorf("^HFREQINFO %q: too few fields", s)
	}
	mode, err := atoi(f[1])
	if err != nil {
		return "", fmt.Errorf("^HFREQINFO %q: %v", s, err)
	}
	band, err := atoi(f[2])
	if err != nil || band <= 0 || band > 255 {
		return "", fmt.Errorf("^HFREQINFO %q: bad band", s)
	}
	switch mode {
	case 6:
		return fmt.Sprintf("LTE BAND %d", band), nil
	case 3:
		return fmt.Sprintf("WCDMA BAND %d", band), nil
	}
	return "", fmt.Errorf("^HFREQINFO %q: unknown system mode %d", s, mode)
}

// parseCNUM parses `+CNUM: "<alpha>","<number>",<type>` into the number;
// "" when the SIM does not store it (the common case).
func parseCNUM(s string) (string, error) {
	f := Fields(s)
	if len(f) < 2 {
		return "", fmt.Errorf("+CNUM %q: want alpha,number,type", s)
	}
	n := strings.TrimSpace(f[1])
	if n == "" {
		return "", nil
	}
	if err := checkNumber(n); err != nil {
		return "", fmt.Errorf("+CNUM %q: %v", s, err)
	}
	return n, nil
}

// bandVia asks cmd and parses the line with prefix; "" when the modem
// cannot say.
func bandVia(ctx context.Context, at AT, cmd, prefix string, parse func(string) (string, error)) string {
	l, err := queryLine(ctx, at, cmd, prefix)
	if err != nil {
		return ""
	}
	b, _ := parse(l)
	return b
}

// readNumber asks AT+CNUM; "" when the SIM stores no number.
func readNumber(ctx context.Context, at AT) string {
	r, err := at.Command(ctx, "AT+CNUM", 0)
	if err != nil {
		return ""
	}
	l, ok := r.Line("+CNUM:")
	if !ok {
		return ""
	}
	n, _ := parseCNUM(l)
	return n
}

// bandReader is a profile that can say the band; the others leave it empty.
type bandReader interface {
	Band(ctx context.Context, at AT) string
}

// Band: Quectel's +QNWINFO names it directly.
func (quectel) Band(ctx context.Context, at AT) string {
	return bandVia(ctx, at, "AT+QNWINFO", "+QNWINFO:", parseQNWINFO)
}

// Band: Huawei's ^HFREQINFO? gives the band class of the serving cell.
func (h *huawei) Band(ctx context.Context, at AT) string {
	return bandVia(ctx, at, "AT^HFREQINFO?", "^HFREQINFO:", parseHFREQINFO)
}
