package gateway

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawUDP is a UDP socket kept out of Go's netpoller: the PBX leg's RTP
// socket, read by the port pool's poller (its own epoll set, interested
// in input only) and written with sendto. In the netpoller, every packet
// sent would wake it: the kernel reports the socket writable again each
// time a sent packet is freed.
type rawUDP struct {
	mu    sync.RWMutex // writers and readers share; close excludes them
	fd    int          // -1 once closed
	local netip.AddrPort
}

func listenRawUDP(a netip.AddrPort) (*rawUDP, error) {
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
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, &net.OpError{Op: "listen", Net: "udp", Addr: net.UDPAddrFromAddrPort(a), Err: os.NewSyscallError("bind", err)}
	}
	return &rawUDP{fd: fd, local: a}, nil
}

// WriteToUDPAddrPort sends one datagram without waiting: a full socket
// buffer drops it, as the network would.
func (u *rawUDP) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.fd < 0 {
		return 0, net.ErrClosed
	}
	var sa unix.RawSockaddrInet6
	var salen uintptr
	if u.local.Addr().Is4() {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&sa))
		sa4.Family = unix.AF_INET
		sa4.Addr = to.Addr().Unmap().As4()
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:], to.Port())
		salen = unsafe.Sizeof(*sa4)
	} else {
		sa.Family = unix.AF_INET6
		sa.Addr = to.Addr().As16()
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], to.Port())
		salen = unsafe.Sizeof(sa)
	}
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	n, _, errno := syscall.Syscall6(syscall.SYS_SENDTO, uintptr(u.fd), uintptr(p), uintptr(len(b)),
		syscall.MSG_DONTWAIT, uintptr(unsafe.Pointer(&sa)), salen)
	if errno != 0 {
		return 0, &net.OpError{Op: "write", Net: "udp", Addr: net.UDPAddrFromAddrPort(to), Err: os.NewSyscallError("sendto", errno)}
	}
	return int(n), nil
}

// Close closes the socket once no read or write is under way.
func (u *rawUDP) Close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.fd < 0 {
		return net.ErrClosed
	}
	err := unix.Close(u.fd)
	u.fd = -1
	return err
}

// SyscallConn gives the descriptor to socket options and the poller.
func (u *rawUDP) SyscallConn() (syscall.RawConn, error) { return rawConnOf{u}, nil }

// rawConnOf runs functions on the descriptor while it stays open; there
// is no waiting: Read and Write call f once.
type rawConnOf struct{ u *rawUDP }

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
