package udpbatch

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Socket is a UDP socket kept out of Go's netpoller, for media: in the
// netpoller every packet sent wakes it, because the kernel reports the
// socket writable again each time a sent packet is freed. A Socket is
// waited on through an epoll set interested in input only (Recv, or a
// poller of the caller's) and written without waiting.
type Socket struct {
	mu    sync.RWMutex // writers and readers share; close excludes them
	fd    int          // -1 once closed
	local netip.AddrPort
	ep    *os.File // Recv's epoll set, made on first use
	eprc  syscall.RawConn
	wait  func(fd uintptr) bool
}

// Listen binds a Socket to a; reusePort lets several share the address
// (SO_REUSEPORT: the kernel spreads peers over them by address).
func Listen(a netip.AddrPort, reusePort bool) (*Socket, error) {
	family := unix.AF_INET6
	if a.Addr().Is4() {
		family = unix.AF_INET
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	var sa unix.Sockaddr
	if family == unix.AF_INET {
		sa = &unix.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().As4()}
	} else {
		sa = &unix.SockaddrInet6{Port: int(a.Port()), Addr: a.Addr().As16()}
	}
	if reusePort {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			unix.Close(fd)
			return nil, os.NewSyscallError("setsockopt", err)
		}
	}
	if family == unix.AF_INET6 {
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0) // dual-stack, like Go's
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, &net.OpError{Op: "listen", Net: "udp", Addr: net.UDPAddrFromAddrPort(a), Err: os.NewSyscallError("bind", err)}
	}
	if a.Port() == 0 {
		if got, err := unix.Getsockname(fd); err == nil {
			switch g := got.(type) {
			case *unix.SockaddrInet4:
				a = netip.AddrPortFrom(a.Addr(), uint16(g.Port))
			case *unix.SockaddrInet6:
				a = netip.AddrPortFrom(a.Addr(), uint16(g.Port))
			}
		}
	}
	return &Socket{fd: fd, local: a}, nil
}

// LocalAddr is the bound address.
func (u *Socket) LocalAddr() netip.AddrPort { return u.local }

// Recv waits for datagrams and takes as many as b holds.
func (u *Socket) Recv(b *Batch) error {
	if u.ep == nil {
		if err := u.startWait(); err != nil {
			return err
		}
	}
	for {
		if err := u.eprc.Read(u.wait); err != nil {
			return err
		}
		rc, _ := u.SyscallConn()
		b.N = 0
		if err := rc.Read(b.recvFn); err != nil {
			return err
		}
		if b.errno != 0 {
			return b.errno
		}
		if b.N > 0 {
			return nil
		}
	}
}

// startWait makes the epoll set Recv waits on: the socket, for input,
// the set itself in Go's netpoller.
func (u *Socket) startWait() error {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.fd < 0 {
		return net.ErrClosed
	}
	ep, rc, err := newEpollSet("udp-epoll")
	if err != nil {
		return err
	}
	if err := unix.EpollCtl(int(ep.Fd()), unix.EPOLL_CTL_ADD, u.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(u.fd)}); err != nil {
		ep.Close()
		return os.NewSyscallError("epoll_ctl", err)
	}
	u.ep, u.eprc = ep, rc
	events := make([]unix.EpollEvent, 1)
	u.wait = func(fd uintptr) bool {
		return pollReady(fd, events) > 0
	}
	return nil
}

// WriteToUDPAddrPort sends one datagram without waiting: a full socket
// buffer drops it, as the network would.
func (u *Socket) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.fd < 0 {
		return 0, net.ErrClosed
	}
	var sa unix.RawSockaddrInet6
	salen := putSockaddr(&sa, to, u.local.Addr().Is4())
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	n, _, errno := unix.RawSyscall6(syscall.SYS_SENDTO, uintptr(u.fd), uintptr(p), uintptr(len(b)),
		syscall.MSG_DONTWAIT, uintptr(unsafe.Pointer(&sa)), uintptr(salen))
	if errno != 0 {
		return 0, &net.OpError{Op: "write", Net: "udp", Addr: net.UDPAddrFromAddrPort(to), Err: os.NewSyscallError("sendto", errno)}
	}
	return int(n), nil
}

// Close closes the socket once no read or write is under way; a Recv
// waiting returns an error.
func (u *Socket) Close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.fd < 0 {
		return net.ErrClosed
	}
	if u.ep != nil {
		u.ep.Close()
	}
	err := unix.Close(u.fd)
	u.fd = -1
	return err
}

// SyscallConn gives the descriptor to socket options and the poller.
func (u *Socket) SyscallConn() (syscall.RawConn, error) { return rawConnOf{u}, nil }

// rawConnOf runs functions on the descriptor while it stays open; there
// is no waiting: Read and Write call f once.
type rawConnOf struct{ u *Socket }

func (r rawConnOf) do(f func(fd uintptr) bool) error {
	r.u.mu.RLock()
	defer r.u.mu.RUnlock()
	if r.u.fd < 0 {
		return net.ErrClosed
	}
	f(uintptr(r.u.fd))
	return nil
}

func (r rawConnOf) Control(f func(fd uintptr)) error {
	return r.do(func(fd uintptr) bool { f(fd); return true })
}
func (r rawConnOf) Read(f func(fd uintptr) bool) error  { return r.do(f) }
func (r rawConnOf) Write(f func(fd uintptr) bool) error { return r.do(f) }

// newEpollSet makes an empty epoll set that Go's netpoller waits on
// (non-blocking, so os.NewFile registers it): readable when a socket in
// it is.
func newEpollSet(name string) (*os.File, syscall.RawConn, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, nil, err
	}
	ep := os.NewFile(uintptr(fd), name)
	rc, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		return nil, nil, err
	}
	return ep, rc, nil
}

// pollReady takes the ready events of epoll set fd into events without
// waiting (epoll_pwait with a timeout of 0 and no signal mask): the caller waits through Go's
// netpoller on the set itself. It is 0 when none is ready, -1 with the
// set closed (EBADF).
func pollReady(fd uintptr, events []unix.EpollEvent) int {
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	switch errno {
	case 0:
		return int(n)
	case unix.EBADF:
		return -1
	}
	return 0
}
