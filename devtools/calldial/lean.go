package calldial

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"edgebox/internal/dtlssrtp"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/fingerprint"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/sdp/v3"
	"github.com/pion/stun/v3"
	"github.com/pion/transport/v5/deadline"
)

// The lean caller places a call without a PeerConnection, as the
// gateway's lean stack answers one: the call's socket is read by the
// run's one poller (newCallNet), ICE is one controlling check with
// USE-CANDIDATE toward the candidate of the answer (and answers to the
// box's checks, should it run full ICE), the DTLS client is pion/dtls
// over the call's socket, and the SRTP is a dtlssrtp Session from the
// first packet on. Per call that leaves the call's own goroutine, a
// reader of the socket's leftovers (STUN and DTLS) and nothing of pion
// once the handshake is done: the load generator stays cheaper than the
// gateway it measures. With Janus, which answers setup:active and runs
// full ICE (libnice), the same works: the lean call answers libnice's
// checks (dtlssrtp.Lite) and is the DTLS server (Conn.Accept).

// leanCert is the run's DTLS certificate for lean calls, with the
// fingerprint its offers carry.
type leanCert struct {
	cert tls.Certificate
	fp   string // "sha-256 AB:CD:..."
}

func newLeanCert() (*leanCert, error) {
	cert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		return nil, err
	}
	x, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, err
	}
	fp, err := fingerprint.Fingerprint(x, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	return &leanCert{cert: cert, fp: "sha-256 " + strings.ToUpper(fp)}, nil
}

// leanCall is one call's lean stack.
type leanCall struct {
	c          *call
	ufrag, pwd string // calldial's
	ssrc       uint32 // calldial's audio
	// the box's side, from the answer
	remoteUfrag string
	remotePwd   string
	remoteFP    []byte
	candidates  chan netip.AddrPort // the box's, from the answer or trickled
	// leftovers of the poller (STUN responses, DTLS records) by kind
	stunIn chan []byte
	dtlsIn chan []byte
	done   chan struct{}

	peer   netip.AddrPort // the checked candidate, once ICE is up
	server bool           // calldial is the DTLS server (the answer said setup:active)
}

// leanOffer opens the call's socket and returns its offer: one audio
// section, calldial's ICE credentials and the run's certificate's
// fingerprint, one host candidate, DTLS setup:actpass.
func (c *call) leanOffer() (string, string) {
	cn, err := newCallNet(c.run.recv, c.run.opt.Netns, c.run.opt.LocalIP, false)
	if err != nil {
		return "", "socket: " + shortErr(err)
	}
	c.net = cn
	l := &leanCall{c: c, ufrag: randICE(16), pwd: randICE(32), ssrc: randUint32(),
		candidates: make(chan netip.AddrPort, 4), stunIn: make(chan []byte, 8), dtlsIn: make(chan []byte, 16), done: make(chan struct{})}
	c.lean = l
	c.media = newMediaStream(nil, c.run.codec, &c.run.totals)
	go l.readLeftovers()
	local := cn.conn.LocalAddr().(*net.UDPAddr).AddrPort()
	cs := c.run.codec.params
	pt := strconv.Itoa(int(cs.PayloadType))
	rtpmap := fmt.Sprintf("%s %s/%d", pt, strings.TrimPrefix(cs.MimeType, "audio/"), cs.ClockRate)
	if cs.Channels > 1 {
		rtpmap += "/" + strconv.Itoa(int(cs.Channels))
	}
	md := &sdp.MediaDescription{
		MediaName: sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: int(local.Port())},
			Protos: []string{"UDP", "TLS", "RTP", "SAVPF"}, Formats: []string{pt}},
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: "IP4",
			Address: &sdp.Address{Address: local.Addr().String()}},
	}
	md.WithValueAttribute(sdp.AttrKeyMID, "0").
		WithICECredentials(l.ufrag, l.pwd).
		WithValueAttribute("fingerprint", c.run.leanCert.fp).
		WithValueAttribute(sdp.AttrKeyConnectionSetup, "actpass").
		WithPropertyAttribute(sdp.AttrKeyRTCPMux).
		WithPropertyAttribute(sdp.AttrKeySendRecv).
		WithValueAttribute("rtpmap", rtpmap)
	if cs.SDPFmtpLine != "" {
		md.WithValueAttribute("fmtp", pt+" "+cs.SDPFmtpLine)
	}
	md.WithValueAttribute(sdp.AttrKeyMsid, "calldial audio").
		WithValueAttribute(sdp.AttrKeySSRC, fmt.Sprintf("%d cname:calldial", l.ssrc)).
		WithValueAttribute(sdp.AttrKeyCandidate, fmt.Sprintf("1 1 udp 2130706431 %s %d typ host", local.Addr(), local.Port())).
		WithPropertyAttribute(sdp.AttrKeyEndOfCandidates)
	sd := &sdp.SessionDescription{
		Origin: sdp.Origin{Username: "-", SessionID: uint64(randUint32()), SessionVersion: 2,
			NetworkType: "IN", AddressType: "IP4", UnicastAddress: "127.0.0.1"},
		SessionName:      "-",
		TimeDescriptions: []sdp.TimeDescription{{Timing: sdp.Timing{}}},
	}
	sd.WithValueAttribute(sdp.AttrKeyGroup, "BUNDLE 0").WithMedia(md)
	b, err := sd.Marshal()
	if err != nil {
		return "", "offer: " + shortErr(err)
	}
	return string(b), ""
}

