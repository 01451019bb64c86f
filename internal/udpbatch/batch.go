// Package udpbatch moves many UDP datagrams per system call (recvmmsg,
// sendmmsg) through a socket's syscall.RawConn, so that Go's netpoller
// still does the waiting. Buffers, addresses and headers are set up once:
// nothing is allocated per datagram.
//
// Every system call here is made not to wait (MSG_DONTWAIT, an epoll
// timeout of 0), so they are raw: the Go scheduler is not told about
// them. A call it is told about costs the entry and exit bookkeeping,
// and on a busy box the runtime's monitor takes the processor away from
// a thread the kernel briefly preempted inside one, waking another
// thread to run Go code: context switches for nothing.
package udpbatch

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Batch is a fixed set of datagram slots, used by one goroutine.
type Batch struct {
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	bufs  [][]byte
	dst   []netip.AddrPort
	size  int

	// N is the number of datagrams in the batch: received by Recv, or
	// added by Add and not yet sent.
	N int

	errno  syscall.Errno
	recvFn func(fd uintptr) bool
	sendFn func(fd uintptr) bool
	sent   int
	// the sending socket's address family
	familyFn func(fd uintptr)
	inet4    bool
}

// New makes a batch of n slots of size bytes.
func New(n, size int) *Batch {
	b := &Batch{
		hdrs:  make([]unix.Mmsghdr, n),
		iovs:  make([]unix.Iovec, n),
		names: make([]unix.RawSockaddrInet6, n),
		bufs:  make([][]byte, n),
		dst:   make([]netip.AddrPort, n),
		size:  size,
	}
	for i := range n {
		b.bufs[i] = make([]byte, size)
		b.iovs[i].Base = &b.bufs[i][0]
		b.hdrs[i].Hdr.Iov = &b.iovs[i]
		b.hdrs[i].Hdr.Iovlen = 1
		b.hdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	}
	b.recvFn, b.sendFn, b.familyFn = b.recv, b.send, b.family
	return b
}

// Cap is the number of slots.
func (b *Batch) Cap() int { return len(b.bufs) }

// Recv waits until datagrams arrive on rc and takes as many as fit.
func (b *Batch) Recv(rc syscall.RawConn) error {
	b.N = 0
	if err := rc.Read(b.recvFn); err != nil {
		return err
	}
	if b.errno != 0 {
		return b.errno
	}
	return nil
}

func (b *Batch) recv(fd uintptr) bool {
	for i := range b.hdrs {
		b.iovs[i].SetLen(b.size)
		b.hdrs[i].Hdr.Namelen = uint32(unsafe.Sizeof(b.names[i]))
		b.hdrs[i].Len = 0
	}
	n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(len(b.hdrs)),
		unix.MSG_DONTWAIT, 0, 0)
	switch errno {
	case 0:
		b.N, b.errno = int(n), 0
		return true
	case unix.EAGAIN, unix.EINTR:
		return false // let the netpoller wait
	}
	b.errno = errno
	return true
}

// Packet is datagram i of a received batch and its sender.
func (b *Batch) Packet(i int) ([]byte, netip.AddrPort) {
	return b.bufs[i][:b.hdrs[i].Len], addrPort(&b.names[i])
}

// Slot is the buffer of the next datagram to send, or nil when the batch
// is full.
func (b *Batch) Slot() []byte {
	if b.N == len(b.bufs) {
		return nil
	}
	return b.bufs[b.N][:0]
}

// Add queues the first n bytes of Slot() for to.
func (b *Batch) Add(n int, to netip.AddrPort) {
	b.iovs[b.N].SetLen(n)
	b.dst[b.N] = to
	b.N++
}

// Send sends the queued datagrams on rc and empties the batch. A
// datagram the kernel refuses is dropped, as a lost packet would be.
func (b *Batch) Send(rc syscall.RawConn) error {
	if b.N == 0 {
		return nil
	}
	if s, ok := rc.(rawConnOf); ok {
		// our own socket knows its family: no getsockname per batch
		b.inet4 = s.u.local.Addr().Is4()
	} else if err := rc.Control(b.familyFn); err != nil {
		b.N = 0
		return err
	}
	for i := range b.N {
		b.hdrs[i].Hdr.Namelen = putSockaddr(&b.names[i], b.dst[i], b.inet4)
	}
	var err error
	for b.sent = 0; b.sent < b.N; {
		before := b.sent
		if err = rc.Write(b.sendFn); err != nil {
			break
		}
		if b.errno != 0 {
			err = b.errno
			b.sent++ // skip the datagram that failed
		}
		if b.sent == before {
			break
		}
	}
	b.N = 0
	return err
}

func (b *Batch) family(fd uintptr) {
	var sa unix.RawSockaddrInet6
	l := uint32(unsafe.Sizeof(sa))
	unix.RawSyscall(unix.SYS_GETSOCKNAME, fd, uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&l)))
	b.inet4 = sa.Family == unix.AF_INET
}

func (b *Batch) send(fd uintptr) bool {
	n, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[b.sent])), uintptr(b.N-b.sent),
		unix.MSG_DONTWAIT, 0, 0)
	switch errno {
	case 0:
		b.sent += int(n)
		b.errno = 0
		return true
	case unix.EAGAIN, unix.EINTR:
		return false // socket buffer full: wait until writable
	}
	b.errno = errno
	return true
}

// addrPort reads an IPv4 or IPv6 socket address (IPv4-mapped unmapped).
func addrPort(sa *unix.RawSockaddrInet6) netip.AddrPort {
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port)
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port)
	}
	return netip.AddrPort{}
}

// putSockaddr writes to as the socket address of an IPv4 socket (inet4)
// or of an IPv6 one (IPv4 addresses mapped) and returns its length.
func putSockaddr(sa *unix.RawSockaddrInet6, to netip.AddrPort, inet4 bool) uint32 {
	if inet4 {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: to.Addr().Unmap().As4()}
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:], to.Port())
		return uint32(unsafe.Sizeof(*sa4))
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], to.Port())
	sa.Addr = to.Addr().As16()
	return uint32(unsafe.Sizeof(*sa))
}
