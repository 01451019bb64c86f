package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"edgebox/internal/config"
	"edgebox/internal/dtlssrtp"
	"edgebox/internal/udpbatch"

	"github.com/pion/dtls/v3"
	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// The lean call stack (gateway.media.stack "lean"): the browser leg
// without a PeerConnection. The box answers the browser's connectivity
// checks on the shared port (ICE-lite, dtlssrtp.Lite), runs the DTLS
// handshake there as server (dtlssrtp.Conn.Accept) and hands the SRTP
// session to the fast path the pion stack moves its calls to, so the
// relay code is the same. An established lean call owns no goroutine:
// its packets are handled on the socket readers and the PBX poller, its
// reports by the call's RTCP timer; the handshake's goroutines end once
// the browser's first media shows it has its keys.

const (
	// leanHandshakeTimeout bounds the DTLS handshake after the first
	// nominated check.
	leanHandshakeTimeout = 30 * time.Second
	// leanDTLSGrace keeps a finished handshake (answering the browser's
	// retransmitted last flight) when no media from the browser says it
	// got the box's last flight.
	leanDTLSGrace = 30 * time.Second
	// leanConsentTimeout: a browser whose checks stopped this long is
	// gone (RFC 7675 consent; browsers check every few seconds).
	leanConsentTimeout = 30 * time.Second
)

// leanLeg is a call's browser leg on the lean stack.
type leanLeg struct {
	c     *call
	host  *webrtcHost
	offer *leanOffer
	desc  leanDesc // the run goroutine's (a codec change updates it)
	ssrc  uint32   // the box's audio toward the browser, for good
	// the browser's ICE ufrag now, and the ICE restarts it made (run
	// goroutine only)
	remoteUfrag string
	restarts    int

	lastCheck atomic.Int64 // unix ns of the last answered check
	movedLog  *summaryLog  // the browser's moves (under mu)

	mu     sync.Mutex
	closed bool
	peer   netip.AddrPort // where the DTLS handshake runs (first nominated check)
	hs     bool           // handshake started
	sess   *dtlssrtp.Session
	dtls   *dtls.Conn
	forget sync.Once
	ssrcIn atomic.Uint32 // the browser's audio SSRC, from its first packet
	// endHS cancels the handshake under way (stop calls it: no goroutine
	// per handshake waits for the call's end); grace is the timer that
	// ends a finished handshake no media confirmed, stopped when the
	// handshake ends otherwise, so an ended call is not held by it
	endHS context.CancelFunc
	grace *time.Timer
}

// useLean says whether the call's browser leg runs on the lean stack,
// and logs why not where the configuration asked for it.
func (c *call) useLean(video []codec) bool {
	if stack := c.cfg.Media.Stack; stack == config.StackPion || stack == "" && config.DefaultStack != config.StackLean {
		return false
	}
	why := ""
	switch {
	case c.cfg.Media.PionMediaPath:
		why = "media.pion_media_path keeps calls on pion"
	case c.web == nil || !c.web.lite || !c.web.leanAddr.IsValid():
		why = "the box has no public address (media.public_address): full ICE needs pion"
	case len(video) > 0:
		why = "video is bridged: the lean stack carries audio only"
	}
	if why != "" {
		c.log.Info("browser leg on pion, not lean", "why", why)
		return false
	}
	return true
}

