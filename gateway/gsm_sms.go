package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"edgebox/api/modemapi"
	"edgebox/api/netapi"
	"edgebox/internal/config"
	"edgebox/internal/paths"

	"golang.org/x/time/rate"
)

// gsmAPI is the part of netctl's API the SMS bridge uses (the seam the
// unit tests fill; the service uses netapi.Client on netctl's socket).
type gsmAPI interface {
	GSMStatus(ctx context.Context) (netapi.GSMStatus, error)
	GSMEvents(ctx context.Context, after uint64, wait time.Duration) ([]netapi.GSMEvent, error)
	ListSMS(ctx context.Context) ([]modemapi.SMS, error)
	SendSMSReport(ctx context.Context, to, text string) (netapi.SendSMSResult, error)
}

// smsBridge carries SMS between the SIM(s) and the PBX (issue 19): it
// follows netctl's GSM events, stores each received SMS and delivery
// report until the PBX (SIP MESSAGE) and the webhook took it, and sends
// the SMS the PBX and the AMI ask for, through the allow-list and the
// rate limit of the SIM.
type smsBridge struct {
	log   *slog.Logger
	svc   *Service
	api   gsmAPI
	store *smsStore
	cfg   config.Gateway
	lims  []*rate.Limiter // per SIM
	out   chan outSMS
	wake  chan struct{}
	ami   *amiServer

	// sending is held while an SMS is handed to netctl and its record
	// stored: a report can overtake the answer that names its reference
	sending sync.Mutex

	mu      sync.Mutex
	state   smsState
	ident   netapi.GSMStatus // last status read, for the SIM's identity
	fullErr string           // the store-full error while it lasts

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// outSMS is one SMS to send, with where its report goes.
type outSMS struct {
	sim     int
	to      string // normalised
	text    string
	origin  string // "sip" or "ami"
	replyTo string // sip: the From URI of the PBX's MESSAGE
	amiID   string
}

// outQueueLen bounds the SMS waiting for the modem; one more is refused
// with 503 (the modem sends some per minute at best).
const outQueueLen = 32

func newSMSBridge(svc *Service, cfg config.Gateway, api gsmAPI, log *slog.Logger) (*smsBridge, error) {
	g := cfg.GSM
	dir := g.StoreDir
	if dir == "" {
		dir = filepath.Join(paths.DataDir(), "gsm-sms")
	}
	max := g.StoreMax
	if max == 0 {
		max = config.DefaultGSMStoreMax
	}
	st, err := openSMSStore(dir, max)
	if err != nil {
		return nil, err
	}
	b := &smsBridge{log: log, svc: svc, api: api, store: st, cfg: cfg,
		out: make(chan outSMS, outQueueLen), wake: make(chan struct{}, 1), state: st.loadState()}
	for _, s := range g.SIMs {
		per := s.SMS.RatePerMinuteOrDefault()
		b.lims = append(b.lims, rate.NewLimiter(rate.Limit(float64(per)/60), s.SMS.BurstOrDefault()))
	}
	b.clampSIMs()
	if b.state.Since.IsZero() {
		b.state.Since = time.Now()
		if err := st.saveState(b.state); err != nil {
			return nil, err
		}
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	if g.AMI.Enabled {
		if b.ami, err = startAMI(b, g.AMI, log.With("part", "ami")); err != nil {
			b.cancel()
			return nil, err
		}
	}
	b.run(b.pollEvents)
	b.run(b.deliverLoop)
	b.run(b.sendLoop)
	if n := st.len(); n > 0 {
		log.Info("SMS bridge: messages from before the restart wait for delivery", "count", n)
	}
	return b, nil
}

// clampSIMs gives what was stored under a SIM the config no longer lists
// (gateway.gsm.sims got shorter) to the first SIM, so it is still
// delivered.
func (b *smsBridge) clampSIMs() {
	n := len(b.cfg.GSM.SIMs)
	b.store.mu.Lock()
	for _, it := range b.store.items {
		if it.SIM < 0 || it.SIM >= n {
			it.SIM = 0
			b.store.writeLocked(it)
		}
	}
	b.store.mu.Unlock()
	for k, r := range b.state.Sent {
		if r.SIM < 0 || r.SIM >= n {
			r.SIM = 0
			b.state.Sent[k] = r
		}
	}
}

func (b *smsBridge) run(f func()) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f()
	}()
}

func (b *smsBridge) close() {
	b.cancel()
	if b.ami != nil {
		b.ami.close()
	}
	b.wg.Wait()
}

func (b *smsBridge) poke() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// pollEvents follows netctl's events from the stored cursor. An event
// is taken (the cursor moves past it) only once what it carries is
// stored, so a crash or a full store re-reads it.
func (b *smsBridge) pollEvents() {
	fails := 0
	b.checkRestart()
	b.reconcile()
	lastReconcile := time.Now()
	for b.ctx.Err() == nil {
		if time.Since(lastReconcile) >= reconcileEvery {
			b.reconcile()
			lastReconcile = time.Now()
		}
		b.mu.Lock()
		after := b.state.After
		b.mu.Unlock()
		evs, err := b.api.GSMEvents(b.ctx, after, netapi.GSMMaxWait)
		if err != nil {
			if b.ctx.Err() != nil {
				return
			}
			fails++
			if fails == 1 || fails%20 == 0 {
				b.log.Warn("SMS bridge: netctl's GSM events unreadable; retrying", "err", err, "attempt", fails)
			}
			b.sleep(min(time.Duration(fails)*time.Second, 30*time.Second))
			b.checkRestart()
			continue
		}
		fails = 0
		for _, ev := range evs {
			if err := b.take(ev); err != nil {
				b.noteFull(err)
				b.sleep(5 * time.Second)
				break // the same event again
			}
			b.noteFull(nil)
			b.mu.Lock()
			b.state.After = ev.Seq
			err := b.store.saveState(b.state)
			b.mu.Unlock()
			if err != nil {
				b.log.Error("SMS bridge: event cursor not saved", "err", err)
			}
		}
	}
}

