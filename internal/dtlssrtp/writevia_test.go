package dtlssrtp

import (
	"bytes"
	"testing"
	"time"

	"edgebox/internal/udpbatch"

	"github.com/pion/dtls/v3"
)

// A session on a polled socket queues its sends in the Multi it is
// given: nothing leaves before Flush (with io_uring), everything after,
// in order and encrypted for the peer.
func TestWriteRTPViaSendsAtFlush(t *testing.T) {
	p := handshakeGroup(t, dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.SRTP_AEAD_AES_128_GCM, 0)
	ck, sk := p.keys(t)
	cs, err := p.client.NewSession(p.serverAddr, ck)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := p.server.NewSession(p.clientAddr, sk)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 16)
	cs.Receive(0x5678, func(pkt []byte) { got <- bytes.Clone(pkt) })

	out := udpbatch.NewMulti(8, 1500)
	defer out.Close()
	for i := range 3 {
		if _, err := ss.WriteRTPVia(rtpPacket(0x5678, uint16(40+i), []byte("queued")), out); err != nil {
			t.Fatal(err)
		}
	}
	if out.Batched() {
		select {
		case g := <-got:
			t.Fatalf("a packet left before Flush: %x", g)
		case <-time.After(200 * time.Millisecond):
		}
	} else {
		t.Log("no io_uring here: WriteRTPVia sends at once")
	}
	out.Flush()
	for i := range 3 {
		select {
		case g := <-got:
			if want := rtpPacket(0x5678, uint16(40+i), []byte("queued")); !bytes.Equal(g, want) {
				t.Fatalf("packet %d: got %x want %x", i, g, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("packet %d not delivered after Flush", i)
		}
	}
	if out.Batched() && out.Sent != 3 {
		t.Fatalf("the batch counted %d sent, want 3", out.Sent)
	}
	// a closed session queues nothing
	ss.Close()
	if _, err := ss.WriteRTPVia(rtpPacket(0x5678, 50, nil), out); err == nil {
		t.Fatal("WriteRTPVia after Close")
	}
}
