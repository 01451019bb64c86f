package netctl

import (
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"testing"
	"time"
)

// spoofNTP answers every request on 127.0.0.1 with the time at() gives,
// as an on-path attacker between the box and its NTP server can (plain
// NTP is not authenticated: only the echoed transmit time is checked).
func spoofNTP(t *testing.T, at func() time.Time) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 128)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 48 {
				continue
			}
			p := serverAnswer(buf[:48])
			ts := at()
			sec := uint32(ts.Unix() - ntpEpoch)
			frac := uint32(uint64(ts.Nanosecond()) << 32 / 1e9)
			for _, off := range []int{32, 40} {
				binary.BigEndian.PutUint32(p[off:], sec)
				binary.BigEndian.PutUint32(p[off+4:], frac)
			}
			pc.WriteTo(p, from)
		}
	}()
	return pc.LocalAddr().String()
}

// TestSec4NTPOneAnswerCannotJump: once the clock was set, a single answer
// a year ahead (a moment on the path) was taken: every token and session
// expiry passed at once, the admin locked out of the API until someone
// made a new token. A step of more than ntpMaxChange after a sync is taken
// only when ntpConfirm answers in a row agree on it; a real correction
// still gets through that way.
func TestSec4NTPOneAnswerCannotJump(t *testing.T) {
	ahead := 0 * time.Hour
	addr := spoofNTP(t, func() time.Time { return time.Now().Add(ahead) })
	ts := newTimeSync([]string{addr}, slog.New(slog.DiscardHandler))
	behind := -time.Hour // the first sync after boot may step as far as it needs
	ts.now = func() time.Time { return time.Now().Add(behind) }
	var setTo time.Time
	ts.set = func(t time.Time) error { setTo = t; return nil }
	if err := ts.syncOnce(context.Background()); err != nil || setTo.IsZero() {
		t.Fatalf("first sync: set %v, err %v", setTo, err)
	}
	behind = 0
	ahead, setTo = 365*24*time.Hour, time.Time{}
	ts.syncOnce(context.Background())
	if !setTo.IsZero() {
		t.Fatalf("one answer a year ahead after a sync set the clock to %v", setTo)
	}
	ahead = 0 // the attacker is gone: the clock was right, nothing to do
	if err := ts.syncOnce(context.Background()); err != nil || !setTo.IsZero() {
		t.Fatalf("a good answer after the refused one: set %v, err %v", setTo, err)
	}
	ahead = 2 * time.Hour // a real jump, answered every time
	for i := 1; i < ntpConfirm; i++ {
		ts.syncOnce(context.Background())
		if !setTo.IsZero() {
			t.Fatalf("answer %d of %d set the clock", i, ntpConfirm)
		}
	}
	if err := ts.syncOnce(context.Background()); err != nil || setTo.IsZero() {
		t.Fatalf("%d agreeing answers did not set the clock: err %v", ntpConfirm, err)
	}
}

// TestSec4NTPFirstAnswerCannotStepBack: at boot the board's clock is
// mostly right (or behind, when the RTC is flat); one answer on the
// path stepped it back half a year on the first sync, and every API token
// that had expired since was valid again (web keeps expired tokens until
// a new one is made). A first sync may step forward freely; a large step
// back needs ntpConfirm agreeing answers, as after a sync.
func TestSec4NTPFirstAnswerCannotStepBack(t *testing.T) {
	addr := spoofNTP(t, func() time.Time { return time.Now().Add(-183 * 24 * time.Hour) })
	ts := newTimeSync([]string{addr}, slog.New(slog.DiscardHandler))
	var setTo time.Time
	ts.set = func(t time.Time) error { setTo = t; return nil }
	ts.syncOnce(context.Background())
	if !setTo.IsZero() {
		t.Fatalf("the first answer, half a year back, set the clock to %v", setTo)
	}
	for i := 2; i <= ntpConfirm; i++ {
		ts.syncOnce(context.Background())
	}
	if setTo.IsZero() {
		t.Fatalf("%d agreeing answers did not step the clock back", ntpConfirm)
	}
}
