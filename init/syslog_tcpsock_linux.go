package main

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// unackedBytes is how many bytes written to c its peer's TCP has not
// acknowledged yet (SIOCOUTQ: write_seq - snd_una). A write that
// succeeded only put the bytes in the kernel's send buffer; this says
// which of them reached the other end.
func unackedBytes(c *net.TCPConn) (int64, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var ierr error
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) }); err != nil {
		return 0, err
	}
	return int64(n), ierr
}

// setUserTimeout makes the kernel give a connection up when what was
// written stays unacknowledged for d (TCP_USER_TIMEOUT), instead of
// retransmitting for a quarter of an hour into a path that went away.
func setUserTimeout(c *net.TCPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(tcpUserTimeout/time.Millisecond))
	})
	if err != nil {
		return err
	}
	return serr
}
