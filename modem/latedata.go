package modem

// A card that answers OK before its data ("OK", then "+CSQ: 20,99"): the
// data line came after the command ended, was taken for a URC and lost,
// and the query failed for want of it at every poll.

import (
	"context"
	"strings"
	"time"
)

// bareAnswer are the commands whose answer is a bare line (no prefix).
var bareAnswer = map[string]bool{"AT+CGMI": true, "AT+CGMM": true, "AT+CGMR": true, "AT+CGSN": true, "AT+CIMI": true, "AT+GSN": true}

// lateDataWait is how long after an OK without its data line the engine
// listens for that line.
const lateDataWait = 100 * time.Millisecond

// wantsData: cmd reads something its own prefix answers (a query "?" or
// an action without parameters, AT+CSQ) and resp has no such line.
func wantsData(cmd string, owned map[string]bool, resp Response) bool {
	c := strings.TrimSpace(cmd)
	if len(owned) == 0 || !strings.HasSuffix(c, "?") && strings.ContainsAny(c, "=;") {
		return false
	}
	for _, l := range resp.Lines {
		if owned[urcName(l)] || bareAnswer[strings.ToUpper(c)] {
			return false
		}
	}
	return true
}

// lateData adds to resp the lines of its command that arrive within
// lateDataWait of its OK; other lines are handled as read while idle.
func (e *Engine) lateData(ctx context.Context, cmd string, owned map[string]bool, resp *Response) {
	timer := time.NewTimer(lateDataWait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			return
		case ev := <-e.lines:
			if ev.gen != e.gen {
				continue
			}
			line, ok := clean(ev.line)
			own := owned[urcName(line)] && !isUnsolicited(line, owned)
			// A bare answer (an IMEI) is its command's when it is the
			// only line and reads like no URC.
			bare := bareAnswer[strings.ToUpper(cmd)] && len(resp.Lines) == 0 && !urcNames[urcName(line)] && !otherPrefixed(line) && !strayAnswer(line)
			if ev.err == nil && !ev.prompt && ok && (own || bare) {
				e.log.Debug("data line after its OK", "line", logLine(line))
				resp.Lines = append(resp.Lines, line)
				continue
			}
			e.lineWhileIdle(ev, true)
			if ev.err != nil {
				return
			}
		}
	}
}