// randICE is an ICE ufrag or password: letters and digits (RFC 8839's
// ice-char, without '+' and '/').
func randICE(n int) string {
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[randUint32()%uint32(len(chars))]
	}
	return string(b)
}

// answer takes the box's answer and starts connecting; an error says
// why the answer cannot be used.
func (l *leanCall) answer(raw string) error {
	if l.remoteUfrag != "" {
		return nil // a second answer (renegotiation) changes nothing here
	}
	sd := &sdp.SessionDescription{}
	if err := sd.UnmarshalString(raw); err != nil {
		return err
	}
	var md *sdp.MediaDescription
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media == "audio" && m.MediaName.Port.Value != 0 {
			md = m
			break
		}
	}
	if md == nil {
		return errors.New("answer has no audio")
	}
	attr := func(key string) string {
		if v, ok := md.Attribute(key); ok {
			return v
		}
		v, _ := sd.Attribute(key)
		return v
	}
	switch s := attr(sdp.AttrKeyConnectionSetup); s {
	case "passive":
	case "active": // Janus: the box is the DTLS client, calldial the server
		l.server = true
	default:
		return fmt.Errorf("answer has setup:%q; active or passive wanted", s)
	}
	alg, hexFP, _ := strings.Cut(attr("fingerprint"), " ")
	if !strings.EqualFold(alg, "sha-256") {
		return fmt.Errorf("answer's fingerprint is %q, the lean caller checks sha-256 only", alg)
	}
	fp, err := parseHexFP(hexFP)
	if err != nil {
		return err
	}
	l.remoteUfrag, l.remotePwd, l.remoteFP = attr("ice-ufrag"), attr("ice-pwd"), fp
	if l.remoteUfrag == "" || l.remotePwd == "" {
		return errors.New("answer has no ICE credentials")
	}
	for _, a := range md.Attributes {
		if a.Key == sdp.AttrKeyCandidate {
			l.candidate(a.Value)
		}
	}
	// the box checks calldial too when it runs full ICE (pion's path)
	lite := &dtlssrtp.Lite{}
	lite.Add(l.ufrag, l.pwd, l.remoteUfrag, func(dtlssrtp.LiteCheck) {})
	l.c.net.conn.SetLite(lite)
	go l.connect()
	return nil
}

func parseHexFP(s string) ([]byte, error) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	b := make([]byte, 0, len(parts))
	for _, p := range parts {
		v, err := strconv.ParseUint(p, 16, 8)
		if err != nil || len(p) != 2 {
			return nil, errors.New("answer's DTLS fingerprint is malformed")
		}
		b = append(b, byte(v))
	}
	if len(b) != 32 {
		return nil, errors.New("answer's sha-256 fingerprint is not 32 bytes")
	}
	return b, nil
}

// candidate takes one of the box's candidates ("1 1 udp prio ip port typ
// host ..."); UDP host candidates only (what the box offers on loopback).
func (l *leanCall) candidate(s string) {
	f := strings.Fields(strings.TrimPrefix(s, "candidate:"))
	if len(f) < 8 || !strings.EqualFold(f[2], "udp") || f[7] != "host" {
		return
	}
	ip, err := netip.ParseAddr(f[4])
	port, perr := strconv.ParseUint(f[5], 10, 16)
	if err != nil || perr != nil || !ip.Is4() {
		return
	}
	select {
	case l.candidates <- netip.AddrPortFrom(ip, uint16(port)):
	default:
	}
}

// readLeftovers sorts what no session claimed off the call's socket:
// STUN to the check, DTLS to the handshake, until the socket closes.
func (l *leanCall) readLeftovers() {
	defer close(l.done)
	buf := make([]byte, 1500)
	for {
		n, _, err := l.c.net.conn.ReadFromAddrPort(buf)
		if err != nil {
			return
		}
		if n == 0 {
			continue
		}
		var to chan []byte
		switch b0 := buf[0]; {
		case b0 <= 3:
			to = l.stunIn
		case b0 >= 20 && b0 <= 63:
			to = l.dtlsIn
		default:
			continue
		}
		select {
		case to <- append([]byte(nil), buf[:n]...):
		default: // behind: dropped, the sender retransmits
		}
	}
}

