package gateway

// The sending side of the SMS bridge: SMS from the PBX and the AMI go
// through the SIM's allow-list and rate limit into a queue, one at a
// time to netctl; their delivery reports are matched by message
// reference and filed for the PBX and the webhook.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"edgebox/api/netapi"
)

// report files a delivery report under the message it belongs to; a
// report for a message the box did not send (web's REST API) goes to
// the webhook alone.
func (b *smsBridge) report(ev netapi.GSMEvent) error {
	if ev.Status == netapi.GSMSMSPending {
		return nil
	}
	sim := b.simForSlot(ev.Slot) // references are per SIM
	key, rec, found := b.sentFor(sim, ev.Ref)
	if !found {
		// the send that got this reference may still be recording it
		b.sending.Lock()
		key, rec, found = b.sentFor(sim, ev.Ref)
		b.sending.Unlock()
	}
	b.mu.Lock()
	if !found {
		b.mu.Unlock()
		it := &smsItem{Key: storeKey("report", strconv.Itoa(ev.Ref)+"-"+strconv.FormatUint(ev.Seq, 10)), Kind: "sms_status", SIM: b.simForSlot(ev.Slot),
			From: ev.Number, Status: ev.Status, Reason: ev.Reason, Time: ev.Time, Refs: []int{ev.Ref}, SIPDone: true}
		if b.cfg.GSM.SIMs[it.SIM].SMS.WebhookURL == "" {
			return nil
		}
		return b.store.add(it)
	}
	if rec.Status == nil {
		rec.Status = map[int]string{}
	}
	rec.Status[ev.Ref] = ev.Status
	// the message counts as delivered when every part is, as failed as
	// soon as one part failed
	final := ""
	if ev.Status == netapi.GSMSMSFailed {
		final = netapi.GSMSMSFailed
	} else if len(rec.Status) >= len(rec.Refs) {
		final = netapi.GSMSMSDelivered
	}
	if final == "" {
		b.state.Sent[key] = rec
		b.mu.Unlock()
		return nil
	}
	delete(b.state.Sent, key)
	b.mu.Unlock()
	return b.fileReport(rec, final, ev.Reason, ev.Time)
}

// sentFor finds the newest message sent through SIM sim with reference
// ref (each modem numbers its own; they wrap at 256, so an old one may
// share it).
func (b *smsBridge) sentFor(sim, ref int) (string, sentRecord, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key, rec, found := "", sentRecord{}, false
	for k, r := range b.state.Sent {
		if r.SIM != sim {
			continue
		}
		for _, x := range r.Refs {
			if x == ref && (!found || r.Sent.After(rec.Sent)) {
				key, rec, found = k, r, true
			}
		}
	}
	return key, rec, found
}

// fileReport stores the report of a sent message for the PBX (origin
// sip) and the webhook, and tells AMI sessions (origin ami).
func (b *smsBridge) fileReport(rec sentRecord, status, reason string, at time.Time) error {
	if b.ami != nil && rec.Origin == "ami" {
		b.ami.sendStatus(rec.AMIUser, rec.AMIID, status == netapi.GSMSMSDelivered)
	}
	sms := b.cfg.GSM.SIMs[rec.SIM].SMS
	// a message netctl refused has no reference
	ref := "none"
	if len(rec.Refs) > 0 {
		ref = strconv.Itoa(rec.Refs[0])
	}
	it := &smsItem{Key: storeKey("report", fmt.Sprintf("%s-%d", ref, rec.Sent.UnixNano())), Kind: "sms_status", SIM: rec.SIM,
		From: rec.To, Status: status, Reason: reason, Time: at, Refs: rec.Refs, ReplyTo: rec.ReplyTo,
		SIPDone: rec.Origin != "sip"}
	if it.SIPDone && sms.WebhookURL == "" {
		return nil
	}
	err := b.store.add(it)
	b.poke()
	return err
}

// errSMSQueueFull refuses an SMS while the modem has a queue to send.
var errSMSQueueFull = errors.New("the modem has too many SMS waiting: try again in a minute")

