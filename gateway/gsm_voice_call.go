package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"edgebox/api/gatewayapi"
	"edgebox/api/netapi"
	"edgebox/internal/config"

	"github.com/emiago/sipgo/sip"
)

// gsmDialog is what a GSM call needs of its SIP dialog, whichever side
// opened it (sipgo's client and server sessions).
type gsmDialog interface {
	Bye(ctx context.Context) error
	ReadBye(req *sip.Request, tx sip.ServerTransaction) error
	Context() context.Context
}

// gsmSIPRequest is a request of the call's dialog from the PBX.
type gsmSIPRequest struct {
	req  *sip.Request
	tx   sip.ServerTransaction
	done chan struct{} // closed once answered
}

func (r gsmSIPRequest) respond(code int, reason string) {
	r.tx.Respond(sip.NewResponseFromRequest(r.req, code, reason, nil))
}

// gsmVoiceCall is a SIM's one call and its SIP dialog; its run
// goroutine owns the dialog and the media.
type gsmVoiceCall struct {
	v      *gsmVoice
	id     string
	log    *slog.Logger
	sim    config.GSMSIM
	simIdx int
	// modem is netctl's status of the SIM's modem: its slot (what the
	// call's requests to netctl name), identity and audio port.
	modem netapi.GSMSIMStatus

	idx     atomic.Int32 // the card's call index, 0 until known
	events  chan netapi.GSMEvent
	sipIn   chan gsmSIPRequest
	digits  chan byte // from the PBX (RFC 4733), for AT+VTS
	audioUp chan error
	onAck   atomic.Pointer[func(*sip.Request, sip.ServerTransaction)]

	dialog gsmDialog
	sessID uint64 // the box's SDP session, and its version
	sdpVer uint64
	media  mediaChoice
	remote atomic.Pointer[netip.AddrPort] // where the PBX wants the RTP
	// held: the PBX put the call on hold (sendonly, inactive, c=0.0.0.0):
	// the box sends it nothing and answers with heldDir
	held    atomic.Bool
	heldDir string
	leg     *pbxLeg
	audio   *gsmAudio
	port    io.ReadWriteCloser
	stop    context.CancelFunc
	done    sync.WaitGroup

	mu   sync.Mutex
	info gatewayapi.GSMCall
}

// refreshStatus reads netctl's status now, not as it was when the
// bridge started: a card's voice may have come up (or gone) since.
func (v *gsmVoice) refreshStatus() {
	if _, err := v.readStatus(); err != nil {
		v.log.Warn("GSM status not readable; using the last one read", "err", err)
	}
}

// newCall makes a call on config SIM idx (refreshStatus first).
func (v *gsmVoice) newCall(dir string, idx int) *gsmVoiceCall {
	sim, m := v.sim(idx)
	c := &gsmVoiceCall{v: v, log: v.log.With("sim", sim.Slot), sim: sim, simIdx: idx, modem: m,
		events: make(chan netapi.GSMEvent, 32), sipIn: make(chan gsmSIPRequest, 8), digits: make(chan byte, 32), audioUp: make(chan error, 1)}
	c.info = gatewayapi.GSMCall{Direction: dir, Slot: sim.Slot, SIM: simIdentity(sim, m), State: gatewayapi.GSMStateRinging, StartedAt: time.Now()}
	return c
}

func (c *gsmVoiceCall) owns(idx int) bool {
	cur := int(c.idx.Load())
	return cur == 0 || cur == idx
}

func (c *gsmVoiceCall) index() int { return int(c.idx.Load()) }

func (c *gsmVoiceCall) setIndex(i int) {
	c.idx.Store(int32(i))
	c.mu.Lock()
	c.info.GSMCall = i
	c.mu.Unlock()
}

func (c *gsmVoiceCall) gsmEvent(ev netapi.GSMEvent) {
	select {
	case c.events <- ev:
	default:
		c.log.Warn("GSM event dropped: the call is not reading them", "kind", ev.Kind)
	}
}

