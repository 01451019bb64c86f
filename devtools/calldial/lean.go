package calldial

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"edgebox/internal/dtlssrtp"

	"github.com/pion/dtls/v3/pkg/crypto/fingerprint"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/sdp/v3"
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