// connect runs ICE and DTLS, opens the SRTP session and marks the call
// connected; on failure the call's setup times out with "no media".
func (l *leanCall) connect() {
	c := l.c
	ctx, cancel := context.WithTimeout(context.Background(), c.run.opt.SetupTimeout)
	defer cancel()
	err := l.check(ctx)
	if err == nil {
		err = l.handshake(ctx)
	}
	c.fmu.Lock()
	defer c.fmu.Unlock()
	if err != nil {
		c.fastErr = "lean: " + err.Error()
		return
	}
	if c.closed {
		return
	}
	close(c.connected)
}

// check sends calldial's nominating connectivity check to the box's
// candidate until it is answered (retransmitted every 100 ms).
func (l *leanCall) check(ctx context.Context) error {
	var peer netip.AddrPort
	select {
	case peer = <-l.candidates:
	case <-ctx.Done():
		return errors.New("the box named no UDP host candidate")
	}
	integ := stun.NewShortTermIntegrity(l.remotePwd)
	req, err := stun.Build(stun.BindingRequest, stun.TransactionID,
		stun.NewUsername(l.remoteUfrag+":"+l.ufrag), iceAttrs(true), integ, stun.Fingerprint)
	if err != nil {
		return err
	}
	if l.server {
		// the box's ClientHello may come as soon as it sees the check
		l.c.net.conn.Expect(peer)
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if _, err := l.c.net.conn.WriteToAddrPort(req.Raw, peer); err != nil {
			return err
		}
	wait:
		select {
		case pkt := <-l.stunIn:
			m := &stun.Message{Raw: pkt}
			if m.Decode() != nil || m.TransactionID != req.TransactionID {
				goto wait
			}
			if m.Type != stun.BindingSuccess {
				return fmt.Errorf("check answered with %v", m.Type)
			}
			if integ.Check(m) != nil {
				return errors.New("check answered without the box's password")
			}
			l.peer = peer
			return nil
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("no answer to the connectivity check to %v", peer)
		}
	}
}

// handshake runs the DTLS client with the box and opens the call's SRTP
// session with the keys the call's keyring learnt.
func (l *leanCall) handshake(ctx context.Context) error {
	c := l.c
	if l.server {
		return l.accept(ctx)
	}
	pc := &leanPacketConn{l: l, closed: make(chan struct{}), dl: deadline.New()}
	d, err := dtls.ClientWithOptions(pc, net.UDPAddrFromAddrPort(l.peer),
		dtls.WithCertificates(c.run.leanCert.cert),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		dtls.WithInsecureSkipVerify(true), // self-signed: checked against the answer instead
		dtls.WithVerifyPeerCertificate(l.verifyBox),
		dtls.WithKeyLogWriter(c.net.keys),
		dtls.WithLoggerFactory(pionErrors))
	if err != nil {
		return err
	}
	if err := d.HandshakeContext(ctx); err != nil {
		pc.Close()
		d.Close()
		return fmt.Errorf("DTLS: %v", err)
	}
	keys, err := c.net.keys.KeysFor(l.peer)
	// the keys are all the call needs of DTLS: the handshake ends here,
	// without a close_notify (the box forgets its side the same way)
	pc.mute()
	d.Close()
	if err != nil {
		return fmt.Errorf("keys: %v", err)
	}
	s, err := c.net.conn.NewSession(l.peer, keys)
	if err != nil {
		return fmt.Errorf("session: %v", err)
	}
	return l.opened(s)
}

// verifyBox checks the box's DTLS certificate against its answer.
func (l *leanCall) verifyBox(raw [][]byte, _ [][]*x509.Certificate) error {
	if len(raw) == 0 {
		return errors.New("the box sent no certificate")
	}
	sum := crypto.SHA256.New()
	sum.Write(raw[0])
	if string(sum.Sum(nil)) != string(l.remoteFP) {
		return errors.New("the box's certificate does not match the answer's fingerprint")
	}
	return nil
}