// sipRequest takes ACK at once (a 200 waits for it), the rest through
// the call's goroutine.
func (c *gsmVoiceCall) sipRequest(req *sip.Request, tx sip.ServerTransaction) {
	if req.Method == sip.ACK {
		if f := c.onAck.Load(); f != nil {
			(*f)(req, tx)
		}
		return
	}
	r := gsmSIPRequest{req: req, tx: tx, done: make(chan struct{})}
	select {
	case c.sipIn <- r:
		// the handler must not return before the call answered: sipgo
		// ends the transaction then
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
		}
	default:
		tx.Respond(sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
	}
}

func (c *gsmVoiceCall) setState(s string) {
	c.mu.Lock()
	c.info.State = s
	if s == gatewayapi.GSMStateConnected && c.info.AnsweredAt.IsZero() {
		c.info.AnsweredAt = time.Now()
	}
	c.mu.Unlock()
}

func (c *gsmVoiceCall) snapshot() gatewayapi.GSMCall {
	c.mu.Lock()
	info := c.info
	a := c.audio
	c.mu.Unlock()
	info.ID = c.id
	if !info.AnsweredAt.IsZero() {
		end := info.EndedAt
		if end.IsZero() {
			end = time.Now()
		}
		info.DurationSec = end.Sub(info.AnsweredAt).Seconds()
	}
	if a != nil {
		st := a.stats()
		info.Codec = st.Codec
		info.Audio = &gatewayapi.GSMAudio{CardFramesIn: st.CardFramesIn, CardFramesOut: st.CardFramesOut, RTPIn: st.RTPIn, RTPOut: st.RTPOut,
			DepthMS: st.Jitter.DepthMS, DriftPPM: st.Jitter.DriftPPM, Concealed: st.Jitter.Concealed, Late: st.Jitter.Late}
	}
	return info
}

// end records how the call ended (the first reason counts).
func (c *gsmVoiceCall) end(code int, reason string) {
	c.mu.Lock()
	if c.info.EndedAt.IsZero() {
		c.info.EndedAt = time.Now()
		c.info.State = gatewayapi.GSMStateEnded
		c.info.SIPCode, c.info.Reason = code, reason
	}
	c.mu.Unlock()
}

// finish releases the media and the SIM.
func (c *gsmVoiceCall) finish() {
	c.stopMedia()
	if c.leg != nil {
		c.leg.close()
	}
	c.end(0, "ended")
	c.v.released(c)
}

// hangupGSM ends the GSM side (AT+CHUP through netctl).
func (c *gsmVoiceCall) hangupGSM(why string) {
	idx := c.index()
	ctx, cancel := context.WithTimeout(context.Background(), gsmAPITimeout)
	defer cancel()
	if err := c.v.api.GSMHangupOn(ctx, c.modem.Slot, idx); err != nil {
		c.log.Warn("GSM hangup failed", "call", idx, "why", why, "err", err)
	}
}

// byeSIP ends the SIP side of an established dialog.
func (c *gsmVoiceCall) byeSIP() {
	if c.dialog == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	if err := c.dialog.Bye(ctx); err != nil {
		c.log.Debug("BYE", "err", err)
	}
}

// localRTPAddr is the address of the call's RTP port toward the PBX.
func (v *gsmVoice) localRTPAddr() netip.Addr {
	if v.cfg.Media.RTPAddress != "" {
		if a, err := netip.ParseAddr(v.cfg.Media.RTPAddress); err == nil {
			return a
		}
	}
	a, err := netip.ParseAddr(localIPToward(v.cfg.PBX.HostPort()))
	if err != nil {
		return netip.IPv4Unspecified()
	}
	return a
}

// gsmTEPT is the telephone-event payload type the box offers.
const gsmTEPT = 101

// offerCodecs are the SIM's G.711 laws in its order, and telephone-event.
func (c *gsmVoiceCall) offerCodecs() []codec {
	var out []codec
	for _, name := range c.sim.Voice.CodecsOrDefault() {
		if law := lawByName(name); law != nil {
			out = append(out, codec{Name: strings.ToLower(law.name), PT: law.pt, Clock: pcmRate, Channels: 1})
		}
	}
	return append(out, codec{Name: "telephone-event", PT: gsmTEPT, Clock: pcmRate, Channels: 1, Fmtp: "0-16"})
}

