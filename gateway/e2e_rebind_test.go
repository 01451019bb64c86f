package gateway_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"
	"edgebox/internal/dtlssrtp"

	"github.com/pion/stun/v3"
)

// A browser behind a NAT that rebinds (a new public port mid-call) reaches
// the box from a new address, and Chrome keeps USE-CANDIDATE on its checks
// of the pair it uses. The box (ICE-lite: at once; full ICE: once its own
// check to the new address succeeded) selects the new pair, and the fast
// path must follow it both ways: the browser's audio from the new address
// reaches the PBX, the PBX's audio goes to the new address, and nothing
// more to the old one. Here a second socket plays the rebound browser: it
// speaks ICE with the call's credentials and SRTP with the call's keys,
// continuing the client's audio stream.
func TestFastPathFollowsICEPairChange(t *testing.T) {
	t.Parallel()
	// full ICE needs pion: a lean call on a box without a public address
	// falls back to it, so the lean stack is tested with ICE-lite only
	for _, tc := range []struct {
		name string
		lite bool
	}{{"ice-lite,stack=pion", true}, {"ice-lite,stack=lean", true}, {"full ice,stack=pion", false}} {
		t.Run(tc.name, func(t *testing.T) {
			uas := startSIPp(t, "uas_echo", 1)
			cfg := testConfig(t, uas.addr())
			if !tc.lite {
				cfg.Media.PublicAddress = ""
			}
			svc := startGateway(t, cfg)
			if svc.Status().ICELite != tc.lite {
				t.Fatalf("ICE-lite %v, want %v", svc.Status().ICELite, tc.lite)
			}
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
			const before = 100 // packets the client sends from its own socket
			c.StartAudio(ctx, before)
			waitEchoed(t, c, before-5)
			requireFastPath(t, svc, svc.Snapshot(), before-5)
			time.Sleep(100 * time.Millisecond) // the last echoes
			rb := rebind(t, c)
			receivedOld := c.Stats().Received

			rb.run(t, c.FirstSeq+before, tc.lite)

			if got := c.Stats().Received; got > receivedOld+2 {
				t.Errorf("the old address got %d packets after the pair change", got-receivedOld)
			}
			if st := svc.Status(); st.RejectedPackets != 0 {
				t.Errorf("%d packets rejected", st.RejectedPackets)
			}
			c.Hangup(ctx)
			c.WaitEvent(ctx, gateway.EventEnded)
			uas.wait(t, 10*time.Second)
		})
	}
}

// rebound is the browser at its new address.
type rebound struct {
	ice     client.ICEParams
	conn    *dtlssrtp.Conn
	session *dtlssrtp.Session
	ssrc    uint32        // the browser's audio, continued
	echoed  atomic.Uint32 // own packets back from the PBX, at the new address
	box     *net.UDPAddr
}

func rebind(t *testing.T, c *client.Call) *rebound {
	t.Helper()
	ice, err := c.ICE()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := c.SRTPKeys()
	if err != nil {
		t.Fatal(err)
	}
	local, remote, remoteROC := c.AudioSSRCs()
	if local == 0 || remote == 0 {
		t.Fatalf("SSRCs %d and %d", local, remote)
	}
	u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	rb := &rebound{ice: ice, conn: dtlssrtp.NewConn(u, dtlssrtp.NewKeyring()), ssrc: local, box: net.UDPAddrFromAddrPort(ice.Remote)}
	t.Cleanup(func() { rb.conn.Close() })
	rb.session, err = rb.conn.NewSession(ice.Remote, keys)
	if err != nil {
		t.Fatal(err)
	}
	rb.session.SetReceiveROC(remote, remoteROC)
	rb.session.Receive(remote, func(pkt []byte) {
		if len(pkt) > 12 && bytes.HasPrefix(pkt[12:], client.Marker) && binary.BigEndian.Uint32(pkt[16:20]) >= 1000 {
			rb.echoed.Add(1)
		}
	})
	return rb
}

