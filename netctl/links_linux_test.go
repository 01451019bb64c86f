package netctl

import (
	"net"
	"testing"
)

// TestLinkDownNeverTakesLoopback: a modem or uplink named "lo" (a test's
// stand-in once was) must not take the host's loopback down at shutdown.
func TestLinkDownNeverTakesLoopback(t *testing.T) {
	if err := linkDown("lo"); err == nil {
		t.Error("linkDown(lo) took no exception")
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if lo.Flags&net.FlagUp == 0 {
		t.Fatal("the loopback is down")
	}
}