// accept answers the box's DTLS handshake as the server (Janus answers
// setup:active), as the gateway's lean side does.
func (l *leanCall) accept(ctx context.Context) error {
	c := l.c
	s, d, err := c.net.conn.Accept(ctx, l.peer,
		dtls.WithCertificates(c.run.leanCert.cert),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80),
		dtls.WithExtendedMasterSecret(dtls.RequestExtendedMasterSecret),
		dtls.WithClientAuth(dtls.RequireAnyClientCert),
		dtls.WithInsecureSkipVerify(true),
		dtls.WithVerifyPeerCertificate(l.verifyBox),
		dtls.WithLoggerFactory(pionErrors))
	if err != nil {
		return fmt.Errorf("DTLS: %v", err)
	}
	// keys learnt: the handshake's state goes, unsent close_notify and all
	c.net.conn.Forget(l.peer, d)
	return l.opened(s)
}

// opened makes s the call's SRTP: the echoes decrypted into the call's
// media, and the pacer's packets sent through it.
func (l *leanCall) opened(s *dtlssrtp.Session) error {
	c := l.c
	s.ReceiveRTCP(nil)
	s.ReceiveAny(c.media.onFastEcho)
	c.fmu.Lock()
	if c.closed {
		c.fmu.Unlock()
		s.Close()
		return errors.New("hung up")
	}
	c.session = s
	c.fmu.Unlock()
	c.media.fast.Store(&fastPath{s: s, ssrc: l.ssrc, pt: uint8(c.run.codec.params.PayloadType)})
	return nil
}

// iceAttrs are a controlling agent's check attributes (RFC 8445 section
// 7.1.1): ICE-CONTROLLING with a tie-breaker, PRIORITY of a host
// candidate, and USE-CANDIDATE when nominating. (pion/ice's setters are
// built for another major version of pion/stun.)
type iceAttrs bool

func (nominate iceAttrs) AddTo(m *stun.Message) error {
	tie := make([]byte, 8)
	binary.BigEndian.PutUint64(tie, uint64(randUint32())<<32|uint64(randUint32()))
	m.Add(stun.AttrICEControlling, tie)
	m.Add(stun.AttrPriority, binary.BigEndian.AppendUint32(nil, 2130706431))
	if nominate {
		m.Add(stun.AttrUseCandidate, nil)
	}
	return nil
}

// leanConsentInterval is how often a lean call renews consent; browsers
// check about every 5 s.
const leanConsentInterval = 5 * time.Second

// consent sends a check to keep the box's consent (RFC 7675): the box
// drops a caller whose checks stopped for 30 s.
func (l *leanCall) consent() {
	if !l.peer.IsValid() {
		return
	}
	req, err := stun.Build(stun.BindingRequest, stun.TransactionID,
		stun.NewUsername(l.remoteUfrag+":"+l.ufrag), iceAttrs(false),
		stun.NewShortTermIntegrity(l.remotePwd), stun.Fingerprint)
	if err == nil {
		l.c.net.conn.WriteToAddrPort(req.Raw, l.peer)
	}
}

// leanPacketConn is the call's socket as its DTLS handshake sees it:
// the DTLS records readLeftovers sorted out, and writes through the
// dtlssrtp Conn (whose keyring watches the hellos).
type leanPacketConn struct {
	l      *leanCall
	closed chan struct{}
	once   sync.Once
	mu     sync.Mutex
	quiet  bool
	// a deadline set while ReadFrom waits wakes it (pion's netctx)
	dl *deadline.Deadline
}

func (p *leanPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case pkt := <-p.l.dtlsIn:
		return copy(b, pkt), net.UDPAddrFromAddrPort(p.l.peer), nil
	case <-p.closed:
		return 0, nil, net.ErrClosed
	case <-p.l.done:
		return 0, nil, net.ErrClosed
	case <-p.dl.Done():
		return 0, nil, leanTimeout{}
	}
}

func (p *leanPacketConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	p.mu.Lock()
	quiet := p.quiet
	p.mu.Unlock()
	if quiet {
		return len(b), nil
	}
	return p.l.c.net.conn.WriteToAddrPort(b, p.l.peer)
}

// mute drops what DTLS sends from now on (its close_notify).
func (p *leanPacketConn) mute() {
	p.mu.Lock()
	p.quiet = true
	p.mu.Unlock()
}

func (p *leanPacketConn) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

func (p *leanPacketConn) LocalAddr() net.Addr { return p.l.c.net.conn.LocalAddr() }

func (p *leanPacketConn) SetDeadline(t time.Time) error { return p.SetReadDeadline(t) }

func (p *leanPacketConn) SetReadDeadline(t time.Time) error {
	p.dl.Set(t)
	return nil
}

func (p *leanPacketConn) SetWriteDeadline(time.Time) error { return nil }

type leanTimeout struct{}

func (leanTimeout) Error() string   { return "calldial: DTLS read timed out" }
func (leanTimeout) Timeout() bool   { return true }
func (leanTimeout) Temporary() bool { return true }
