package netctl_test

import (
	"net"
	"testing"
	"time"

	"edgebox/internal/testenv"

	"github.com/vishvananda/netns"
)

// sendUDPFrom sends msg from src:5070 to dst:5060 inside namespace h, the
// spoofing tests' forged (or honest) datagram.
func sendUDPFrom(t *testing.T, h netns.NsHandle, src, dst, msg string) {
	t.Helper()
	if err := testenv.DoInHandle(h, func() error {
		c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(src), Port: 5070}, &net.UDPAddr{IP: net.ParseIP(dst), Port: 5060})
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte(msg))
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// readDatagram is the next datagram on c within 2 s, "" when none came.
func readDatagram(c *net.UDPConn) string {
	buf := make([]byte, 100)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := c.ReadFromUDP(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}
