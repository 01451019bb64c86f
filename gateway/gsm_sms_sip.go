package gateway

import (
	"errors"
	"fmt"
	"math"
	mimetype "mime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"edgebox/internal/config"

	"github.com/emiago/sipgo/sip"
)

// maxSMSText bounds the text of one SMS the PBX may send (ten parts of
// 160 GSM characters; netctl splits it and picks UCS-2 when needed).
const maxSMSText = 1600

// onMessage takes a SIP MESSAGE: only from the PBX's addresses (the same
// source check as its INVITEs; strangers were answered 403 before
// parsing), to sip:+NUMBER@box, sent as an SMS.
func (s *sipStack) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	if !s.fromPBXOrRefuse(req, tx) {
		return
	}
	s.svc.mu.Lock()
	b := s.svc.gsm
	s.svc.mu.Unlock()
	if b == nil {
		s.respond(tx, req, 405, "Method Not Allowed")
		return
	}
	if s.svc.Draining() {
		// A draining box takes no new work, so a dispatcher in front of
		// several boxes sends the SMS through another one at once.
		if err := tx.Respond(drainingSIPResponse(req)); err != nil {
			s.log.Debug("sip respond message", "err", err)
		}
		return
	}
	code, reason, hdrs := b.fromPBX(req)
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		s.log.Debug("sip respond message", "err", err)
	}
}

// fromPBX checks and queues the PBX's MESSAGE and says how to answer.
func (b *smsBridge) fromPBX(req *sip.Request) (int, string, []sip.Header) {
	warn := func(text string) sip.Header {
		return sip.NewHeader("Warning", fmt.Sprintf("399 %s %q", userAgentName, strings.ReplaceAll(text, `"`, "'")))
	}
	if ct := req.ContentType(); ct != nil {
		mt, _, err := mimetype.ParseMediaType(ct.Value())
		if err != nil || mt != "text/plain" {
			return 415, "Unsupported Media Type", []sip.Header{sip.NewHeader("Accept", "text/plain")}
		}
	}
	text := string(req.Body())
	if text == "" || !utf8.ValidString(text) {
		return 400, "Empty Or Invalid Text", []sip.Header{warn("the body must be UTF-8 text")}
	}
	if utf8.RuneCountInString(text) > maxSMSText {
		return 513, "Message Too Large", []sip.Header{warn(fmt.Sprintf("at most %d characters", maxSMSText))}
	}
	slot := requestedSlot(req)
	replyTo := ""
	if f := req.From(); f != nil {
		replyTo = f.Address.String()
	}
	o := outSMS{to: req.Recipient.User, text: text, origin: "sip", replyTo: replyTo}
	var retry time.Duration
	var err error
	if slot == "" {
		// no SIM named: the first whose allow-list and rate let it
		retry, err = b.queueAny(o)
	} else {
		_, idx, ok := b.cfg.GSM.SIM(slot)
		if !ok {
			return 404, "No Such SIM Slot", []sip.Header{warn(fmt.Sprintf("slot %q is not in gateway.gsm.sims", slot))}
		}
		o.sim = idx
		retry, err = b.queue(o)
	}
	if err != nil {
		b.log.Info("SMS from the PBX refused", "to", req.Recipient.User, "err", err)
		return refusal(err, retry, warn)
	}
	return 202, "Accepted", nil
}

// requestedSlot is the SIM slot a PBX's MESSAGE or INVITE names: its
// X-GSM-Slot header, else the Request-URI's ;slot= parameter ("" none:
// the first SIM that may).
func requestedSlot(req *sip.Request) string {
	if h := req.GetHeader("X-GSM-Slot"); h != nil {
		return strings.TrimSpace(h.Value())
	}
	return req.Recipient.UriParams.GetOr("slot", "")
}

// refusal maps a refused SMS to its SIP answer: 403 with a Warning for
// the allow-list, 503 with Retry-After for the rate limit and a full
// queue.
func refusal(err error, retry time.Duration, warn func(string) sip.Header) (int, string, []sip.Header) {
	var de *config.GSMDestinationError
	if errors.As(err, &de) {
		reasons := map[string]string{
			config.GSMRefusedNotANumber:    "Not A Phone Number",
			config.GSMRefusedPremium:       "Premium Number Refused",
			config.GSMRefusedInternational: "International Number Refused",
			config.GSMRefusedShortCode:     "Short Code Refused",
			config.GSMRefusedNotAllowed:    "Destination Not Allowed",
		}
		if de.Reason == config.GSMRefusedNotANumber {
			return 404, reasons[de.Reason], []sip.Header{warn(err.Error())}
		}
		return 403, reasons[de.Reason], []sip.Header{warn(err.Error()), sip.NewHeader("Reason", fmt.Sprintf("SIP;cause=403;text=%q", de.Reason))}
	}
	secs := int(math.Ceil(retry.Seconds()))
	return 503, "Rate Limited", []sip.Header{sip.NewHeader("Retry-After", strconv.Itoa(max(secs, 1))), warn(err.Error())}
}