// startLean answers the browser on the lean stack and starts the media.
// offer is c.offerSDP as takeOffer parsed it (nil: parsed here): one
// pion parse of the offer per call instead of two.
func (c *call) startLean(plan *bridgePlan, offer *sdp.SessionDescription) error {
	var o *leanOffer
	var err error
	if offer != nil {
		o, err = leanOfferOf(offer)
	} else {
		o, err = parseLeanOffer(c.offerSDP)
	}
	if err != nil {
		return fmt.Errorf("browser leg: %w", err)
	}
	_, fp, err := c.web.leanCert()
	if err != nil {
		return fmt.Errorf("DTLS certificate: %w", err)
	}
	l := &leanLeg{c: c, host: c.web, offer: o, ssrc: randomSSRC(), remoteUfrag: o.ufrag}
	l.desc = leanDesc{sessID: c.sessID, version: 1, ufrag: randomICEString(16), pwd: randomICEString(32),
		fingerprint: fp, cand: netip.AddrPortFrom(c.web.leanAddr, uint16(c.web.port)), ssrc: l.ssrc,
		plan: plan, direction: answerDirection(mediaDirection(o.sd.MediaDescriptions[o.audio]))}
	answer, err := leanSDP(o, l.desc)
	if err != nil {
		return fmt.Errorf("browser answer: %w", err)
	}
	o.sd = nil // read again from c.offerSDP for a codec change: most calls have none
	c.lean = l
	c.plan = plan
	c.pbx.apply(plan)
	c.recvMu.Lock()
	c.browserIn.clock = float64(plan.Browser.Clock)
	c.recvMu.Unlock()
	c.mu.Lock()
	c.info.Codec = plan.Browser.Name
	c.info.PBX.Remote = plan.Remote.String()
	c.info.Stack = config.StackLean
	c.mu.Unlock()
	l.lastCheck.Store(time.Now().UnixNano())
	c.web.leanICE.Add(l.desc.ufrag, l.desc.pwd, o.ufrag, l.onCheck)
	c.log.Debug("browser answer (lean)", "sdp", sdpForLog(answer))
	c.sig.send(Message{Type: MsgAnswer, SDP: answer})
	c.sig.send(Message{Type: MsgCandidate, Candidate: &Candidate{}}) // end of candidates
	return c.startPBXRelays(nil)
}

// onCheck runs on the socket's reader for every answered check: the
// first nominated one starts the DTLS handshake with its address; a
// later one from another address moves the media there (the browser's
// NAT rebound, or it chose another pair).
func (l *leanLeg) onCheck(ch dtlssrtp.LiteCheck) {
	l.lastCheck.Store(time.Now().UnixNano())
	if !ch.Nominated {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
	case l.sess != nil:
		if l.sess.Peer() != ch.From {
			// A burst, then a line a minute: the caller holds the ICE
			// password and may nominate from a new port per packet
			// (sixth review).
			if l.movedLog == nil {
				l.movedLog = newSummaryLog(l.c.log, 5, time.Minute)
			}
			l.movedLog.info("browser moved", "from", l.sess.Peer(), "to", ch.From)
			l.sess.SetPeer(ch.From)
		}
	case !l.hs:
		l.hs, l.peer = true, ch.From
		// the browser's DTLS follows the answer to this check at once
		l.host.fast.Expect(ch.From)
		go l.handshake(ch.From)
	}
}

// handshake runs the DTLS handshake with the browser at peer and puts
// the call's audio on the fast path; its goroutine then ends.
func (l *leanLeg) handshake(peer netip.AddrPort) {
	c := l.c
	ctx, cancel := context.WithTimeout(context.Background(), leanHandshakeTimeout)
	defer cancel()
	l.mu.Lock()
	if l.closed { // the call ended before this goroutine ran: stop forgets peer
		l.mu.Unlock()
		return
	}
	l.endHS = cancel
	l.mu.Unlock()
	cert, _, err := l.host.leanCert()
	if err != nil {
		l.failed(fmt.Errorf("DTLS certificate: %w", err))
		return
	}
	s, d, err := l.host.fast.Accept(ctx, peer,
		dtls.WithCertificates(cert),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		dtls.WithClientAuth(dtls.RequireAnyClientCert),
		dtls.WithVerifyPeerCertificate(func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !l.offer.certMatches(raw[0]) {
				return errors.New("the browser's certificate does not match its offer's fingerprint")
			}
			return nil
		}))
	if err != nil {
		l.host.fast.Forget(peer, nil)
		l.failed(fmt.Errorf("DTLS with the browser: %w", err))
		return
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		s.Close()
		l.host.fast.Forget(peer, d)
		return
	}
	l.sess, l.dtls = s, d
	// nothing to cancel now: the call does not keep the handshake's context
	l.endHS = nil
	s.ReceiveRTCP(nil) // terminated per leg: the box's reports come from the relay
	s.ReceiveAnyBatched(l.fromBrowser)
	c.fastAudio.Store(&fastAudio{s: s, ssrc: l.ssrc})
	l.grace = time.AfterFunc(leanDTLSGrace, l.endHandshake)
	l.mu.Unlock()
	c.setMediaPath(PathFast)
	c.log.Debug("browser leg up (lean)", "peer", peer)
}

