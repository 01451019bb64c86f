package testenv

import (
	"net"
	"strconv"
	"testing"
)

// FreePort is a port on 127.0.0.1 that is free for both TCP and UDP at
// the time of the call (SIP and TURN listen on both). Another process may
// take it before the test binds it; the kernel's ephemeral range makes
// that rare enough for tests.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		p := c.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(p))
		c.Close()
		if err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("free port: no port on 127.0.0.1 free for both TCP and UDP in 50 tries")
	return 0
}

// FreeAddr is "127.0.0.1:<FreePort>".
func FreeAddr(t testing.TB) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(FreePort(t))
}
