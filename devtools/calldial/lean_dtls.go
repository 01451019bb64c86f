package calldial

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"edgebox/internal/dtlssrtp"

	"github.com/pion/dtls/v3"
	"github.com/pion/transport/v5/deadline"
)

// DTLS of a lean call: pion/dtls over the call's socket, as the client
// (the gateway answers setup:passive) or the server (Janus answers
// setup:active), and the SRTP session its keys open.

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

func (leanTimeout) Error() string { return "calldial: DTLS read timed out" }

func (leanTimeout) Timeout() bool { return true }

func (leanTimeout) Temporary() bool { return true }