// run sends the nominating check until the box answers, answers the box's
// checks, and sends audio (sequence numbers after seq) until 25 packets
// came back; all within 10 s.
func (rb *rebound) run(t *testing.T, seq uint16, lite bool) {
	t.Helper()
	check, err := rb.check()
	if err != nil {
		t.Fatal(err)
	}
	var answered, checkedBack bool
	sent := 0
	pkt := make([]byte, 12+160)
	copy(pkt[12:], client.Marker)
	buf := make([]byte, 1500)
	deadline := time.Now().Add(10 * time.Second)
	var nextCheck, nextAudio time.Time
	for rb.echoed.Load() < 25 && time.Now().Before(deadline) {
		now := time.Now()
		if !answered && now.After(nextCheck) {
			if _, err := rb.conn.WriteTo(check.Raw, rb.box); err != nil {
				t.Fatal(err)
			}
			nextCheck = now.Add(200 * time.Millisecond)
		}
		if answered && now.After(nextAudio) {
			seq++
			sent++
			pkt[0], pkt[1] = 0x80, 0 // RTP version 2, PCMU
			binary.BigEndian.PutUint16(pkt[2:], seq)
			binary.BigEndian.PutUint32(pkt[4:], uint32(seq)*160)
			binary.BigEndian.PutUint32(pkt[8:], rb.ssrc)
			binary.BigEndian.PutUint32(pkt[16:], uint32(1000+sent))
			if _, err := rb.session.WriteRTP(pkt); err != nil {
				t.Fatal(err)
			}
			nextAudio = now.Add(20 * time.Millisecond)
		}
		rb.conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		n, from, err := rb.conn.ReadFromAddrPort(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if from != rb.ice.Remote {
			t.Fatalf("packet from %s, not the box's ICE address %s", from, rb.ice.Remote)
		}
		if !stun.IsMessage(buf[:n]) {
			continue // the box's RTCP
		}
		m := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
		if err := m.Decode(); err != nil {
			t.Fatalf("box sent a malformed STUN message: %v", err)
		}
		switch m.Type {
		case stun.BindingSuccess:
			if m.TransactionID == check.TransactionID {
				if err := stun.NewShortTermIntegrity(rb.ice.RemotePwd).Check(m); err != nil {
					t.Fatalf("box's answer to the check: %v", err)
				}
				answered = true
			}
		case stun.BindingRequest:
			if err := rb.answer(m, from); err != nil {
				t.Fatal(err)
			}
			checkedBack = true
		}
	}
	t.Logf("check answered %v, box checked back %v, sent %d, echoed %d", answered, checkedBack, sent, rb.echoed.Load())
	if !answered {
		t.Fatal("the box did not answer the check from the new address")
	}
	if !lite && !checkedBack {
		t.Error("full ICE: the box selected the new address without checking it")
	}
	if lite && checkedBack {
		t.Error("ICE-lite: the box sent a check of its own")
	}
	if rb.echoed.Load() < 25 {
		t.Fatalf("%d of %d packets sent from the new address came back to it in 10 s: the fast path did not follow the pair change", rb.echoed.Load(), sent)
	}
}

// check is the browser's check on the pair in use, from its new address,
// as Chrome sends it: controlling, nominating, a prflx priority.
func (rb *rebound) check() (*stun.Message, error) {
	prio := make([]byte, 4)
	binary.BigEndian.PutUint32(prio, 0x7effffff)
	tie := make([]byte, 8)
	binary.BigEndian.PutUint64(tie, ^uint64(0))
	return stun.Build(stun.TransactionID, stun.BindingRequest,
		stun.NewUsername(rb.ice.RemoteUfrag+":"+rb.ice.LocalUfrag),
		stun.RawAttribute{Type: stun.AttrICEControlling, Value: tie},
		stun.RawAttribute{Type: stun.AttrPriority, Value: prio},
		stun.RawAttribute{Type: stun.AttrUseCandidate},
		stun.NewShortTermIntegrity(rb.ice.RemotePwd), stun.Fingerprint)
}

// answer answers the box's check (signed with the browser's password).
func (rb *rebound) answer(m *stun.Message, from netip.AddrPort) error {
	if err := stun.NewShortTermIntegrity(rb.ice.LocalPwd).Check(m); err != nil {
		return errors.New("box's check to the new address: " + err.Error())
	}
	var user stun.Username
	if err := user.GetFrom(m); err != nil || user.String() != rb.ice.LocalUfrag+":"+rb.ice.RemoteUfrag {
		return errors.New("box's check names " + user.String())
	}
	resp, err := stun.Build(m, stun.BindingSuccess,
		&stun.XORMappedAddress{IP: from.Addr().AsSlice(), Port: int(from.Port())},
		stun.NewShortTermIntegrity(rb.ice.LocalPwd), stun.Fingerprint)
	if err != nil {
		return err
	}
	_, err = rb.conn.WriteToAddrPort(resp.Raw, from)
	return err
}
