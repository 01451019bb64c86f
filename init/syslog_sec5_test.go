package main

import "testing"

// TestSec5SyslogSeverityFromTheLevelField: the remote syslog severity was
// found by looking for "level=ERROR" anywhere in a line, so text an
// attacker chose and a service logged at INFO (a SIP User-Agent, an SMS
// sender, a DHCP host name, quoted by slog but still in the line) made it
// an error or a warning at the admins' log server: alerts raised at will,
// or real ones drowned. Only the line's own level field counts now.
// Fifth review.
func TestSec5SyslogSeverityFromTheLevelField(t *testing.T) {
	for _, c := range []struct {
		line string
		want int
	}{
		{`time=2026-12-07T10:00:00.000Z level=INFO msg="stranger refused" ua="x level=ERROR y"`, 6},
		{`time=2026-12-07T10:00:00.000Z level=DEBUG msg=sms from="level=WARN"`, 7},
		{`time=2026-12-07T10:00:00.000Z level=WARN msg="trunk down"`, 4},
		{`time=2026-12-07T10:00:00.000Z level=ERROR msg="modem gone"`, 3},
		{`level=ERROR msg=x`, 3},
		{`pppd: peer said level=ERROR`, 6}, // not slog: no level field at its start
	} {
		if got := severity(c.line); got != c.want {
			t.Errorf("severity(%q) = %d, want %d", c.line, got, c.want)
		}
	}
}
