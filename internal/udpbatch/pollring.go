package udpbatch

import (
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// recvRing takes one datagram from each of a round's ready sockets with
// one io_uring_enter: recvmmsg batches the datagrams of one socket only,
// and a PBX leg's socket has one datagram per 20 ms, so the Poller's
// recvfrom per ready socket was a system call per packet.
//
// Every receive carries MSG_DONTWAIT, so it completes (or fails with
// EAGAIN) inside the io_uring_enter that submits it, as Multi's sends do:
// no receive is left with the kernel after a round, a socket may close
// and its port be bound again at once, and the buffers are the poller's
// again on return.
type recvRing struct {
	ring *uring
	// per slot, handed to the kernel by address: they stay where they
	// are for the ring's life
	hdrs  []unix.Msghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	bufs  [][]byte
	res   []int32 // per slot: the receive's result (bytes, or -errno)
	// socks[i] is the socket slot i reads, its read lock held from
	// prepare to the end of submit
	socks []*Polled
	n     uint32

	// Submits counts io_uring_enter calls made for receives, Received
	// the datagrams they took (tests, benchmarks).
	Submits, Received uint64
}

// NoURingRecv, from $EDGEBOX_NO_IO_URING_RECV, makes Pollers read with a
// recvfrom per ready socket while Multi still batches sends: the "before"
// of the batched receives in a benchmark run.
var NoURingRecv = os.Getenv("EDGEBOX_NO_IO_URING_RECV") != ""

// newRecvRing makes a ring of n slots of size bytes, or nil where io_uring
// is missing or switched off.
func newRecvRing(n, size int) *recvRing {
	if NoURing || NoURingRecv {
		return nil
	}
	r, err := newURing(uint32(n))
	if err != nil {
		return nil
	}
	rr := &recvRing{ring: r,
		hdrs: make([]unix.Msghdr, n), iovs: make([]unix.Iovec, n), names: make([]unix.RawSockaddrInet6, n),
		bufs: make([][]byte, n), res: make([]int32, n), socks: make([]*Polled, n)}
	slab := make([]byte, n*size)
	for i := range n {
		rr.bufs[i] = slab[i*size : (i+1)*size : (i+1)*size]
		rr.iovs[i].Base = &rr.bufs[i][0]
		rr.hdrs[i].Iov = &rr.iovs[i]
		rr.hdrs[i].Iovlen = 1
		rr.hdrs[i].Name = (*byte)(unsafe.Pointer(&rr.names[i]))
	}
	return rr
}

// full tells whether every slot is prepared.
func (r *recvRing) full() bool { return int(r.n) == len(r.bufs) }

// prepare queues a receive on s; false when s is closed. s's socket stays
// open (its read lock held) until submit.
func (r *recvRing) prepare(s *Polled) bool {
	u := s.sock
	u.mu.RLock()
	if u.fd < 0 {
		u.mu.RUnlock()
		return false
	}
	i := r.n
	r.iovs[i].SetLen(len(r.bufs[i]))
	r.hdrs[i].Namelen = uint32(unsafe.Sizeof(r.names[i]))
	r.hdrs[i].Flags = 0
	r.res[i] = 0
	r.ring.prepRecvmsg(i, int32(u.fd), &r.hdrs[i])
	r.socks[i] = s
	r.n++
	return true
}

// submit takes the prepared receives with one io_uring_enter and lets the
// sockets close again; the datagrams are then in slots 0..r.n-1 (res > 0).
func (r *recvRing) submit() {
	if r.n == 0 {
		return
	}
	r.ring.submitCollect(r.n, r.res)
	r.Submits++
	for i := range r.n {
		r.socks[i].sock.mu.RUnlock()
	}
}

// deliver hands each datagram of the last submit to its socket's
// callback (the socket's own slot: never another's) and empties the ring.
func (r *recvRing) deliver() {
	for i := range r.n {
		s := r.socks[i]
		r.socks[i] = nil
		if n := r.res[i]; n > 0 {
			r.Received++
			s.on(r.bufs[i][:n], addrPort(&r.names[i]))
		}
	}
	r.n = 0
}

func (r *recvRing) close() { r.ring.close() }

const ioringOpRecvmsg = 10

// prepRecvmsg fills submission entry i with a recvmsg into h on fd that
// does not wait.
func (r *uring) prepRecvmsg(i uint32, fd int32, h *unix.Msghdr) {
	sqe := &r.sqes[i]
	*sqe = uringSQE{opcode: ioringOpRecvmsg, fd: fd, addr: uint64(uintptr(unsafe.Pointer(h))), len: 1,
		msgFlags: unix.MSG_DONTWAIT, userData: uint64(i)}
	r.sqArray[r.tail&r.sqMask] = i
	r.tail++
}

// submitCollect is submitAll keeping each entry's result: res[userData]
// is what its operation returned (-EAGAIN: nothing was waiting).
func (r *uring) submitCollect(n uint32, res []int32) {
	atomic.StoreUint32(r.sqTail, r.tail)
	left := n
	for try := 0; left > 0 && try < 8; try++ {
		done, _, errno := unix.RawSyscall6(sysIOURingEnter, uintptr(r.fd), uintptr(left), 0, 0, 0, 0)
		if errno == unix.EINTR || errno == unix.EAGAIN || errno == unix.EBUSY {
			continue
		}
		if errno != 0 || done == 0 {
			break
		}
		left -= uint32(done)
	}
	if left > 0 {
		// not taken by the kernel (it should take all): undo them; their
		// results stay 0, nothing received
		r.tail -= left
		atomic.StoreUint32(r.sqTail, r.tail)
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
			c := &r.cqes[head&r.cqMask]
			if c.userData < uint64(len(res)) {
				res[c.userData] = c.res
			}
			got++
		}
		atomic.StoreUint32(r.cqHead, head)
	}
}
