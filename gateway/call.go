package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"edgebox/internal/config"

	"github.com/emiago/sipgo"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"
)

// Timeouts of a call's setup.
const (
	offerTimeout    = 30 * time.Second
	answerTimeout   = 3 * time.Minute // ringing an agent queue can take a while
	byeTimeout      = 5 * time.Second
	transferTimeout = 45 * time.Second
	maxCandidates   = 64
)

// signaler is the client side of a call (the WebSocket).
type signaler interface {
	send(m Message) error
}

// call bridges one authorised WebRTC session to one SIP dialog. Its run
// goroutine owns the call's state; others reach it through the channels.
type call struct {
	ID    string
	svc   *Service
	log   *slog.Logger
	grant callGrant
	sig   signaler
	link  *clientLink     // the JSON protocol's client across its sockets (resume.go); set under svc.mu
	cfg   *config.Gateway // config when the call started, shared with the calls started under it (never written): a reload does not touch it

	reoffers *rate.Limiter // bounds the client's new offers (callrestart.go)

	in     chan *Message   // from the client; closed when the client is gone
	pbxIn  chan pbxRequest // in-dialog requests from the PBX
	pcDown chan string     // browser leg failed
	hangup chan string     // API hangup
	done   chan struct{}

	// owned by run
	offerSDP   string
	offer      *sdpInfo
	offerDesc  *sdp.SessionDescription // offerSDP parsed, until startMedia: the lean answer reads it instead of parsing again
	pbx        *pbxLeg
	pc         *webrtc.PeerConnection
	plan       *bridgePlan
	dialog     *sipgo.DialogClientSession
	dialogSlim bool            // dialog is slimDialog's (dialogslim.go)
	dialogEnd  <-chan struct{} // the whole session's end (sipgo: ACK retransmission failed); nil once slim
	slimAt     *time.Timer     // the end of the answer's accepted window: the dialog is slimmed then
	cands      []webrtc.ICECandidateInit
	sessID     uint64
	sdpVer     uint64
	pbxCodecs  []codec
	answered   bool
	held       bool
	dtmfq      chan string // made with the first digits (queueDTMF)
	stopMedia  chan struct{}
	browserIn  streamStats
	browserOut streamStats
	mediaWG    sync.WaitGroup
	video      *videoBridge // nil unless both sides do video
	audioTR    *webrtc.RTPTransceiver
	audioTrack atomic.Pointer[relayTrack] // read by the relay
	videoOffer []codec                    // browser video codecs offered to the PBX
	web        *webrtcHost                // the host the browser leg runs on
	lean       *leanLeg                   // the browser leg on the lean stack, else nil
	caller     callerAddr                 // where the call's signaling comes from (icefilter.go)
	reports    callReports                // RTCP on both legs (leanreports.go)
	// recvMu serialises the browser audio's receive statistics between
	// pion's path and the fast path while the call moves over
	recvMu    sync.Mutex
	fastAudio atomic.Pointer[fastAudio]

	mu   sync.Mutex
	info CallInfo
}

func newCall(svc *Service, id string, g callGrant, sig signaler, cfg *config.Gateway) *call {
	c := &call{
		ID: id, svc: svc, grant: g, sig: sig, cfg: cfg,
		log:       svc.log.With("call", id),
		in:        make(chan *Message, 4), // pointers: a Message is 288 bytes, and an idle call's buffer was 1.4 KB of its heap; the reader waits when full
		pbxIn:     make(chan pbxRequest, 8),
		pcDown:    make(chan string, 1),
		hangup:    make(chan string, 1),
		done:      make(chan struct{}),
		stopMedia: make(chan struct{}),
		sessID:    newSessionID(),
	}
	c.info = CallInfo{ID: id, From: g.From, Destination: g.Destination, Context: g.Context, State: StateAuthorized, StartedAt: time.Now()}
	return c
}

// snapshot is the call as the API shows it.
func (c *call) snapshot() CallInfo {
	c.mu.Lock()
	ci := c.info
	pbx := c.pbx
	video := c.video
	c.mu.Unlock()
	ci.Browser.In = c.browserIn.snapshot()
	ci.Browser.Out = c.browserOut.snapshot()
	if pbx != nil {
		ci.PBX.In = pbx.recv.snapshot()
		ci.PBX.Out = pbx.send.stats.snapshot()
		pbx.mu.Lock()
		if ci.PBX.Out.Lost == 0 {
			ci.PBX.Out.Lost = int64(pbx.remoteLost)
		}
		pbx.mu.Unlock()
	}
	if ci.Video != nil && video != nil {
		v := *ci.Video
		v.Browser.In, v.Browser.Out = video.browserIn.snapshot(), video.browserOut.snapshot()
		v.PBX.In, v.PBX.Out = video.leg.recv.snapshot(), video.leg.send.stats.snapshot()
		ci.Video = &v
	}
	if !ci.AnsweredAt.IsZero() {
		end := ci.EndedAt
		if end.IsZero() {
			end = time.Now()
		}
		ci.DurationSec = end.Sub(ci.AnsweredAt).Seconds()
	}
	return ci
}

func (c *call) setState(s string) {
	c.mu.Lock()
	c.info.State = s
	if s == StateAnswered && c.info.AnsweredAt.IsZero() {
		c.info.AnsweredAt = time.Now()
	}
	c.mu.Unlock()
}

