package gateway

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// RFC 4733 telephone-event codes of the DTMF digits.
const dtmfDigits = "0123456789*#ABCD"

func dtmfEvent(d byte) (byte, bool) {
	i := strings.IndexByte(dtmfDigits, d)
	if i < 0 && d >= 'a' && d <= 'd' {
		i = strings.IndexByte(dtmfDigits, d-'a'+'A')
	}
	if i < 0 {
		return 0, false
	}
	return byte(i), true
}

func dtmfDigit(ev byte) (byte, bool) {
	if int(ev) >= len(dtmfDigits) {
		return 0, false
	}
	return dtmfDigits[ev], true
}

// validDTMF checks a digit string from a client.
func validDTMF(s string) error {
	if s == "" || len(s) > 32 {
		return fmt.Errorf("digits: 1 to 32 of %s", dtmfDigits)
	}
	for i := 0; i < len(s); i++ {
		if _, ok := dtmfEvent(s[i]); !ok {
			return fmt.Errorf("digits: %q is not one of %s", s[i], dtmfDigits)
		}
	}
	return nil
}

// sendDTMF injects one RFC 4733 event of dur into the PBX stream: a packet
// every 20 ms with growing duration, then three end packets. It blocks for
// the length of the tone; the call runs it off its own goroutine.
func (s *pbxSender) sendDTMF(digit byte, dur time.Duration, stop <-chan struct{}) error {
	ev, ok := dtmfEvent(digit)
	if !ok {
		return fmt.Errorf("dtmf: %q is not a digit", digit)
	}
	s.mu.Lock()
	pt, clock := s.tePT, s.teClock
	s.mu.Unlock()
	if pt < 0 || clock == 0 {
		return fmt.Errorf("dtmf: the PBX did not agree to telephone-event")
	}
	step := uint32(clock / 50) // 20 ms in timestamp units
	total := uint32(dur.Seconds() * float64(clock))
	var pkt [rtpHeaderLen + 4]byte
	s.mu.Lock()
	// Audio keeps flowing during the tone (RFC 4733 allows it); the event
	// starts at the timestamp of the latest audio packet.
	start := s.ts
	s.mu.Unlock()
	send := func(duration uint32, end, first bool) error {
		s.mu.Lock()
		s.seq++
		s.seqDelta++
		seq, ssrc, remote := s.seq, s.ssrc, s.remote
		s.mu.Unlock()
		pkt[0] = 0x80
		pkt[1] = byte(pt)
		if first {
			pkt[1] |= 0x80 // marker on the first packet of an event
		}
		binary.BigEndian.PutUint16(pkt[2:4], seq)
		binary.BigEndian.PutUint32(pkt[4:8], start)
		binary.BigEndian.PutUint32(pkt[8:12], ssrc)
		pkt[12] = ev
		pkt[13] = 10 // volume -10 dBm0
		if end {
			pkt[13] |= 0x80
		}
		binary.BigEndian.PutUint16(pkt[14:16], uint16(min(duration, 0xffff)))
		if !remote.IsValid() {
			return nil
		}
		n, err := s.conn.WriteToUDPAddrPort(pkt[:], remote)
		if err == nil {
			s.stats.countSent(n)
		}
		return err
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for d := step; d < total; d += step {
		if err := send(d, false, d == step); err != nil {
			return err
		}
		select {
		case <-t.C:
		case <-stop:
			return nil
		}
	}
	for i := 0; i < 3; i++ {
		if err := send(total, true, false); err != nil {
			return err
		}
	}
	return nil
}
