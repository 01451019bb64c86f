package gateway

import (
	"net/netip"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"edgebox/internal/dtlssrtp"
	"edgebox/internal/udpbatch"

	"golang.org/x/sys/unix"
)

// pbxPoller reads every PBX leg's RTP socket on one goroutine. A goroutine
// per socket costs a park and a wake-up per packet; here one epoll set
// holds the sockets and is itself waited on through Go's netpoller, so a
// busy box handles the packets of many calls per wake-up. The goroutine
// runs while at least one leg is registered.
type pbxPoller struct {
	mu     sync.Mutex
	ep     *os.File // the epoll set; nil while no leg is registered
	legs   map[int32]*polledSocket
	events []unix.EpollEvent
	nready int
	wait   func(fd uintptr) bool // p.waitEvents, bound once
	// buf receives every socket's packets: the sockets are read one at a
	// time and what the callbacks send on is copied (sealTo, relay)
	buf []byte

	// browser-bound packets of a round, sent together (sendmmsg) from
	// the ICE socket they belong to
	out     *udpbatch.Batch
	outConn *dtlssrtp.Conn
}

// polledSocket is one registered socket and what to do with its packets.
type polledSocket struct {
	fd     int32
	rc     syscall.RawConn
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

func newPBXPoller() *pbxPoller {
	p := &pbxPoller{legs: map[int32]*polledSocket{}, events: make([]unix.EpollEvent, maxEvents),
		out: udpbatch.New(64, 1500+srtpOverhead), buf: make([]byte, 1500)}
	p.wait = p.waitEvents
	return p
}

// add reads conn's packets into on (which runs on the poller goroutine,
// must not block and must not keep pkt) until remove.
func (p *pbxPoller) add(conn syscall.Conn, on func(pkt []byte, from netip.AddrPort)) (*polledSocket, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	s := &polledSocket{rc: rc, on: on, buf: p.buf}
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
	p.legs[s.fd] = s
	return s, nil
}

// remove stops reading s; on is not called again once remove returns, so
// the socket may then be closed.
func (p *pbxPoller) remove(s *polledSocket) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if p.legs[s.fd] == s {
		delete(p.legs, s.fd)
		unix.EpollCtl(int(p.ep.Fd()), unix.EPOLL_CTL_DEL, int(s.fd), nil)
	}
	if len(p.legs) == 0 && p.ep != nil {
		p.ep.Close() // ends the goroutine
		p.ep = nil
	}
}

func (p *pbxPoller) startLocked() error {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return err
	}
	// non-blocking: os.NewFile puts the epoll fd in Go's netpoller
	ep := os.NewFile(uintptr(fd), "pbx-rtp-epoll")
	rc, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		return err
	}
	p.ep = ep
	go p.run(ep, rc)
	return nil
}

func (p *pbxPoller) run(ep *os.File, rc syscall.RawConn) {
	for {
		if err := rc.Read(p.wait); err != nil {
			return // closed: no legs left
		}
		p.mu.Lock()
		if p.ep != ep {
			p.mu.Unlock()
			return
		}
		for _, ev := range p.events[:p.nready] {
			if s := p.legs[ev.Fd]; s != nil {
				// one packet per socket and round: the set is level
				// triggered, so a socket with more is ready again
				s.rc.Read(s.read)
				if s.n > 0 {
					s.on(s.buf[:s.n], s.from)
				}
			}
		}
		p.flush()
		p.mu.Unlock()
	}
}

// srtpOverhead is room for SRTP's authentication tag (and MKI).
const srtpOverhead = 64

// sealTo queues pkt, encrypted by s, for sending from conn at the end of
// the round (poller goroutine only).
func (p *pbxPoller) sealTo(conn *dtlssrtp.Conn, s *dtlssrtp.Session, pkt []byte) error {
	if len(pkt) > 1500 {
		_, err := s.WriteRTP(pkt)
		return err
	}
	if p.outConn != conn {
		p.flush()
		p.outConn = conn
	}
	slot := p.out.Slot()
	if slot == nil {
		p.flush()
		slot = p.out.Slot()
	}
	enc, to, err := s.Seal(slot, pkt)
	if err != nil {
		return err
	}
	p.out.Add(len(enc), to)
	return nil
}

// flush sends what the round queued.
func (p *pbxPoller) flush() {
	if p.out.N > 0 && p.outConn != nil {
		p.outConn.Send(p.out)
	}
	p.out.N = 0
}

// waitEvents collects the ready sockets without blocking the thread;
// false makes the netpoller wait for the epoll set to become readable.
func (p *pbxPoller) waitEvents(fd uintptr) bool {
	n := udpbatch.PollReady(fd, p.events)
	if n <= 0 {
		p.nready = 0
		return n < 0 // closed: let the read fail
	}
	p.nready = n
	return true
}

// readOne takes one datagram without waiting (recvfrom with a reused
// address buffer: nothing allocated per packet).
func (s *polledSocket) readOne(fd uintptr) bool {
	salen := uint32(unsafe.Sizeof(s.sa))
	n, _, errno := unix.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&s.buf[0])), uintptr(len(s.buf)),
		syscall.MSG_DONTWAIT, uintptr(unsafe.Pointer(&s.sa)), uintptr(unsafe.Pointer(&salen)))
	if errno != 0 {
		s.n = 0
		return true
	}
	s.n = int(n)
	s.from = udpbatch.AddrPort(&s.sa)
	return true
}
