package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// The call's side of a SIP-over-WebSocket leg: Messages from the call
// become SIP answers and requests to the app.

// sipwsCandidateWait is how long an answer waits for the box's trickled
// candidates before it goes out with those it has (the box's come from a
// local list, so they are all there within milliseconds).
const sipwsCandidateWait = time.Second

// send is the call's signaler.
func (l *sipwsLeg) send(m Message) error {
	switch m.Type {
	case MsgAnswer:
		l.mu.Lock()
		l.sdp, l.sdpAt = m.SDP, time.Now()
		if strings.Contains(m.SDP, "a=end-of-candidates") {
			l.candsDone = true
		}
		l.flushLocked()
		l.mu.Unlock()
		time.AfterFunc(sipwsCandidateWait, func() { l.mu.Lock(); l.flushLocked(); l.mu.Unlock() })
	case MsgCandidate:
		l.mu.Lock()
		if m.Candidate == nil || m.Candidate.Candidate == "" {
			l.candsDone = true
		} else {
			l.cands = append(l.cands, *m.Candidate)
		}
		l.flushLocked()
		l.mu.Unlock()
	case MsgEvent:
		l.event(m)
	case MsgError:
		l.finalError(m)
	case MsgDTMF:
		// Not on the call's goroutine: the app's answer may take a while.
		go func() {
			for _, d := range m.Digits {
				l.ask(sip.INFO, "application/dtmf-relay", fmt.Sprintf("Signal=%c\r\nDuration=160\r\n", d))
			}
		}()
	case MsgQueue:
		body, _ := json.Marshal(map[string]int{"position": m.Position, "wait_sec": m.WaitSec})
		go l.ask(sip.INFO, QueueInfoType, string(body))
	case MsgOffer:
		go l.reoffer(m.SDP)
	}
	return nil
}

// event turns call progress into SIP: 180, 183 and 200 to the INVITE,
// or its final error, or a BYE once it was answered.
func (l *sipwsLeg) event(m Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch m.Event {
	case EventRinging:
		if !l.final && l.sent < 180 {
			l.sent = 180
			l.respond(l.invite, 180, "Ringing", nil, l.contact())
		}
	case EventEarlyMedia:
		l.want = max(l.want, 183)
		l.flushLocked()
	case EventAnswered:
		l.want = 200
		l.flushLocked()
	case EventEnded:
		switch {
		case !l.final:
			l.final = true
			code, reason := sipwsEndCode(m.SIPCode), m.Reason
			if reason == "" {
				reason = "Call Ended"
			}
			l.respond(l.invite, code, sipReasonPhrase(code), nil, sip.NewHeader("Reason", fmt.Sprintf("SIP;cause=%d;text=%q", code, reason)))
		case !l.byeIn:
			go l.ask(sip.BYE, "", "")
		}
	}
}

// sipwsEndCode is the final answer to the app's INVITE for a call that
// ended before it was answered: the PBX's code, or 480.
func sipwsEndCode(code int) int {
	if code >= 300 && code < 700 {
		return code
	}
	if code == 503 {
		return 503
	}
	return 480
}

// sipReasonPhrase is a reason phrase for the codes the leg sends.
func sipReasonPhrase(code int) string {
	switch code {
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 408:
		return "Request Timeout"
	case 480:
		return "Temporarily Unavailable"
	case 486:
		return "Busy Here"
	case 487:
		return "Request Terminated"
	case 488:
		return "Not Acceptable Here"
	case 500:
		return "Server Internal Error"
	case 503:
		return "Service Unavailable"
	case 600:
		return "Busy Everywhere"
	case 603:
		return "Decline"
	}
	return "Call Failed"
}

// finalError answers the INVITE for a call the box refused (bad SDP, no
// codec, timeouts).
func (l *sipwsLeg) finalError(m Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.final || l.invite == nil {
		return
	}
	code := 500
	switch m.Code {
	case CodeBadSDP, CodeNoCodec:
		code = 488
	case CodeOfferTimeout:
		code = 408
	case CodeBusy:
		code = 486
	case CodeUnavailable:
		code = 503
	case CodeState:
		return // a message out of turn; the call goes on
	}
	l.final = true
	l.respond(l.invite, code, sipReasonPhrase(code), nil, sip.NewHeader("Warning", `399 edgebox "`+strings.ReplaceAll(m.Error, `"`, `'`)+`"`))
}

// flushLocked sends the 183 or 200 the call asked for once the answer
// and its candidates are there (or waited long enough).
func (l *sipwsLeg) flushLocked() {
	if l.want == 0 || l.want <= l.sent || l.sdp == "" || l.invite == nil {
		return
	}
	if l.final && l.want < 200 {
		return
	}
	if !l.candsDone && time.Since(l.sdpAt) < sipwsCandidateWait {
		return
	}
	body := []byte(withCandidates(l.sdp, l.cands))
	l.sent = l.want
	if l.want == 200 {
		l.final = true
		l.respond(l.invite, 200, "OK", body, l.contact())
		return
	}
	l.respond(l.invite, 183, "Session Progress", body, l.contact())
}

// contact is the box's Contact in the dialog (early dialogs too): the app
// sends its in-dialog requests to it, over this same socket.
func (l *sipwsLeg) contact() sip.Header {
	return sip.NewHeader("Contact", "<sip:"+l.tag+"@edgebox.invalid;transport=ws>")
}