func lawByName(name string) *g711Law {
	switch strings.ToUpper(name) {
	case "PCMA":
		return lawPCMA
	case "PCMU":
		return lawPCMU
	}
	return nil
}

// mediaChoice is the codec and address agreed with the PBX.
type mediaChoice struct {
	law    *g711Law
	tePT   int
	remote netip.AddrPort
}

// chooseMedia picks from the PBX's audio section: the first of prefs it
// lists (in its order when answering, in ours when it offered).
func chooseMedia(m *mediaSection, prefs []string, ours bool) (mediaChoice, error) {
	ch := mediaChoice{tePT: -1}
	if m == nil || !m.Addr.IsValid() || m.Port == 0 {
		return ch, errors.New("no audio in the PBX's SDP")
	}
	ch.remote = netip.AddrPortFrom(m.Addr, uint16(m.Port))
	allowed := func(name string) *g711Law {
		for _, p := range prefs {
			if strings.EqualFold(p, name) {
				return lawByName(p)
			}
		}
		return nil
	}
	if ours {
		for _, p := range prefs {
			for _, k := range m.Codecs {
				if l := lawByName(p); l != nil && strings.EqualFold(k.Name, l.name) && k.PT == l.pt {
					ch.law = l
					break
				}
			}
			if ch.law != nil {
				break
			}
		}
	} else {
		for _, k := range m.Codecs {
			if l := allowed(k.Name); l != nil && k.PT == l.pt {
				ch.law = l
				break
			}
		}
	}
	if ch.law == nil {
		return ch, fmt.Errorf("the PBX offers none of %s (8 kHz G.711, static payload types)", strings.Join(prefs, ", "))
	}
	for _, k := range m.Codecs {
		if k.Name == "telephone-event" && k.Clock == pcmRate {
			ch.tePT = int(k.PT)
			break
		}
	}
	return ch, nil
}

// sdpFor is the box's description: the leg's address, and either the
// codecs it offers or the one agreed.
func (c *gsmVoiceCall) sdpFor(ch *mediaChoice) []byte {
	if c.sessID == 0 {
		c.sessID = newSessionID()
	}
	c.sdpVer++
	sessID, ver := c.sessID, c.sdpVer
	codecs := c.offerCodecs()
	if ch != nil {
		codecs = []codec{{Name: strings.ToLower(ch.law.name), PT: ch.law.pt, Clock: pcmRate, Channels: 1}}
		if ch.tePT >= 0 {
			codecs = append(codecs, codec{Name: "telephone-event", PT: uint8(ch.tePT), Clock: pcmRate, Channels: 1, Fmtp: "0-16"})
		}
	}
	p := plainSDP{SessionID: sessID, Version: ver, Addr: c.leg.local.Addr(), Audio: plainMedia{Port: int(c.leg.local.Port()), Codecs: codecs, Direction: c.heldDir}}
	return []byte(p.String())
}

// startMedia opens the card's audio port and starts moving audio with
// the PBX in mode.
func (c *gsmVoiceCall) startMedia(ch mediaChoice, mode audioMode) error {
	ctx, cancel := context.WithCancel(context.Background())
	port, err := openAudioPort(ctx, c.modem.AudioPort)
	if err != nil {
		cancel()
		return err
	}
	leg := c.leg
	c.media = ch
	remote := ch.remote
	c.remote.Store(&remote)
	a := newGSMAudio(ch.law, ch.tePT, c.sim.Voice.JitterMS, func(pkt []byte) error {
		if c.held.Load() {
			return nil
		}
		_, err := leg.rtp.WriteToUDPAddrPort(pkt, *c.remote.Load())
		return err
	})
	a.onDigit = func(d byte) {
		select {
		case c.digits <- d:
		default:
		}
	}
	a.setMode(mode)
	if err := leg.poll(func(pkt []byte, from netip.AddrPort) {
		if from.Addr().Unmap() == c.remote.Load().Addr().Unmap() {
			a.onRTP(pkt)
		}
	}); err != nil {
		cancel()
		port.Close()
		return err
	}
	c.mu.Lock()
	c.audio, c.port, c.stop = a, port, cancel
	c.info.Codec = ch.law.name
	c.mu.Unlock()
	c.done.Add(2)
	go func() {
		defer c.done.Done()
		err := a.run(ctx, port)
		if err == nil {
			err = errors.New("audio stopped")
		}
		select {
		case c.audioUp <- err:
		default:
		}
	}()
	go func() {
		defer c.done.Done()
		a.ringbackLoop(ctx)
	}()
	return nil
}

