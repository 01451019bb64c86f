package udpbatch

import (
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Multi sends datagrams from many sockets in one system call. sendmmsg
// batches the datagrams of one socket only, and a relay's sockets toward
// a PBX are one per call (the port its SDP names), each sending one
// packet per 20 ms: a reader's batch holds one packet per call, so a
// batch per socket is a sendto per packet. An io_uring submission queue
// takes one send per entry, each on its own socket: Flush submits them
// all with one io_uring_enter.
//
// Every send is made not to wait (MSG_DONTWAIT): a full socket buffer
// drops the datagram, as the network would, and no send stays in the
// kernel after Flush (the buffers are reused). Where io_uring is not
// available (a kernel without it, a seccomp filter), Add sends at once
// with sendto, as before.
//
// A Multi is used by one goroutine. Add holds the socket's read lock
// until Flush, so a socket is not closed (and its descriptor reused)
// while its datagram waits in the batch.
type Multi struct {
	ring *uring // nil: no io_uring, Add sends at once
	n    int    // datagrams queued
	// per slot, handed to the kernel by address: they stay where they
	// are for the Multi's life
	hdrs  []unix.Msghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	bufs  [][]byte
	// the sockets whose read locks the batch holds, once each
	locked []*Socket

	// Sent and Dropped count datagrams the kernel took and refused.
	Sent, Dropped uint64
}

// NoURing, from $EDGEBOX_NO_IO_URING set to anything, makes every Multi
// send at once with sendto: the escape hatch should a kernel's io_uring
// misbehave, and the "before" of a benchmark.
var NoURing = os.Getenv("EDGEBOX_NO_IO_URING") != ""

// NewMulti makes a Multi of n slots of size bytes (n ≤ 4096).
func NewMulti(n, size int) *Multi {
	m := &Multi{}
	if NoURing {
		return m
	}
	r, err := newURing(uint32(n))
	if err != nil {
		return m
	}
	m.ring = r
	m.hdrs = make([]unix.Msghdr, n)
	m.iovs = make([]unix.Iovec, n)
	m.names = make([]unix.RawSockaddrInet6, n)
	m.bufs = make([][]byte, n)
	for i := range n {
		m.bufs[i] = make([]byte, size)
		m.iovs[i].Base = &m.bufs[i][0]
		m.hdrs[i].Iov = &m.iovs[i]
		m.hdrs[i].Iovlen = 1
		m.hdrs[i].Name = (*byte)(unsafe.Pointer(&m.names[i]))
	}
	return m
}

// Batched tells whether sends are batched (io_uring is available).
func (m *Multi) Batched() bool { return m.ring != nil }

// Add queues a copy of b for to, sent from u at the next Flush (at once
// when the batch is full, or without io_uring). A datagram larger than a
// slot is sent at once.
func (m *Multi) Add(u *Socket, b []byte, to netip.AddrPort) error {
	if m.ring == nil || len(b) > len(m.bufs[0]) || len(b) == 0 {
		_, err := u.WriteToUDPAddrPort(b, to)
		return err
	}
	if m.n == len(m.bufs) {
		m.Flush()
	}
	if !m.holds(u) {
		u.mu.RLock()
		if u.fd < 0 {
			u.mu.RUnlock()
			return net.ErrClosed
		}
		m.locked = append(m.locked, u)
	}
	i := m.n
	copy(m.bufs[i], b)
	m.iovs[i].SetLen(len(b))
	m.hdrs[i].Namelen = putSockaddr(&m.names[i], to, u.local.Addr().Is4())
	m.ring.prepSendmsg(uint32(i), int32(u.fd), &m.hdrs[i])
	m.n++
	return nil
}

// holds tells whether the batch has u's read lock already: taking it
// twice could deadlock against a Close waiting in between.
func (m *Multi) holds(u *Socket) bool {
	for _, l := range m.locked {
		if l == u {
			return true
		}
	}
	return false
}

// Flush sends what Add queued and lets the sockets close again.
func (m *Multi) Flush() {
	if m.n == 0 {
		return
	}
	sent, dropped := m.ring.submitAll(uint32(m.n))
	m.Sent += uint64(sent)
	m.Dropped += uint64(dropped)
	m.n = 0
	for i, u := range m.locked {
		u.mu.RUnlock()
		m.locked[i] = nil
	}
	m.locked = m.locked[:0]
}

// Close frees the ring; queued datagrams are sent first.
func (m *Multi) Close() {
	m.Flush()
	if m.ring != nil {
		m.ring.close()
		m.ring = nil
	}
}

// io_uring, as much of it as sending needs (linux/io_uring.h).
const (
	sysIOURingSetup = 425
	sysIOURingEnter = 426

	ioringOpSendmsg     = 9
	ioringEnterGetevent = 1
	ioringFeatSingleMap = 1

	ioringOffSQRing = 0
	ioringOffCQRing = 0x8000000
	ioringOffSQEs   = 0x10000000
)

type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  struct {
		head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
		userAddr                                                        uint64
	}
	cqOff struct {
		head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
		userAddr                                                        uint64
	}
}

type uringSQE struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	msgFlags    uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFDIn  int32
	addr3       uint64
	pad2        uint64
}

type uringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

