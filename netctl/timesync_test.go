package netctl

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// startChrony runs Debian's chronyd on 127.0.0.1 as an NTP server serving
// its local clock (-x: it never touches the machine's clock).
func startChrony(t *testing.T) string {
	t.Helper()
	testenv.RequireRoot(t, "/usr/sbin/chronyd")
	dir := t.TempDir()
	port := testenv.FreePort(t)
	conf := filepath.Join(dir, "chrony.conf")
	os.WriteFile(conf, []byte(strings.Join([]string{
		"local stratum 8", "allow 127.0.0.1", "bindaddress 127.0.0.1", fmt.Sprintf("port %d", port),
		"cmdport 0", "pidfile " + filepath.Join(dir, "chronyd.pid"), "driftfile " + filepath.Join(dir, "drift"),
	}, "\n")+"\n"), 0o644)
	p := testenv.Command(t, "/usr/sbin/chronyd", "-d", "-x", "-u", "root", "-f", conf).Start()
	t.Cleanup(func() { p.Stop(5 * time.Second) })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// chronyd gives no sign that it serves: ask until it answers.
	if err := testenv.UntilEvery(20*time.Second, 200*time.Millisecond, "chronyd answering NTP", func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err := queryNTP(ctx, addr, time.Now)
		return err == nil, err
	}); err != nil {
		t.Fatalf("%v\n%s", err, p.Log.String())
	}
	return addr
}

// A box whose board clock is a year behind asks chronyd and sets its
// clock to the server's time (set is the test's: the machine's clock
// stays as it is).
func TestTimeSyncSetsClockFromChrony(t *testing.T) {
	addr := startChrony(t)
	behind := -365 * 24 * time.Hour
	ts := newTimeSync([]string{"127.0.0.1:9", addr}, slog.New(slog.DiscardHandler))
	ts.now = func() time.Time { return time.Now().Add(behind) }
	var setTo time.Time
	ts.set = func(t time.Time) error { setTo = t; return nil }
	// Nothing answers on the first (port 9 on loopback): the next one does.
	if err := ts.syncOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Until(setTo); d > 2*time.Second || d < -2*time.Second {
		t.Fatalf("the clock was set to %v, %v away from the server's time", setTo, d)
	}
	st := ts.Status()
	if !st.Synced || !st.Stepped || st.Server != addr || st.OffsetMS < -behind.Milliseconds()-2000 {
		t.Fatalf("status %+v", st)
	}
	// In step: nothing is set.
	ts.now, setTo = time.Now, time.Time{}
	if err := ts.syncOnce(context.Background()); err != nil || !setTo.IsZero() {
		t.Fatalf("a clock in step was set to %v (%v)", setTo, err)
	}
}

// Answers that must not move the clock: one that does not carry back the
// request's transmit time (spoofed or stale), a server not synchronised
// itself, a kiss-of-death.
func TestTimeSyncRefusesBadAnswers(t *testing.T) {
	for _, c := range []struct {
		name   string
		answer func(req []byte) []byte
		want   string
	}{
		{"not our request", func(req []byte) []byte { p := serverAnswer(req); p[24] ^= 0xff; return p }, "timeout"},
		{"unsynchronised", func(req []byte) []byte { p := serverAnswer(req); p[0] = 3<<6 | 4<<3 | 4; return p }, "not synchronised"},
		{"kiss of death", func(req []byte) []byte { p := serverAnswer(req); p[1] = 0; copy(p[12:], "RATE"); return p }, "RATE"},
		{"client mode", func(req []byte) []byte { p := serverAnswer(req); p[0] = 4<<3 | 3; return p }, "mode 3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			go func() {
				buf := make([]byte, 128)
				n, from, err := pc.ReadFrom(buf)
				if err == nil && n >= 48 {
					pc.WriteTo(c.answer(buf[:48]), from)
				}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err = queryNTP(ctx, pc.LocalAddr().String(), time.Now)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
		})
	}
}

// serverAnswer is a good stratum-2 answer to req, at the real time.
func serverAnswer(req []byte) []byte {
	p := make([]byte, 48)
	p[0], p[1] = 4<<3|4, 2
	copy(p[24:32], req[40:48])
	now := time.Now()
	sec := uint32(now.Unix() - ntpEpoch)
	frac := uint32(uint64(now.Nanosecond()) << 32 / 1e9)
	for _, off := range []int{32, 40} {
		binary.BigEndian.PutUint32(p[off:], sec)
		binary.BigEndian.PutUint32(p[off+4:], frac)
	}
	return p
}

func TestNTPAddress(t *testing.T) {
	for in, want := range map[string]string{
		"pool.ntp.org": "pool.ntp.org:123", "10.8.0.1": "10.8.0.1:123", "10.8.0.1:1123": "10.8.0.1:1123",
		"ntp://time.example.net": "time.example.net:123", "2001:db8::1": "[2001:db8::1]:123", "[2001:db8::1]": "[2001:db8::1]:123",
	} {
		if got := ntpAddress(in); got != want {
			t.Errorf("ntpAddress(%q) = %q, want %q", in, got, want)
		}
	}
}
