package netctl

import (
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeNTP answers every request on 127.0.0.1 with the time at.
func fakeNTP(t *testing.T, at time.Time) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
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
			sec := uint32(at.Unix() - ntpEpoch) // wraps into era 1 after 2036, as RFC 4330 reads it
			for _, off := range []int{32, 40} {
				binary.BigEndian.PutUint32(p[off:], sec)
				binary.BigEndian.PutUint32(p[off+4:], 0)
			}
			pc.WriteTo(p, from)
		}
	}()
	return pc.LocalAddr().String()
}

// A server (the uplink's DHCP may name any, and anyone on the path may
// answer for one) saying a time no right clock shows must not step the
// clock, nor write the RTC: years back revives expired tokens and
// certificates. The next server in the list, with the right time, is used.
func TestTimeSyncRefusesImplausibleTimes(t *testing.T) {
	built := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	good := fakeNTP(t, time.Now())
	for _, c := range []struct {
		name string
		at   time.Time
	}{
		{"year 2001", time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"before the firmware was built", built.Add(-24 * time.Hour)},
		{"year 2101", time.Date(2101, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := fakeNTP(t, c.at)
			ts := newTimeSync([]string{bad}, slog.New(slog.DiscardHandler))
			ts.built = func() time.Time { return built }
			ts.now = func() time.Time { return time.Now().Add(-time.Hour) }
			var setTo []time.Time
			ts.set = func(t time.Time) error { setTo = append(setTo, t); return nil }
			err := ts.syncOnce(context.Background())
			if err == nil || len(setTo) > 0 {
				t.Fatalf("the clock was set to %v (err %v)", setTo, err)
			}
			if st := ts.Status(); st.Synced || !strings.Contains(st.LastError, bad) {
				t.Fatalf("status %+v", st)
			}
			ts.SetServers([]string{bad, good})
			if err := ts.syncOnce(context.Background()); err != nil || len(setTo) != 1 || time.Until(setTo[0]).Abs() > 2*time.Second {
				t.Fatalf("with a right server next: set to %v (err %v)", setTo, err)
			}
		})
	}
}
