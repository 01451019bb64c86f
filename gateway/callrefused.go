package gateway

import (
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Why the PBX refused a call, in words the customer's page can show and
// the portal can keep: PBXs word their reason phrases their own way
// (or send none), so the class of the code leads and the PBX's own words
// follow in brackets: "the line is busy (486 Busy Here)".

// refusedReason is the ended event's reason for a final answer >= 300.
func refusedReason(res *sip.Response) string {
	phrase := strings.TrimSpace(res.Reason)
	if phrase == "" {
		phrase = sipReasonPhrase(res.StatusCode)
	}
	return fmt.Sprintf("%s (%d %s)", refusedWords(res.StatusCode), res.StatusCode, phrase)
}

// refusedWords says what a refusal means for the caller.
func refusedWords(code int) string {
	switch code {
	case 486, 600:
		return "the line is busy"
	case 480, 408, 410:
		return "nobody can take the call now"
	case 404, 484, 604:
		return "the PBX does not know this destination"
	case 603, 607, 608:
		return "the call was declined"
	case 403, 401, 407:
		return "the PBX refused the call"
	case 488, 606, 415:
		return "the PBX takes none of the offered audio codecs"
	}
	switch {
	case code >= 500 && code < 600:
		return "the PBX could not take the call"
	case code >= 300 && code < 400:
		return "the PBX sent the call elsewhere, which the box does not follow"
	}
	return "the PBX refused the call"
}

// refusedHint is what the PBX admin should check, for the log; "" when
// the refusal is the callee's (busy, declined, nobody there).
func refusedHint(code int) string {
	switch code {
	case 404, 484, 604:
		return "check that the destination exists in the PBX's dialplan for calls from the trunk"
	case 403, 401, 407:
		return "check that the PBX lets the trunk account place calls (its permissions, or the digest credentials)"
	case 488, 606, 415:
		return "check the codecs allowed for the trunk at the PBX (the box relays, it does not transcode: opus, G.722, PCMU, PCMA as the browser offers)"
	}
	if code >= 300 && code < 400 {
		return "point the trunk at the server the PBX redirects to"
	}
	return ""
}
