package gateway

import (
	"net/netip"
	"os"
	"syscall"
)

// routeSourceOf is the source address the kernel's route to ap gives: a
// UDP connect looks the route up and binds the source, sending nothing.
// Every INVITE asks (sipaddr.go: Via and Contact follow the uplink) and
// every call's media address too (callmedia.go), so it uses a bare
// socket: socket, connect, getsockname, close. net.Dial did twice the
// system calls (the poller's registration and removal, SO_BROADCAST,
// getpeername) and 15 allocations for the same answer.
func routeSourceOf(ap netip.AddrPort) (netip.Addr, error) {
	ip := ap.Addr().Unmap()
	family := syscall.AF_INET
	var sa syscall.Sockaddr
	if ip.Is4() {
		sa = &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}
	} else {
		family = syscall.AF_INET6
		sa = &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16()}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return netip.Addr{}, os.NewSyscallError("socket", err)
	}
	defer syscall.Close(fd)
	if err := syscall.Connect(fd, sa); err != nil {
		return netip.Addr{}, os.NewSyscallError("connect", err)
	}
	la, err := syscall.Getsockname(fd)
	if err != nil {
		return netip.Addr{}, os.NewSyscallError("getsockname", err)
	}
	switch la := la.(type) {
	case *syscall.SockaddrInet4:
		return netip.AddrFrom4(la.Addr), nil
	case *syscall.SockaddrInet6:
		return netip.AddrFrom16(la.Addr).Unmap(), nil
	}
	return netip.Addr{}, os.NewSyscallError("getsockname", syscall.EAFNOSUPPORT)
}