// queueAny sends through the first SIM whose allow-list lets the
// destination and that is under its rate limit (an SMS from the PBX that
// names no slot): the refusal of the first SIM that allows it, else of
// the first SIM, when none takes it.
func (b *smsBridge) queueAny(o outSMS) (retry time.Duration, err error) {
	var refused, denied error
	for i, s := range b.cfg.GSM.SIMs {
		if _, err := s.CheckDestination(o.to, i); err != nil {
			if denied == nil {
				denied = err
			}
			continue
		}
		o.sim = i
		r, err := b.queue(o)
		if err == nil {
			return 0, nil
		}
		if refused == nil {
			refused, retry = err, r
		}
	}
	switch {
	case refused != nil:
		return retry, refused
	case denied != nil:
		return 0, denied
	}
	return 0, errors.New("gateway.gsm.sims lists no SIM")
}

// queue checks to against the SIM's allow-list and rate limit and hands
// the SMS to the sender. retry is how long to wait when refused for the
// rate or the queue.
func (b *smsBridge) queue(o outSMS) (retry time.Duration, err error) {
	sim := b.cfg.GSM.SIMs[o.sim]
	num, err := sim.CheckDestination(o.to, o.sim)
	if err != nil {
		return 0, err
	}
	o.to = num
	r := b.lims[o.sim].Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return d, fmt.Errorf("gateway.gsm.sims[%d].sms.rate_per_minute (%d) reached: try again in %d s", o.sim, sim.SMS.RatePerMinuteOrDefault(), int(d.Seconds())+1)
	}
	select {
	case b.out <- o:
		return 0, nil
	default:
		r.Cancel()
		return 30 * time.Second, errSMSQueueFull
	}
}

// sendLoop hands queued SMS to netctl one at a time and records their
// message references for the reports.
func (b *smsBridge) sendLoop() {
	for {
		select {
		case <-b.ctx.Done():
			b.dropQueued()
			return
		case o := <-b.out:
			b.sending.Lock()
			b.send(o)
			b.sending.Unlock()
		}
	}
}

// dropQueued files a failed report for each SMS still queued when the
// bridge stops: the PBX had 202 for them, so it hears they were not sent
// (the report is stored and delivered after the restart).
func (b *smsBridge) dropQueued() {
	for {
		select {
		case o := <-b.out:
			rec := sentRecord{SIM: o.sim, To: o.to, Origin: o.origin, ReplyTo: o.replyTo, AMIID: o.amiID, AMIUser: o.amiUser, Sent: time.Now()}
			if err := b.fileReport(rec, netapi.GSMSMSFailed, "the gateway stopped before sending it: send it again", time.Now()); err != nil {
				b.log.Error("SMS bridge: report of an unsent SMS not stored", "to", o.to, "err", err)
			}
		default:
			return
		}
	}
}

// send hands one SMS to netctl and records its references.
func (b *smsBridge) send(o outSMS) {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Minute)
	res, err := b.api.SendSMSReportOn(ctx, b.modemOf(o.sim).Slot, o.to, o.text)
	cancel()
	rec := sentRecord{SIM: o.sim, To: o.to, Origin: o.origin, ReplyTo: o.replyTo, AMIID: o.amiID, AMIUser: o.amiUser, Refs: res.Refs, Sent: time.Now()}
	if err != nil {
		b.log.Warn("SMS not sent", "to", o.to, "err", err)
		if ferr := b.fileReport(rec, netapi.GSMSMSFailed, err.Error(), time.Now()); ferr != nil {
			b.log.Error("SMS bridge: failure report not stored", "err", ferr)
		}
		return
	}
	b.log.Info("SMS sent", "to", o.to, "parts", res.Parts, "refs", res.Refs, "origin", o.origin)
	if len(res.Refs) == 0 {
		return // no report will come
	}
	b.mu.Lock()
	b.state.Sent[strconv.Itoa(res.Refs[0])+"-"+strconv.FormatInt(rec.Sent.UnixNano(), 10)] = rec
	err = b.store.saveState(b.state)
	b.mu.Unlock()
	if err != nil {
		b.log.Error("SMS bridge: sent record not saved", "err", err)
	}
}