type uring struct {
	fd             int
	sqMap, cqMap   []byte
	sqeMap         []byte
	sqHead, sqTail *uint32
	sqMask         uint32
	sqArray        []uint32
	sqes           []uringSQE
	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           []uringCQE
	tail           uint32 // our copy of the SQ tail, published by submitAll
	single         bool   // one mapping holds both rings
}

func newURing(entries uint32) (*uring, error) {
	var p uringParams
	fd, _, errno := unix.Syscall(sysIOURingSetup, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, errno
	}
	r := &uring{fd: int(fd)}
	fail := func(err error) (*uring, error) {
		r.close()
		return nil, err
	}
	sqSize := int(p.sqOff.array + p.sqEntries*4)
	cqSize := int(p.cqOff.cqes + p.cqEntries*uint32(unsafe.Sizeof(uringCQE{})))
	single := p.features&ioringFeatSingleMap != 0
	r.single = single
	if single {
		sqSize = max(sqSize, cqSize)
	}
	var err error
	if r.sqMap, err = unix.Mmap(r.fd, ioringOffSQRing, sqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return fail(err)
	}
	r.cqMap = r.sqMap
	if !single {
		if r.cqMap, err = unix.Mmap(r.fd, ioringOffCQRing, cqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
			return fail(err)
		}
	}
	sqeSize := int(p.sqEntries) * int(unsafe.Sizeof(uringSQE{}))
	if r.sqeMap, err = unix.Mmap(r.fd, ioringOffSQEs, sqeSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return fail(err)
	}
	r.sqHead = (*uint32)(unsafe.Pointer(&r.sqMap[p.sqOff.head]))
	r.sqTail = (*uint32)(unsafe.Pointer(&r.sqMap[p.sqOff.tail]))
	r.sqMask = *(*uint32)(unsafe.Pointer(&r.sqMap[p.sqOff.ringMask]))
	r.sqArray = unsafe.Slice((*uint32)(unsafe.Pointer(&r.sqMap[p.sqOff.array])), p.sqEntries)
	r.sqes = unsafe.Slice((*uringSQE)(unsafe.Pointer(&r.sqeMap[0])), p.sqEntries)
	r.cqHead = (*uint32)(unsafe.Pointer(&r.cqMap[p.cqOff.head]))
	r.cqTail = (*uint32)(unsafe.Pointer(&r.cqMap[p.cqOff.tail]))
	r.cqMask = *(*uint32)(unsafe.Pointer(&r.cqMap[p.cqOff.ringMask]))
	r.cqes = unsafe.Slice((*uringCQE)(unsafe.Pointer(&r.cqMap[p.cqOff.cqes])), p.cqEntries)
	r.tail = atomic.LoadUint32(r.sqTail)
	if p.sqEntries < entries || p.cqEntries < entries {
		return fail(syscall.EINVAL)
	}
	return r, nil
}

// prepSendmsg fills submission entry i (of the batch being built) with a
// sendmsg of h on fd that does not wait.
func (r *uring) prepSendmsg(i uint32, fd int32, h *unix.Msghdr) {
	sqe := &r.sqes[i]
	*sqe = uringSQE{opcode: ioringOpSendmsg, fd: fd, addr: uint64(uintptr(unsafe.Pointer(h))), len: 1,
		msgFlags: unix.MSG_DONTWAIT, userData: uint64(i)}
	r.sqArray[r.tail&r.sqMask] = i
	r.tail++
}

// submitAll publishes the n entries prepared since the last call, submits
// them and reaps their completions: with MSG_DONTWAIT each completes
// within the io_uring_enter that submits it (EAGAIN is final, not
// retried later), so the buffers are free again on return.
func (r *uring) submitAll(n uint32) (sent, dropped int) {
	atomic.StoreUint32(r.sqTail, r.tail)
	left := n
	for try := 0; left > 0 && try < 8; try++ {
		done, _, errno := unix.RawSyscall6(sysIOURingEnter, uintptr(r.fd), uintptr(left), 0, 0, 0, 0)
		if errno == unix.EINTR || errno == unix.EAGAIN || errno == unix.EBUSY {
			continue
		}
		if errno != 0 {
			break
		}
		left -= uint32(done)
		if done == 0 {
			break
		}
	}
	if left > 0 {
		// the kernel took fewer than asked (it should not): undo the rest
		// so the ring stays consistent, and count them as dropped
		r.tail -= left
		atomic.StoreUint32(r.sqTail, r.tail)
		dropped += int(left)
	}
	want := n - left
	for got := uint32(0); got < want; {
		head, tail := atomic.LoadUint32(r.cqHead), atomic.LoadUint32(r.cqTail)
		if head == tail {
			// not completed inline (should not happen with MSG_DONTWAIT):
			// wait for it, the buffers are still the kernel's
			unix.Syscall6(sysIOURingEnter, uintptr(r.fd), 0, uintptr(want-got), ioringEnterGetevent, 0, 0)
			continue
		}
		for ; head != tail; head++ {
			if r.cqes[head&r.cqMask].res >= 0 {
				sent++
			} else {
				dropped++
			}
			got++
		}
		atomic.StoreUint32(r.cqHead, head)
	}
	return sent, dropped
}

func (r *uring) close() {
	if r.sqeMap != nil {
		unix.Munmap(r.sqeMap)
	}
	if r.cqMap != nil && !r.single {
		unix.Munmap(r.cqMap)
	}
	if r.sqMap != nil {
		unix.Munmap(r.sqMap)
	}
	unix.Close(r.fd)
}
