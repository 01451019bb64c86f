package gateway

import (
	"context"
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
	ListSMSOn(ctx context.Context, slot string) ([]modemapi.SMS, error)
	SendSMSReportOn(ctx context.Context, slot, to, text string) (netapi.SendSMSResult, error)
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
	amiUser string // ami: the user whose sessions get the status
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
		sim := b.simForSlot(ev.Slot)
		id := simSMSID(sim, ev.SMS.ID)
		b.mu.Lock()
		done := b.takenLocked(id)
		b.mu.Unlock()
		if done {
			return nil // reconcile took it before its event came, or the reverse
		}
		it := &smsItem{Key: storeKey("sms", id), Kind: "sms", SIM: sim, From: ev.SMS.From, Text: ev.SMS.Text,
			Time: ev.SMS.Time, Parts: ev.SMS.Parts, ID: ev.SMS.ID}
		if it.Time.IsZero() {
			it.Time = ev.Time
		}
		if err := b.store.add(it); err != nil {
			return err
		}
		b.mu.Lock()
		b.markTakenLocked(id, ev.SMS.Received)
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

// simSMSID tells apart received SMS of different SIMs: a card names a
// message by the hash of its PDU, and one text sent by one sender to both
// SIMs in the same second has the same PDU. The first SIM's keep the
// card's id (as with one SIM, so nothing stored is taken twice).
func simSMSID(sim int, id string) string {
	if sim == 0 {
		return id
	}
	return "sim" + strconv.Itoa(sim) + "-" + id
}

// simForSlot maps the modem of netctl's slot (an event's Slot) to a
// configured SIM (gsm_sims.go); a modem no SIM names files under the
// first, so its SMS are still delivered.
func (b *smsBridge) simForSlot(slot string) int {
	b.mu.Lock()
	st := b.ident
	b.mu.Unlock()
	if i := simOfSlot(b.cfg.GSM, st, slot); i >= 0 {
		return i
	}
	b.log.Warn("SMS on a slot no gateway.gsm.sims entry names; filed under the first SIM", "slot", slot)
	return 0
}

// modemOf is netctl's status of SIM sim's modem, as last read.
func (b *smsBridge) modemOf(sim int) netapi.GSMSIMStatus {
	b.mu.Lock()
	st := b.ident
	b.mu.Unlock()
	m, _ := simModem(b.cfg.GSM, st, sim)
	return m
}

// identity is the SIM's identity for To: the configured number, else
// the number netctl read from the SIM, else its IMSI.
func (b *smsBridge) identity(sim int) string {
	if n := b.cfg.GSM.SIMs[sim].Number; n != "" {
		return n
	}
	st := b.modemOf(sim)
	if st.Number == "" && st.IMSI == "" {
		if s, err := b.api.GSMStatus(b.ctx); err == nil {
			b.mu.Lock()
			b.ident = s
			b.mu.Unlock()
			st = b.modemOf(sim)
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
