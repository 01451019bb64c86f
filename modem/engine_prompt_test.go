package modem

import (
	"strings"
	"testing"
)

// The SMS prompt "> " and an unsolicited line the modem sends right after
// it (a status report for an earlier SMS: modemsim does, under load the
// two come in one read) must still give the prompt: otherwise the PDU is
// never sent, the modem waits for it and AT+CMGS times out.
func TestReadLinesPromptThenURCInOneRead(t *testing.T) {
	out := make(chan readEvent, 8)
	stop := make(chan struct{})
	defer close(stop)
	readLines(strings.NewReader("\r\n> \r\n+CDS: 25\r\n"), 1, out, stop)
	var got []string
	for len(out) > 0 {
		ev := <-out
		switch {
		case ev.prompt:
			got = append(got, "PROMPT")
		case ev.err != nil:
		default:
			got = append(got, ev.line)
		}
	}
	if strings.Join(got, "|") != "PROMPT|+CDS: 25" {
		t.Errorf("events %q, want the prompt, then +CDS: 25", got)
	}
}
