package gateway

import (
	"syscall"
)

// Socket buffer sizes of the media sockets. A full receive buffer is where
// a loaded box loses packets: the shared ICE socket carries every call's
// browser media, and a PBX-side socket waits while its goroutine is not
// scheduled. The sizes are limits, not allocations: memory is used only
// while packets queue.
const (
	iceSockBuf = 4 << 20
	rtpSockBuf = 4 << 20
	sipSockBuf = 4 << 20
)

// setSockBuf sets the receive and send buffers of c to size bytes. With
// CAP_NET_ADMIN (the gateway runs as root) SO_RCVBUFFORCE/SO_SNDBUFFORCE
// apply the size whatever net.core.rmem_max/wmem_max say; otherwise the
// kernel caps it at those limits (init raises them to 8 MiB on the box).
func setSockBuf(c syscall.Conn, size int) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		if syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, size) != nil {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, size)
		}
		if syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUFFORCE, size) != nil {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, size)
		}
	})
}

// sockBuf reads back the kernel's receive and send buffer sizes of c (the
// kernel doubles what was asked, for its bookkeeping).
func sockBuf(c syscall.Conn) (rcv, snd int, err error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var gerr error
	if cerr := rc.Control(func(fd uintptr) {
		rcv, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
		if gerr == nil {
			snd, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF)
		}
	}); cerr != nil {
		return 0, 0, cerr
	}
	return rcv, snd, gerr
}
