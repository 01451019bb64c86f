package udpbatch

import (
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Poller reads many UDP sockets on one goroutine. A goroutine per socket
// costs a park and a wake-up per packet; here one epoll set holds the
// sockets and is itself waited on through Go's netpoller, so a busy
// process handles the packets of many sockets per wake-up. The goroutine
// runs while at least one socket is registered, and for linger after the
// last left: a call's PBX leg is often its poller's only socket, and
// making the epoll set, the io_uring ring (its 384 KB of buffers) and
// the goroutine again for the next call cost every set-up at low rates.
type Poller struct {
	mu     sync.Mutex
	ep     *os.File // the epoll set; nil while no socket is registered
	socks  map[int32]*Polled
	events []unix.EpollEvent
	nready int
	wait   func(fd uintptr) bool // p.waitEvents, bound once
	// buf receives every socket's packets: the sockets are read one at
	// a time and the callbacks do not keep what they are given
	buf []byte
	// endRound runs after each round's packets, on the goroutine
	endRound func()
	// rx takes a round's datagrams with one io_uring_enter (nil: a
	// recvfrom per ready socket); made with the goroutine
	rx     *recvRing
	noRing bool // never make rx (tests of the fallback)
	size   int
	// linger keeps the set after its last socket left (0: closed at
	// once); idle is the timer that then closes it
	linger time.Duration
	idle   *time.Timer
}

// pollerLinger is how long a poller keeps its epoll set, ring and
// goroutine with no socket: longer than the gap between calls on a box
// that carries a few, short enough that an idle box holds none.
const pollerLinger = 10 * time.Second

// Polled is one registered socket and what to do with its packets.
type Polled struct {
	fd     int32
	rc     syscall.RawConn
	sock   *Socket // the socket when it is one of ours (rx reads it)
	on     func(pkt []byte, from netip.AddrPort)
	buf    []byte // the poller's
	sa     unix.RawSockaddrInet6
	read   func(fd uintptr) bool // s.readOne, bound once
	n      int
	from   netip.AddrPort
	closed bool
}

// maxEvents bounds the sockets handled per wake-up.
const maxEvents = 256

// NewPoller makes a poller for datagrams of up to size bytes; endRound,
// if not nil, runs after the packets of each wake-up were handled (to
// send what they queued, say).
func NewPoller(size int, endRound func()) *Poller {
	p := &Poller{socks: map[int32]*Polled{}, events: make([]unix.EpollEvent, maxEvents),
		buf: make([]byte, size), endRound: endRound, size: size, linger: pollerLinger}
	p.wait = p.waitEvents
	return p
}

// Add reads conn's packets into on until Remove. on runs on the poller's
// goroutine: it must not block and must not keep pkt.
func (p *Poller) Add(conn syscall.Conn, on func(pkt []byte, from netip.AddrPort)) (*Polled, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	s := &Polled{rc: rc, on: on, buf: p.buf}
	s.sock, _ = conn.(*Socket)
	s.read = s.readOne
	if err := rc.Control(func(fd uintptr) { s.fd = int32(fd) }); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ep == nil {
		if err := p.startLocked(); err != nil {
			return nil, err
		}
	}
	epfd := int(p.ep.Fd())
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, int(s.fd), &unix.EpollEvent{Events: unix.EPOLLIN, Fd: s.fd}); err != nil {
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	p.socks[s.fd] = s
	return s, nil
}

// Remove stops reading s; on is not called again once Remove returns, so
// the socket may then be closed.
func (p *Poller) Remove(s *Polled) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if p.socks[s.fd] == s {
		delete(p.socks, s.fd)
		unix.EpollCtl(int(p.ep.Fd()), unix.EPOLL_CTL_DEL, int(s.fd), nil)
	}
	if len(p.socks) == 0 && p.ep != nil {
		switch {
		case p.linger <= 0:
			p.closeLocked()
		case p.idle == nil:
			p.idle = time.AfterFunc(p.linger, p.closeIfIdle)
		default:
			p.idle.Reset(p.linger)
		}
	}
}

// closeIfIdle closes the set when no socket came back during linger.
func (p *Poller) closeIfIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.socks) == 0 && p.ep != nil {
		p.closeLocked()
	}
}

func (p *Poller) closeLocked() {
	p.ep.Close() // ends the goroutine
	p.ep = nil
	if p.rx != nil {
		p.rx.close() // no receive is left with it (MSG_DONTWAIT)
		p.rx = nil
	}
}

func (p *Poller) startLocked() error {
	ep, rc, err := newEpollSet("udp-poller-epoll")
	if err != nil {
		return err
	}
	p.ep = ep
	if !p.noRing {
		p.rx = newRecvRing(maxEvents, p.size)
	}
	go p.run(ep, rc)
	return nil
}

func (p *Poller) run(ep *os.File, rc syscall.RawConn) {
	for {
		if err := rc.Read(p.wait); err != nil {
			return // closed: no sockets left
		}
		p.mu.Lock()
		if p.ep != ep {
			p.mu.Unlock()
			return
		}
		if p.rx != nil {
			p.readRing()
		} else {
			for _, ev := range p.events[:p.nready] {
				if s := p.socks[ev.Fd]; s != nil {
					p.readOne(s)
				}
			}
		}
		if p.endRound != nil {
			p.endRound()
		}
		p.mu.Unlock()
	}
}

// readOne hands one datagram of s to its callback, read with recvfrom:
// one packet per socket and round, the set is level triggered, so a
// socket with more is ready again.
func (p *Poller) readOne(s *Polled) {
	s.rc.Read(s.read)
	if s.n > 0 {
		s.on(s.buf[:s.n], s.from)
	}
}

// readRing takes one datagram from each ready socket of ours with one
// io_uring_enter (more when more than the ring's slots are ready), then
// hands them to the callbacks, each its own socket's.
func (p *Poller) readRing() {
	for _, ev := range p.events[:p.nready] {
		s := p.socks[ev.Fd]
		switch {
		case s == nil:
		case s.sock == nil:
			p.readOne(s) // not a Socket: its own RawConn reads it
		default:
			if p.rx.full() {
				p.rx.submit()
				p.rx.deliver()
			}
			p.rx.prepare(s)
		}
	}
	p.rx.submit()
	p.rx.deliver()
}

// Batched tells whether the poller reads with io_uring (known once a
// socket was added).
func (p *Poller) Batched() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rx != nil
}

// waitEvents collects the ready sockets without blocking the thread;
// false makes the netpoller wait for the epoll set to become readable.
func (p *Poller) waitEvents(fd uintptr) bool {
	n := pollReady(fd, p.events)
	if n <= 0 {
		p.nready = 0
		return n < 0 // closed: let the read fail
	}
	p.nready = n
	return true
}

// readOne takes one datagram without waiting (recvfrom with a reused
// address buffer: nothing allocated per packet).
func (s *Polled) readOne(fd uintptr) bool {
	salen := uint32(unsafe.Sizeof(s.sa))
	n, _, errno := unix.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&s.buf[0])), uintptr(len(s.buf)),
		syscall.MSG_DONTWAIT, uintptr(unsafe.Pointer(&s.sa)), uintptr(unsafe.Pointer(&salen)))
	if errno != 0 {
		s.n = 0
		return true
	}
	s.n = int(n)
	s.from = addrPort(&s.sa)
	return true
}
