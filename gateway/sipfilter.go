package gateway

import (
	"bytes"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// sipFilter decides, before a message is parsed, whether the box answers
// it at all: known scanners are dropped silently (an answer only tells them
// a SIP stack lives here), sources other than the PBX are rate limited.
type sipFilter struct {
	allowed atomic.Pointer[[]netip.Prefix]
	limit   *rateLimiter
	onDrop  func(reason string)
	// onRefuse counts requests from strangers answered with 403
	onRefuse func()
	// health is the box's OPTIONS answer (drain, max_calls, trunk)
	health func() (int, string)
	// strangerConns are the TCP/TLS connections of strangers open now,
	// from the internet [0] and from inside (LAN, VPN: ingressclass.go) [1]
	strangerConns [2]atomic.Int32
}

// scannerAgents are User-Agent (or From) substrings of SIP scanners and
// toll-fraud tools, lower case.
var scannerAgents = [][]byte{
	[]byte("friendly-scanner"), []byte("sipvicious"), []byte("sipcli"), []byte("sip-scan"),
	[]byte("sipscan"), []byte("sundayddr"), []byte("iwar"), []byte("vaxsipuseragent"),
	[]byte("pplsip"), []byte("smap"), []byte("sipsak-scan"), []byte("voipbuster"),
}

// isScanner looks for a scanner signature in the headers of a raw message.
func isScanner(msg []byte) bool {
	head := msg
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		head = msg[:i]
	}
	if len(head) > 8192 {
		head = head[:8192]
	}
	for _, line := range bytes.Split(head, []byte("\n")) {
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		name := bytes.ToLower(bytes.TrimSpace(line[:colon]))
		v := line[colon+1:]
		switch {
		case bytes.Equal(name, []byte("user-agent")):
		case bytes.Equal(name, []byte("from")) || bytes.Equal(name, []byte("f")):
			// the display name and address only: the tag is random, and
			// one in some ten thousand spells "iwar" or "smap"
			v = fromWithoutParams(v)
		default:
			continue
		}
		v = bytes.ToLower(v)
		for _, s := range scannerAgents {
			if bytes.Contains(v, s) {
				return true
			}
		}
	}
	return false
}

// fromWithoutParams is a From header value up to its parameters: through
// the closing '>' of a name-addr, else up to the first ';'.
func fromWithoutParams(v []byte) []byte {
	if i := bytes.IndexByte(v, '>'); i >= 0 {
		return v[:i+1]
	}
	if i := bytes.IndexByte(v, ';'); i >= 0 {
		return v[:i]
	}
	return v
}

func (f *sipFilter) setAllowed(p []netip.Prefix) { f.allowed.Store(&p) }

// allowMore adds the addresses a PBX's name resolves to now (resolved
// again at each registration) to those allowed.
func (f *sipFilter) allowMore(p []netip.Prefix) {
	for {
		old := f.allowed.Load()
		next := append([]netip.Prefix(nil), *old...)
		for _, n := range p {
			if !slices.Contains(next, n) {
				next = append(next, n)
			}
		}
		if len(next) == len(*old) || f.allowed.CompareAndSwap(old, &next) {
			return
		}
	}
}