// progressRank orders the states a call passes before its answer.
var progressRank = map[string]int{StateAuthorized: 1, StateTrying: 2, StateRinging: 3, StateEarly: 4}

// advanceState sets a provisional state only if it is further on than the
// call's: the PBX's 100 Trying and 183 with early media come a millisecond
// apart and their handlers can run in either order, and the call showed
// "trying" to the API and the portal while the customer heard the early
// media. A call answered, held or ended is never moved back.
func (c *call) advanceState(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := progressRank[c.info.State]; ok && progressRank[s] > cur || c.info.State == "" {
		c.info.State = s
	}
}

func (c *call) event(ev string, code int, reason string) {
	c.sig.send(Message{Type: MsgEvent, Event: ev, SIPCode: code, Reason: reason})
}

func (c *call) refuse(code, text string) {
	c.sig.send(Message{Type: MsgError, Code: code, Error: text})
}

// requestHangup is the API's way to end the call.
func (c *call) requestHangup(reason string) {
	select {
	case c.hangup <- reason:
	default:
	}
}

// end records how the call ended and tells the client.
func (c *call) end(code int, reason string) {
	c.mu.Lock()
	if c.info.State != StateEnded {
		c.info.State = StateEnded
		c.info.EndedAt = time.Now()
		c.info.SIPCode = code
		c.info.Reason = reason
	}
	c.mu.Unlock()
	c.event(EventEnded, code, reason)
}

// run drives the call to its end.
func (c *call) run(ctx context.Context) {
	defer c.cleanup()
	if !c.waitOffer(ctx) {
		return
	}
	c.dial(ctx)
}

// waitOffer collects the offer (and early candidates).
func (c *call) waitOffer(ctx context.Context) bool {
	t := time.NewTimer(offerTimeout)
	defer t.Stop()
	for {
		select {
		case m, ok := <-c.in:
			if !ok {
				c.end(0, "client left before the offer")
				return false
			}
			switch m.Type {
			case MsgOffer:
				if err := c.takeOffer(m.SDP); err != nil {
					code := CodeBadSDP
					if errors.Is(err, errNoCodec) {
						code = CodeNoCodec
					}
					c.refuse(code, err.Error())
					c.end(0, "bad offer: "+err.Error())
					return false
				}
				return true
			case MsgCandidate:
				c.addCandidate(m.Candidate)
			case MsgHangup:
				c.end(0, "client hung up")
				return false
			default:
				c.refuse(CodeState, fmt.Sprintf("%q before the offer", m.Type))
			}
		case <-t.C:
			c.refuse(CodeOfferTimeout, "no offer within 30 s")
			c.end(0, "no offer")
			return false
		case r := <-c.hangup:
			c.end(0, r)
			return false
		case <-ctx.Done():
			c.end(503, "gateway shutting down")
			return false
		}
	}
}

// errNoCodec: the offer is valid SDP but shares no audio codec with the box.
var errNoCodec = errors.New("no common audio codec")

func (c *call) takeOffer(raw string) error {
	if raw == "" {
		return errors.New("offer without sdp")
	}
	sd, err := unmarshalSDP(raw)
	if err != nil {
		return err
	}
	info, err := sdpInfoOf(sd)
	if err != nil {
		return err
	}
	info.ownStrings() // the call keeps info, not the parse (offerDesc is dropped at startMedia)
	// The browser's own checks will run on the real peer connection; here
	// only what the PBX leg needs.
	c.pbxCodecs = pbxOfferCodecs(info.Audio, c.cfg.Media.Codecs)
	if len(c.pbxCodecs) == 0 {
		return fmt.Errorf("%w: the box bridges %s", errNoCodec, strings.Join(c.cfg.Media.Codecs, ", "))
	}
	if !strings.Contains(raw, "a=fingerprint:") {
		return errors.New("offer has no DTLS fingerprint")
	}
	if c.cfg.Media.Video && info.Video != nil && info.Video.Port != 0 {
		c.videoOffer = videoCodecs(info.Video)
	}
	c.offerSDP, c.offer, c.offerDesc = raw, info, sd
	return nil
}

func (c *call) addCandidate(cand *Candidate) {
	if cand == nil || cand.Candidate == "" {
		return // end of candidates: nothing to do for pion
	}
	if !c.iceCandidateOK(cand) {
		return // one the box must not send checks to (icefilter.go)
	}
	init := webrtc.ICECandidateInit{Candidate: cand.Candidate, SDPMid: cand.SDPMid, SDPMLineIndex: cand.SDPMLineIndex}
	if c.pc == nil {
		if len(c.cands) < maxCandidates {
			c.cands = append(c.cands, init)
		}
		return
	}
	if err := c.pc.AddICECandidate(init); err != nil {
		c.refuse(CodeBadMessage, "candidate: "+err.Error())
	}
}

// cleanup releases the call's media, dialog and ports once it ended.
func (c *call) cleanup() {
	close(c.stopMedia)
	c.stopFast()
	if c.pc != nil {
		c.pc.Close()
	}
	if c.pbx != nil {
		c.pbx.close()
	}
	if c.video != nil {
		c.video.leg.close()
	}
	c.mediaWG.Wait()
	if c.slimAt != nil {
		c.slimAt.Stop()
	}
	if c.dialog != nil {
		c.dialog.Close()
	}
	close(c.done)
	c.svc.callEnded(c)
}
