package gateway

import (
	"io"
	"log/slog"
	"net/netip"
	"testing"

	"edgebox/internal/config"
)

func newLoginOnlyAMI() *amiServer {
	return &amiServer{cfg: config.GSMAMI{Users: []config.GSMAMIUser{{Username: "sms", Secret: "right-secret-1"}}},
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), sessions: map[*amiSession]struct{}{}, fails: map[netip.Addr]*amiFails{}}
}

// TestSec4AMILockoutIPv6Slash64: a guesser on IPv6 owns its /64 and
// takes a new address for every guess. The lock-out must hold for the
// whole /64 (as web's and the gateway's limiters do); before, each
// address had its own five tries, so the secret could be guessed without
// end from one subscriber line.
func TestSec4AMILockoutIPv6Slash64(t *testing.T) {
	a := newLoginOnlyAMI()
	base := netip.MustParseAddr("2001:db8:1:2::").As16()
	for i := range 50 {
		src := base
		src[15] = byte(i + 1)
		a.login(netip.AddrFrom16(src), "sms", "wrong-guess")
	}
	src := base
	src[15] = 200
	if a.login(netip.AddrFrom16(src), "sms", "right-secret-1") {
		t.Fatal("after 50 wrong guesses from one IPv6 /64, a new address in it logged in: the lock-out counted addresses, not the /64")
	}
	if !a.login(netip.MustParseAddr("2001:db8:1:3::1"), "sms", "right-secret-1") {
		t.Fatal("another /64 was locked out too")
	}
}

// TestSec4AMILockoutSurvivesAFullTable: when the failure table filled up
// (4097 sources with one wrong guess each), it was cleared whole, and
// with it every lock-out: a locked-out guesser went on at once. Locked
// sources must stay locked.
func TestSec4AMILockoutSurvivesAFullTable(t *testing.T) {
	a := newLoginOnlyAMI()
	guesser := netip.MustParseAddr("198.51.100.7")
	for range 5 {
		a.login(guesser, "sms", "wrong-guess")
	}
	for i := range 5000 {
		a.login(netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)}), "sms", "wrong-guess")
	}
	if a.login(guesser, "sms", "right-secret-1") {
		t.Fatal("a locked-out source logged in after 5000 other sources failed once each: the full table was cleared with its lock-outs")
	}
	if len(a.fails) > amiFailsMax+1 {
		t.Fatalf("failure table holds %d sources, want at most about %d", len(a.fails), amiFailsMax)
	}
}
