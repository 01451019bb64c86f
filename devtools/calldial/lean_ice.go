package calldial

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/pion/stun/v3"
)

// ICE of a lean call: its one nominating check and consent, and the
// sorting of what arrives on its socket besides SRTP.

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