// failed ends the call: the browser leg did not come up.
func (l *leanLeg) failed(err error) {
	l.c.log.Info("browser leg failed (lean)", "err", err)
	select {
	case l.c.pcDown <- "browser connection failed: " + err.Error():
	default:
	}
}

// fromBrowser is one decrypted packet of the browser's audio, on the
// socket's reader goroutine; out is the reader's send batch.
func (l *leanLeg) fromBrowser(pkt []byte, out *udpbatch.Multi, at time.Time) {
	if l.ssrcIn.Load() == 0 {
		ssrc := binary.BigEndian.Uint32(pkt[8:12])
		if l.ssrcIn.CompareAndSwap(0, ssrc) {
			l.c.browserIn.ssrc.Store(ssrc)
			// the browser has the keys, so it got the last flight: the
			// handshake's goroutines can go
			time.AfterFunc(0, l.endHandshake)
		}
	}
	l.c.fromBrowserFast(pkt, out, at)
}

// endHandshake ends the finished handshake's goroutines, quietly.
func (l *leanLeg) endHandshake() {
	l.forget.Do(func() {
		l.mu.Lock()
		peer, d := l.peer, l.dtls
		l.dtls = nil // its handshake state is garbage now
		if l.grace != nil {
			l.grace.Stop()
			l.grace = nil
		}
		l.mu.Unlock()
		l.host.fast.Forget(peer, d)
	})
}

// stop releases the leg when the call ends.
func (l *leanLeg) stop() {
	l.host.leanICE.Remove(l.desc.ufrag)
	l.mu.Lock()
	l.closed = true
	s, hs, endHS := l.sess, l.hs, l.endHS
	l.mu.Unlock()
	if endHS != nil {
		endHS()
	}
	if s != nil {
		s.Close()
	}
	if hs {
		l.endHandshake()
	}
}

// alive is false once the browser's checks stopped (consent lost).
func (l *leanLeg) alive(now time.Time) bool {
	return now.Sub(time.Unix(0, l.lastCheck.Load())) < leanConsentTimeout
}

// writeRTCP sends the browser leg's reports through the session, once
// it is up.
func (l *leanLeg) writeRTCP(pkts []rtcp.Packet) {
	l.mu.Lock()
	s := l.sess
	l.mu.Unlock()
	if s == nil {
		return
	}
	b, err := rtcp.Marshal(pkts)
	if err == nil {
		_, err = s.WriteRTCP(b)
	}
	if err != nil && !errors.Is(err, dtlssrtp.ErrClosed) {
		l.c.log.Debug("RTCP to the browser", "err", err)
	}
}

// switchCodec moves a lean browser leg to plan's codec: the box offers
// the browser the same session with the new codec and waits for its
// answer (switchCodec's rules); no new ICE or DTLS.
func (l *leanLeg) switchCodec(plan *bridgePlan) error {
	c := l.c
	o, err := parseLeanOffer(c.offerSDP)
	if err != nil {
		return err
	}
	d := l.desc
	d.version++
	d.plan = plan
	offer, err := leanSDP(o, d)
	if err != nil {
		return err
	}
	c.sig.send(Message{Type: MsgOffer, SDP: offer})
	t := time.NewTimer(renegotiateTimeout)
	defer t.Stop()
	for {
		select {
		case m, ok := <-c.in:
			if !ok {
				return errors.New("client left during renegotiation")
			}
			switch m.Type {
			case MsgAnswer:
				if err := checkLeanAnswer(m.SDP, o, plan.Browser.PT); err != nil {
					c.refuse(CodeBadSDP, err.Error())
					return fmt.Errorf("browser answer: %w", err)
				}
				l.desc = d
				c.plan = plan
				c.pbx.apply(plan)
				c.mu.Lock()
				c.info.Codec = plan.Browser.Name
				c.mu.Unlock()
				c.log.Info("codec changed by the PBX", "codec", plan.Browser.Name)
				return nil
			case MsgCandidate:
			case MsgHangup:
				c.requestHangup("client hung up")
			case MsgDTMF:
				c.queueDTMF(m.Digits)
			default:
				c.refuse(CodeState, fmt.Sprintf("%q while the box waits for an answer", m.Type))
			}
		case <-t.C:
			return errors.New("the browser did not answer the renegotiation in time")
		}
	}
}