// fromPBX says whether ip may send new requests.
func (f *sipFilter) fromPBX(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range *f.allowed.Load() {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// admit is the pre-parse decision for one datagram or connection.
func (f *sipFilter) admit(ip netip.Addr, msg []byte) bool {
	// the PBX is trusted whatever its messages look like: a false match
	// there loses a call (its answers never reach the transaction)
	if f.fromPBX(ip) {
		return true
	}
	if msg != nil && isScanner(msg) {
		f.drop("scanner")
		return false
	}
	if !f.limit.allow(ip.Unmap()) {
		f.drop("rate_limited")
		return false
	}
	return true
}

func (f *sipFilter) drop(reason string) {
	if f.onDrop != nil {
		f.onDrop(reason)
	}
}

// filteredPacketConn applies the filter to a UDP listener.
type filteredPacketConn struct {
	net.PacketConn
	f *sipFilter
}

func (c *filteredPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil {
			return n, addr, err
		}
		ua, ok := addr.(*net.UDPAddr)
		if !ok {
			return n, addr, nil
		}
		ip, _ := netip.AddrFromSlice(ua.IP)
		if !c.f.admit(ip, b[:n]) {
			continue
		}
		// A stranger's request gets one answer, made here from the
		// datagram alone, and reaches no transaction: a kept INVITE
		// transaction re-sent its 403 eleven times over 32 s to whatever
		// address the datagram claimed (a 9x amplifier for spoofers).
		if !c.f.fromPBX(ip.Unmap()) && !bytes.HasPrefix(b[:n], []byte("SIP/")) {
			if ans := c.f.strangerAnswer(b[:n]); ans != nil {
				c.PacketConn.WriteTo(ans, addr)
			}
			continue
		}
		return mendStatusLine(b, n), addr, nil
	}
}

// strangerAnswer is the stateless answer to a request from outside the
// PBX's addresses: 200 to OPTIONS (monitoring probes), nothing to ACK or
// to what does not parse, 403 to anything else.
func (f *sipFilter) strangerAnswer(msg []byte) []byte {
	m, err := sip.ParseMessage(msg)
	if err != nil {
		return nil
	}
	req, ok := m.(*sip.Request)
	if !ok || req.Via() == nil || req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil {
		return nil
	}
	var res *sip.Response
	switch req.Method {
	case sip.ACK:
		return nil
	case sip.OPTIONS:
		code, reason := 200, "OK"
		if f.health != nil {
			code, reason = f.health()
		}
		res = sip.NewResponseFromRequest(req, code, reason, nil)
		res.AppendHeader(sip.NewHeader("Allow", allowedMethods))
		res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	default:
		if f.onRefuse != nil {
			f.onRefuse()
		}
		res = sip.NewResponseFromRequest(req, 403, "Forbidden", nil)
	}
	if res.To() != nil && !res.To().Params.Has("tag") {
		res.To().Params.Add("tag", sip.GenerateTagN(16))
	}
	ans := []byte(res.String())
	if len(ans) > len(msg) && req.Method == sip.OPTIONS {
		// the optional headers first (RFC 3261 11.2: SHOULD, not MUST)
		res.RemoveHeader("Allow")
		res.RemoveHeader("Accept")
		ans = []byte(res.String())
	}
	if len(ans) > len(msg) {
		// The source of a UDP request is not proven: an answer larger
		// than its request makes the box an amplifier toward whatever
		// address the sender wrote (compact header names and a To tag
		// grew 105 bytes to 300). Real SIP requests carry Max-Forwards,
		// Contact and more, and fit; only such minimal ones go
		// unanswered. Fifth review.
		f.drop("larger_than_request")
		return nil
	}
	return ans
}

// filteredListener applies the source part of the filter to TCP/TLS.
type filteredListener struct {
	net.Listener
	f *sipFilter
}

func (l *filteredListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			ip, _ := netip.AddrFromSlice(ta.IP)
			if !l.f.admit(ip, nil) {
				c.Close()
				continue
			}
			if !l.f.fromPBX(ip) {
				// At most maxStrangerConns at once, whoever they come
				// from: the rate limit bounds one source's (about 40
				// within strangerTCPLife), not a botnet's or an IPv6
				// /48's, and each holds a descriptor of the gateway,
				// which the calls need. Fifth review.
				// Inside has a total of its own: the internet cannot
				// fill it (sixth review).
				class, limit := 0, int32(maxStrangerConns)
				if insideSource(ip.Unmap()) {
					class, limit = 1, maxStrangerConnsInside
				}
				if l.f.strangerConns[class].Add(1) > limit {
					l.f.strangerConns[class].Add(-1)
					l.f.drop("too_many_connections")
					c.Close()
					continue
				}
				c = &strangerConn{Conn: c, open: &l.f.strangerConns[class]}
				// The stack sets no deadlines of its own: without this a
				// stranger's connection (or TLS handshake) lasts for ever.
				c.SetDeadline(time.Now().Add(strangerTCPLife))
			}
		}
		return c, nil
	}
}

// strangerTCPLife is how long a SIP/TCP or TLS connection from a source
// other than the PBX may stay, whatever it sends: enough for a request and
// its answer. Only the PBX keeps connections; the strangers' rate limit
// bounds how fast new ones come, this how many are open.
var strangerTCPLife = 30 * time.Second

// maxStrangerConns bounds the SIP/TCP and TLS connections from sources
// other than the PBX open at once, from the internet and from inside.
const (
	maxStrangerConns       = 256
	maxStrangerConnsInside = 64
)

// strangerConn gives its place back when it closes.
type strangerConn struct {
	net.Conn
	open *atomic.Int32
	once sync.Once
}

func (c *strangerConn) Close() error {
	c.once.Do(func() { c.open.Add(-1) })
	return c.Conn.Close()
}