func (c *gsmVoiceCall) stopMedia() {
	c.mu.Lock()
	stop, port := c.stop, c.port
	c.stop = nil
	c.mu.Unlock()
	if stop == nil {
		return
	}
	stop()
	port.Close() // unblocks the read
	c.done.Wait()
}

// talk runs a connected call until one side ends it.
func (c *gsmVoiceCall) talk() {
	c.setState(gatewayapi.GSMStateConnected)
	var limit <-chan time.Time
	if s := c.sim.Voice.MaxCallSec; s > 0 {
		t := time.NewTimer(time.Duration(s) * time.Second)
		defer t.Stop()
		limit = t.C
	}
	for {
		select {
		case ev := <-c.events:
			switch ev.Kind {
			case netapi.GSMEnded:
				c.byeSIP()
				c.end(200, "GSM side ended: "+ev.Reason)
				return
			case netapi.GSMDTMF:
				if ev.Number != "" && !c.audio.queueDigits(ev.Number) {
					c.log.Info("DTMF from the GSM side dropped: the PBX agreed to no telephone-event", "digit", ev.Number)
				}
			}
		case r := <-c.sipIn:
			if r.req.Method == sip.BYE {
				err := c.dialog.ReadBye(r.req, r.tx)
				if err != nil {
					r.respond(481, "Call/Transaction Does Not Exist")
				}
				close(r.done)
				if err != nil {
					continue
				}
				c.hangupGSM("the PBX hung up")
				c.end(200, "PBX hung up")
				return
			}
			switch r.req.Method {
			case sip.INVITE:
				c.reinvite(r)
			case sip.INFO:
				c.infoFromPBX(r)
			default:
				r.respond(501, "Not Implemented")
			}
			close(r.done)
		case d := <-c.digits:
			ctx, cancel := context.WithTimeout(c.v.ctx, gsmAPITimeout)
			if err := c.v.api.GSMDTMFOn(ctx, c.modem.Slot, string(d)); err != nil {
				c.log.Warn("DTMF to the GSM side failed", "digit", string(d), "err", err)
			}
			cancel()
		case err := <-c.audioUp:
			c.log.Warn("GSM audio failed: ending the call", "err", err)
			c.byeSIP()
			c.hangupGSM("audio failed")
			c.end(500, "audio port: "+err.Error())
			return
		case <-c.dialog.Context().Done():
			c.hangupGSM("SIP dialog ended")
			c.end(200, "SIP dialog ended")
			return
		case <-limit:
			c.byeSIP()
			c.hangupGSM("longest call reached")
			c.end(200, "gateway.gsm.sims[].voice.max_call_sec reached")
			return
		case <-c.v.ctx.Done():
			c.byeSIP()
			c.hangupGSM("gateway stopping")
			c.end(503, "gateway stopping")
			return
		}
	}
}

// infoFromPBX answers an INFO of the PBX in the call's dialog: a digit (the
// agent's key as application/dtmf-relay or application/dtmf, Asterisk's
// dtmf_mode=info) goes to the GSM side as AT+VTS; anything else is
// answered 200 and ignored. A 481 here ended the PBX's dialog (RFC 5057).
func (c *gsmVoiceCall) infoFromPBX(r gsmSIPRequest) {
	if !isDTMFInfo(r.req) {
		r.respond(200, "OK")
		return
	}
	d, err := dtmfFromINFO(r.req)
	if err != nil {
		c.log.Info("DTMF INFO from the PBX refused", "err", err)
		r.respond(400, "Bad DTMF")
		return
	}
	select {
	case c.digits <- d[0]:
	default:
		c.log.Warn("DTMF from the PBX dropped: digits are queued faster than the card takes them", "digit", d)
	}
	r.respond(200, "OK")
}