// leanHost is the webrtcHost's part of the lean stack.
type leanHost struct {
	leanICE  *dtlssrtp.Lite
	leanAddr netip.Addr // the host candidate's address (media.public_address)

	leanMu   sync.Mutex
	leanTLS  tls.Certificate
	leanFP   string
	leanFrom *webrtc.Certificate
}

// leanCert is the box's DTLS certificate (dtlsCert, shared with pion
// calls) as pion/dtls takes it, with its fingerprint for the SDP.
func (h *webrtcHost) leanCert() (tls.Certificate, string, error) {
	wc, err := h.cert.get(time.Now())
	if err != nil {
		return tls.Certificate{}, "", err
	}
	h.leanMu.Lock()
	defer h.leanMu.Unlock()
	if h.leanFrom == nil || !h.leanFrom.Equals(wc) {
		pem, err := wc.PEM()
		if err != nil {
			return tls.Certificate{}, "", err
		}
		tc, err := tls.X509KeyPair([]byte(pem), []byte(pem))
		if err != nil {
			return tls.Certificate{}, "", err
		}
		fps, err := wc.GetFingerprints()
		if err != nil || len(fps) == 0 {
			return tls.Certificate{}, "", fmt.Errorf("fingerprint: %v", err)
		}
		h.leanTLS, h.leanFP, h.leanFrom = tc, fps[0].Algorithm+" "+fps[0].Value, &wc
	}
	return h.leanTLS, h.leanFP, nil
}

// randomICEString is an ICE ufrag or password: n characters of the ICE
// alphabet (RFC 8445 section 5.3), from crypto/rand.
func randomICEString(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func randomSSRC() uint32 {
	var b [4]byte
	for {
		rand.Read(b[:])
		if v := binary.BigEndian.Uint32(b[:]); v != 0 {
			return v
		}
	}
}

// leanReoffer takes a new offer from the client during a lean call (the
// lean side of clientReoffer, which calls it first): it answers, or
// refuses saying why; false when the call is not on the lean stack.
func (c *call) leanReoffer(sdp string) bool {
	if c.lean == nil {
		return false
	}
	answer, err := c.lean.reoffer(sdp)
	if err != nil {
		c.refuse(CodeBadSDP, "new offer: "+err.Error())
		return true
	}
	c.offerSDP = sdp
	c.sig.send(Message{Type: MsgAnswer, SDP: answer})
	c.log.Info("the client renegotiated (lean)", "ice_restarts", c.lean.restarts)
	return true
}

// reoffer answers a new offer from the browser during the call, usually
// an ICE restart after its network changed (new credentials). DTLS and
// SRTP go on, so the certificate must stay the offer's, and so does the
// bridged codec. On a restart the box takes new credentials too (RFC
// 8445 section 9), forgets the old ones, and the media follows the first
// check nominated on the new ones (onCheck). Run goroutine only.
func (l *leanLeg) reoffer(raw string) (string, error) {
	o, err := parseLeanOffer(raw)
	if err != nil {
		return "", err
	}
	if o.fpHash != l.offer.fpHash || !bytes.Equal(o.fingerprint, l.offer.fingerprint) {
		return "", errors.New("it names another DTLS certificate: a lean call keeps its DTLS session (call again)")
	}
	md := o.sd.MediaDescriptions[o.audio]
	pt := strconv.Itoa(int(l.desc.plan.Browser.PT))
	if !slices.Contains(md.MediaName.Formats, pt) {
		return "", fmt.Errorf("it no longer offers the call's codec (payload type %s)", pt)
	}
	d := l.desc
	d.version++
	d.direction = answerDirection(mediaDirection(md))
	if o.ufrag != l.remoteUfrag {
		d.ufrag, d.pwd = randomICEString(16), randomICEString(32)
		l.host.leanICE.Add(d.ufrag, d.pwd, o.ufrag, l.onCheck)
		l.host.leanICE.Remove(l.desc.ufrag)
		l.remoteUfrag = o.ufrag
		l.restarts++
	}
	answer, err := leanSDP(o, d)
	if err != nil {
		return "", err
	}
	l.desc = d
	return answer, nil
}