// withCandidates puts trickled candidates into the SDP: SIP apps take the
// answer whole (RFC 7118 apps do no trickle ICE).
func withCandidates(sdp string, cands []Candidate) string {
	if len(cands) == 0 {
		return sdp
	}
	lines := strings.Split(strings.TrimRight(sdp, "\r\n"), "\r\n")
	var out []string
	media := -1
	emit := func(idx int) {
		for _, c := range cands {
			if (c.SDPMLineIndex != nil && int(*c.SDPMLineIndex) == idx) || (c.SDPMLineIndex == nil && idx == 0) {
				if !strings.Contains(sdp, c.Candidate) {
					out = append(out, "a="+strings.TrimPrefix(c.Candidate, "a="))
				}
			}
		}
	}
	for _, ln := range lines {
		if strings.HasPrefix(ln, "m=") {
			if media >= 0 {
				emit(media)
			}
			media++
		}
		out = append(out, ln)
	}
	if media >= 0 {
		emit(media)
	}
	return strings.Join(out, "\r\n") + "\r\n"
}

// ask sends the box's in-dialog request to the app and waits a little
// for its answer.
func (l *sipwsLeg) ask(method sip.RequestMethod, ctype, body string) *sip.Response {
	l.mu.Lock()
	inv := l.invite
	if inv == nil {
		l.mu.Unlock()
		return nil
	}
	l.cseq++
	n := l.cseq
	ch := make(chan *sip.Response, 1)
	l.waiting[n] = ch
	l.mu.Unlock()
	defer func() { l.mu.Lock(); delete(l.waiting, n); l.mu.Unlock() }()

	req := l.inDialog(inv, method, n)
	if ctype != "" {
		req.AppendHeader(sip.NewHeader("Content-Type", ctype))
	}
	req.SetBody([]byte(body))
	if err := l.write(req); err != nil {
		return nil
	}
	select {
	case res := <-ch:
		return res
	case <-time.After(byeTimeout):
		return nil
	}
}

// inDialog builds a request of the box inside the app's INVITE dialog.
func (l *sipwsLeg) inDialog(inv *sip.Request, method sip.RequestMethod, cseq uint32) *sip.Request {
	target := inv.Recipient
	if ct := inv.Contact(); ct != nil {
		target = ct.Address
	}
	req := sip.NewRequest(method, target)
	req.AppendHeader(sip.NewHeader("Via", "SIP/2.0/WSS edgebox.invalid;branch="+sip.GenerateBranch()))
	req.AppendHeader(sip.NewHeader("Max-Forwards", "70"))
	if to := inv.To(); to != nil {
		req.AppendHeader(sip.NewHeader("From", strings.TrimSuffix(to.Value(), ";tag="+l.tag)+";tag="+l.tag))
	}
	if from := inv.From(); from != nil {
		req.AppendHeader(sip.NewHeader("To", from.Value()))
	}
	if id := inv.CallID(); id != nil {
		req.AppendHeader(sip.NewHeader("Call-ID", id.Value()))
	}
	req.AppendHeader(sip.NewHeader("CSeq", strconv.FormatUint(uint64(cseq), 10)+" "+string(method)))
	return req
}

// takeResponse hands an answer of the app to the request waiting for it.
func (l *sipwsLeg) takeResponse(res *sip.Response) {
	cs := res.CSeq()
	if cs == nil || res.StatusCode < 200 {
		return
	}
	l.mu.Lock()
	ch := l.waiting[cs.SeqNo]
	l.mu.Unlock()
	if ch != nil {
		select {
		case ch <- res:
		default:
		}
	}
}

// reoffer sends the box's new offer (the PBX changed the codec) as a
// re-INVITE and gives the call the app's answer.
func (l *sipwsLeg) reoffer(sdp string) {
	res := l.ask(sip.INVITE, "application/sdp", sdp)
	if res == nil || res.StatusCode != 200 || len(res.Body()) == 0 {
		l.svc.log.Info("SIP-WS app refused the box's re-offer", "answer", res)
		return
	}
	l.mu.Lock()
	inv := l.invite
	l.mu.Unlock()
	ack := l.inDialog(inv, sip.ACK, res.CSeq().SeqNo)
	ack.SetBody(nil)
	l.write(ack)
	l.toCall(Message{Type: MsgAnswer, SDP: string(res.Body())})
}

// isDTMFInfo says whether an INFO carries a DTMF digit (dtmfFromINFO's types).
func isDTMFInfo(req *sip.Request) bool {
	ct := req.ContentType()
	if ct == nil {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(strings.Split(ct.Value(), ";")[0])) {
	case "application/dtmf-relay", "application/dtmf":
		return true
	}
	return false
}

// dtmfFromINFO reads the digits of an INFO (application/dtmf-relay
// "Signal=5", or application/dtmf "5").
func dtmfFromINFO(req *sip.Request) (string, error) {
	ct := req.ContentType()
	if ct == nil {
		return "", errors.New("INFO without Content-Type")
	}
	body := strings.TrimSpace(string(req.Body()))
	var d string
	switch strings.ToLower(strings.TrimSpace(strings.Split(ct.Value(), ";")[0])) {
	case "application/dtmf-relay":
		for _, ln := range strings.Split(body, "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(ln), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
				d = strings.TrimSpace(v)
			}
		}
	case "application/dtmf":
		d = body
	default:
		return "", fmt.Errorf("INFO of type %s", ct.Value())
	}
	if len(d) != 1 || !strings.Contains("0123456789*#ABCDabcd", d) {
		return "", fmt.Errorf("not a DTMF digit: %q", d)
	}
	return strings.ToUpper(d), nil
}
