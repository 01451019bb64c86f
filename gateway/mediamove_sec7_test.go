package gateway_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"

	"github.com/pion/stun/v3"
)

// TestSec7OnlyAuthenticatedChecksMoveMedia (seventh review, the third's
// left item): a call's media follows the browser to a new address only on
// a nominating check that carries the call's ICE password. A check with a
// wrong password, one without MESSAGE-INTEGRITY, and SRTP-looking packets
// from a new address move nothing, on both stacks; a real nominating check
// from a new address does (the control, which shows the test would see a
// move). No fix was needed: this pins the behaviour down.
func TestSec7OnlyAuthenticatedChecksMoveMedia(t *testing.T) {
	forEachStack(t, func(t *testing.T) {
		uas := startSIPp(t, "uas_echo", 1)
		svc, err := gateway.New(testConfig(t, uas.addr()), testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		tok, wsURL := authorize(t, svc, testFrom, "sip:agent@127.0.0.1", testContext)
		c, err := client.Dial(ctx, wsURL, tok, client.Options{LoopbackOnly: true, OwnSocket: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
			t.Fatal(err)
		}
		waitConnected(t, c)
		c.StartAudio(ctx, 0) // the PBX echoes it: the box sends media all along
		ice, err := c.ICE()
		if err != nil {
			t.Fatal(err)
		}
		box := net.UDPAddrFromAddrPort(ice.Remote)
		check := func(integrity stun.Setter) []byte {
			prio := make([]byte, 4)
			binary.BigEndian.PutUint32(prio, 0x7effffff)
			tie := make([]byte, 8)
			binary.BigEndian.PutUint64(tie, ^uint64(0))
			setters := []stun.Setter{stun.TransactionID, stun.BindingRequest,
				stun.NewUsername(ice.RemoteUfrag + ":" + ice.LocalUfrag),
				stun.RawAttribute{Type: stun.AttrICEControlling, Value: tie},
				stun.RawAttribute{Type: stun.AttrPriority, Value: prio},
				stun.RawAttribute{Type: stun.AttrUseCandidate}}
			if integrity != nil {
				setters = append(setters, integrity)
			}
			m, err := stun.Build(append(setters, stun.Fingerprint)...)
			if err != nil {
				t.Fatal(err)
			}
			return m.Raw
		}
		srtp := make([]byte, 172)
		rand.Read(srtp)
		srtp[0], srtp[1] = 0x80, 0x00 // RTP version 2, payload type 0
		// mediaAt counts the RTP-looking packets that reach u within 1.5 s,
		// and how many of the echo reached the client meanwhile; it goes on
		// reading (at most 15 s) until wantEcho echoed packets came, so that
		// a loaded machine's slow media is not taken for a moved one
		mediaAt := func(u *net.UDPConn, wantEcho uint64) (n int, echoed uint64) {
			before := c.Stats().Echoed
			buf := make([]byte, 1500)
			start := time.Now()
			for {
				echoed = c.Stats().Echoed - before
				if since := time.Since(start); since >= 1500*time.Millisecond && echoed >= wantEcho || since >= 15*time.Second {
					return n, echoed
				}
				u.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				k, err := u.Read(buf)
				if err != nil {
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						continue
					}
					return n, c.Stats().Echoed - before
				}
				if k >= 12 && buf[0]&0xc0 == 0x80 && (buf[1] < 192 || buf[1] > 223) {
					n++
				}
			}
		}
		listen := func() *net.UDPConn {
			u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { u.Close() })
			return u
		}
		if _, echoed := mediaAt(listen(), 10); echoed < 10 {
			t.Fatalf("%d echoed packets reached the client in 15 s before any forgery, want the call's media", echoed)
		}
		for _, forged := range []struct {
			name string
			pkts [][]byte
		}{
			{"check with a wrong password", [][]byte{check(stun.NewShortTermIntegrity("not-the-calls-ice-password"))}},
			{"check without MESSAGE-INTEGRITY", [][]byte{check(nil)}},
			{"SRTP-looking packets", [][]byte{srtp, srtp, srtp}},
		} {
			u := listen()
			for _, p := range forged.pkts {
				u.WriteTo(p, box)
			}
			if n, echoed := mediaAt(u, 10); n > 0 || echoed < 10 {
				t.Errorf("%s from a new address: %d media packets went there, %d reached the client (1.5 to 15 s); want the media to stay", forged.name, n, echoed)
			}
		}
		// The control: the call's own ICE password moves the media, so the
		// client hears its echo no more (the test would see a move).
		u := listen()
		u.WriteTo(check(stun.NewShortTermIntegrity(ice.RemotePwd)), box)
		mediaAt(u, 0)
		_, echoed := mediaAt(u, 0)
		if echoed > 5 {
			t.Errorf("an authenticated nominating check from a new address: the client still got %d echoed packets in 1.5 s, want the media moved (the test sees no move)", echoed)
		}
		c.Hangup(ctx)
		c.WaitEvent(ctx, gateway.EventEnded)
		uas.wait(t, 10*time.Second)
	})
}
