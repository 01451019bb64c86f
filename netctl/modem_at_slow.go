package netctl

import (
	"time"

	"edgebox/modem"
)

// atSlowest is the longest time the card may take for any command of the
// line cmd (modem.MinTimeout: a network scan, AT+COPS=?, up to 180 s; an
// attach). The passthrough waits at least that long: with its default
// 10 s its caller gave up while the card went on scanning, the installer
// got "context deadline exceeded" and never the operators, and a scan in
// a compound line ("AT+CSQ;+COPS=?") got the engine's 10 s too, after
// which recovery reset the card in the middle of the scan.
func atSlowest(cmd string) time.Duration {
	parts, err := splitAT(cmd)
	if err != nil {
		return modem.MinTimeout(cmd)
	}
	var d time.Duration
	for _, p := range parts {
		d = max(d, modem.MinTimeout("AT"+p.name+p.rest))
	}
	return d
}
