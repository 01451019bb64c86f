package gateway

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
)

// ingressConn makes a UDP SIP socket that is not bound to an interface
// behave as a strong host. Linux delivers a packet for any of the box's
// addresses arriving on any link (a neighbour on the uplink can route the
// LAN address over it), and a wildcard socket replies from whichever
// address the route picks. Here a datagram is taken only when its
// destination is an address of the interface it arrived on, and the box
// answers each peer from the address that peer wrote to (IP_PKTINFO).
type ingressConn struct {
	*net.UDPConn
	p      *ipv4.PacketConn
	owner  *ifAddrs
	onDrop func(reason string)

	mu  sync.Mutex
	src map[netip.AddrPort]netip.Addr // peer -> local address it wrote to
}

// maxIngressPeers bounds the peer -> address table (a scan cannot grow it).
const maxIngressPeers = 4096

func newIngressConn(u *net.UDPConn, onDrop func(string)) (*ingressConn, error) {
	p := ipv4.NewPacketConn(u)
	if err := p.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true); err != nil {
		return nil, err
	}
	return &ingressConn{UDPConn: u, p: p, owner: &ifAddrs{}, onDrop: onDrop, src: map[netip.AddrPort]netip.Addr{}}, nil
}

// ReadFrom reads with the standard library's recvmsg and parses the
// packet info itself: x/net/ipv4's ReadFrom (through x/sys/unix) asks the
// socket its protocol with a getsockopt on every datagram, to tell an
// L2TP socket's address from a UDP one, and allocates its message
// buffers anew each time: a system call more for each SIP message.
func (c *ingressConn) ReadFrom(b []byte) (int, net.Addr, error) {
	var oob [64]byte // IP_PKTINFO is 28 bytes with its header
	for {
		n, oobn, _, from, err := c.UDPConn.ReadMsgUDPAddrPort(b, oob[:])
		if err != nil {
			return n, nil, err
		}
		addr := net.UDPAddrFromAddrPort(from)
		if oobn == 0 {
			return n, addr, nil
		}
		var cm ipv4.ControlMessage
		if cm.Parse(oob[:oobn]) != nil {
			continue // its interface cannot be checked (the kernel's own message: not seen)
		}
		dst, ok := netip.AddrFromSlice(cm.Dst)
		if !ok {
			return n, addr, nil
		}
		dst = dst.Unmap()
		if !c.owner.owns(cm.IfIndex, dst) {
			if c.onDrop != nil {
				c.onDrop("wrong_interface")
			}
			continue
		}
		c.mu.Lock()
		if len(c.src) >= maxIngressPeers {
			clear(c.src)
		}
		c.src[netip.AddrPortFrom(from.Addr().Unmap(), from.Port())] = dst
		c.mu.Unlock()
		return n, addr, nil
	}
}

// WriteTo sends an answer (a SIP response) from the address its peer
// wrote to. A request the box makes (a REGISTER, an INVITE, a BYE) leaves
// from the routed address: the one the peer last wrote to may be an
// uplink's that is gone (a new DHCP lease, the WAN cable pulled), and the
// trunk re-registers from the new one (trunkContactFollowsUplink). An
// answer whose address can no longer send goes out routed too.
func (c *ingressConn) WriteTo(b []byte, to net.Addr) (int, error) {
	if ua, ok := to.(*net.UDPAddr); ok && bytes.HasPrefix(b, sipResponsePrefix) {
		// sipgo's addresses hold IPv4 in 16 bytes (net.ParseIP, As16),
		// the reads' in 4: unmapped, both are the same key
		ap := ua.AddrPort()
		c.mu.Lock()
		src, known := c.src[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())]
		c.mu.Unlock()
		if known {
			n, err := c.p.WriteTo(b, &ipv4.ControlMessage{Src: src.AsSlice()}, to)
			if err == nil || !sourceGone(err) {
				return n, err
			}
		}
	}
	return c.UDPConn.WriteTo(b, to)
}

// sipResponsePrefix starts every SIP response's status line.
var sipResponsePrefix = []byte("SIP/2.0 ")

// sourceGone says whether a send failed for its source address: no
// longer the box's, or no route from it.
func sourceGone(err error) bool {
	return errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EHOSTUNREACH)
}

// ifAddrs answers "is this address one of that interface's", from a copy
// of the interfaces' addresses refreshed when it is older than a second
// and does not know the answer (DHCP and the VPN change them).
type ifAddrs struct {
	mu    sync.Mutex
	read  time.Time
	byIdx map[int][]netip.Addr
	lo    map[int]bool
}

func (a *ifAddrs) owns(idx int, ip netip.Addr) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lookup(idx, ip) {
		return true
	}
	if time.Since(a.read) < time.Second {
		return false
	}
	a.refresh()
	return a.lookup(idx, ip)
}

func (a *ifAddrs) lookup(idx int, ip netip.Addr) bool {
	// the box's own traffic to any of its addresses arrives on loopback
	if a.lo[idx] {
		return true
	}
	for _, x := range a.byIdx[idx] {
		if x == ip {
			return true
		}
	}
	return false
}

func (a *ifAddrs) refresh() {
	a.read = time.Now()
	a.byIdx, a.lo = map[int][]netip.Addr{}, map[int]bool{}
	ifs, err := net.Interfaces()
	if err != nil {
		return
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback != 0 {
			a.lo[ifi.Index] = true
		}
		addrs, _ := ifi.Addrs()
		for _, ad := range addrs {
			if pn, ok := ad.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(pn.IP); ok {
					a.byIdx[ifi.Index] = append(a.byIdx[ifi.Index], ip.Unmap())
				}
			}
		}
	}
}