// checkRestart reads netctl's status: a sequence number below the
// cursor means netctl restarted (its events count from 1 again).
func (b *smsBridge) checkRestart() {
	st, err := b.api.GSMStatus(b.ctx)
	if err != nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ident = st
	if st.Seq < b.state.After {
		b.log.Info("SMS bridge: netctl restarted, reading its events from the start", "was", b.state.After, "now", st.Seq)
		b.state.After = 0
	}
}

func (b *smsBridge) noteFull(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if msg != "" && msg != b.fullErr {
		b.log.Error("SMS bridge: received SMS not taken", "err", err)
	}
	b.fullErr = msg
}

func (b *smsBridge) sleep(d time.Duration) {
	select {
	case <-b.ctx.Done():
	case <-time.After(d):
	}
}

// take stores what ev carries for delivery.
func (b *smsBridge) take(ev netapi.GSMEvent) error {
	switch ev.Kind {
	case netapi.GSMSMSReceived:
		if ev.SMS == nil {
			return nil
		}
		b.mu.Lock()
		done := b.takenLocked(ev.SMS.ID)
		b.mu.Unlock()
		if done {
			return nil // reconcile took it before its event came, or the reverse
		}
		sim := b.simForSlot()
		it := &smsItem{Key: storeKey("sms", ev.SMS.ID), Kind: "sms", SIM: sim, From: ev.SMS.From, Text: ev.SMS.Text,
			Time: ev.SMS.Time, Parts: ev.SMS.Parts, ID: ev.SMS.ID}
		if it.Time.IsZero() {
			it.Time = ev.Time
		}
		if err := b.store.add(it); err != nil {
			return err
		}
		b.mu.Lock()
		b.markTakenLocked(ev.SMS.ID, ev.SMS.Received)
		b.mu.Unlock()
		b.log.Info("SMS received", "from", it.From, "parts", it.Parts, "sim", sim)
		if b.ami != nil {
			b.ami.receivedSMS(*it, b.cfg.GSM.SIMs[sim].Span(sim))
		}
		b.poke()
	case netapi.GSMSMSStatus:
		return b.report(ev)
	case netapi.GSMGap:
		b.log.Warn("SMS bridge: netctl's event ring lost events; reading its SMS store", "reason", ev.Reason)
		b.reconcile()
	}
	return nil
}

// simForSlot maps netctl's modem to a configured SIM: the one with the
// card's slot, else the first.
func (b *smsBridge) simForSlot() int {
	b.mu.Lock()
	slot := b.ident.Slot
	b.mu.Unlock()
	if _, i, ok := b.cfg.GSM.SIM(slot); ok && slot != "" {
		return i
	}
	return 0
}

// report files a delivery report under the message it belongs to; a
// report for a message the box did not send (web's REST API) goes to
// the webhook alone.
func (b *smsBridge) report(ev netapi.GSMEvent) error {
	if ev.Status == netapi.GSMSMSPending {
		return nil
	}
	key, rec, found := b.sentFor(ev.Ref)
	if !found {
		// the send that got this reference may still be recording it
		b.sending.Lock()
		key, rec, found = b.sentFor(ev.Ref)
		b.sending.Unlock()
	}
	b.mu.Lock()
	if !found {
		b.mu.Unlock()
		it := &smsItem{Key: storeKey("report", strconv.Itoa(ev.Ref)+"-"+strconv.FormatUint(ev.Seq, 10)), Kind: "sms_status", SIM: b.simForSlot(),
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

// sentFor finds the newest sent message with reference ref (references
// wrap at 256, so an old one may share it).
func (b *smsBridge) sentFor(ref int) (string, sentRecord, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key, rec, found := "", sentRecord{}, false
	for k, r := range b.state.Sent {
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
		b.ami.sendStatus(rec.AMIID, status == netapi.GSMSMSDelivered)
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
			rec := sentRecord{SIM: o.sim, To: o.to, Origin: o.origin, ReplyTo: o.replyTo, AMIID: o.amiID, Sent: time.Now()}
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
	res, err := b.api.SendSMSReport(ctx, o.to, o.text)
	cancel()
	rec := sentRecord{SIM: o.sim, To: o.to, Origin: o.origin, ReplyTo: o.replyTo, AMIID: o.amiID, Refs: res.Refs, Sent: time.Now()}
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

// identity is the SIM's identity for To: the configured number, else
// the number netctl read from the SIM, else its IMSI.
func (b *smsBridge) identity(sim int) string {
	if n := b.cfg.GSM.SIMs[sim].Number; n != "" {
		return n
	}
	b.mu.Lock()
	st := b.ident
	b.mu.Unlock()
	if st.Number == "" && st.IMSI == "" {
		if s, err := b.api.GSMStatus(b.ctx); err == nil {
			b.mu.Lock()
			b.ident = s
			b.mu.Unlock()
			st = s
		}
	}
	if st.Number != "" {
		return st.Number
	}
	if st.IMSI != "" {
		return st.IMSI
	}
	return "unknown"
}
