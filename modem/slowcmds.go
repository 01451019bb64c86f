package modem

import (
	"strings"
	"time"
)

// Commands a card works on far longer than the engine's default timeout,
// with the port busy meanwhile. Timed out at 5 s, their answer came minutes
// later while the box, taking the silence for a hung card, went through
// recovery and reset the card in the middle of a network scan. Values from
// Quectel's EC25 AT manual (maximum response times); Huawei and Sierra
// document no shorter ones.
var slowCommands = []struct {
	prefix string
	min    time.Duration
}{
	{"AT+COPS=?", 180 * time.Second}, // network scan
	{"AT+COPS=", 180 * time.Second},  // operator selection (registers)
	{"AT+CGATT=", 140 * time.Second}, // packet attach/detach
	{"AT+CGACT=", 150 * time.Second}, // PDP context (de)activation
	{"AT+CFUN=", 15 * time.Second},   // radio on/off
}

// MinTimeout is the least time the card may take to answer cmd: 0 for
// commands answered at once, else the documented maximum response time.
// The engine never waits less; callers that bound a command by their own
// context (the AT passthrough) give it at least as long.
func MinTimeout(cmd string) time.Duration {
	c := strings.ToUpper(strings.TrimSpace(cmd))
	for _, s := range slowCommands {
		if strings.HasPrefix(c, s.prefix) {
			return s.min
		}
	}
	return 0
}
