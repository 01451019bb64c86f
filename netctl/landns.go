package netctl

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// The box answers DNS on its LAN address, which its DHCP server hands out
// as the clients' DNS server: its own names (boxNames, in LANDomain) with
// the LAN address, so an installer types http://edgebox.lan/ instead of an
// address; every other query is passed to the active uplink's DNS servers
// and the answer passed back, so the LAN keeps working across a failover
// from wired WAN to LTE without waiting for a lease renewal. Over UDP and
// TCP (landns_tcp.go: a truncated answer is asked again over TCP).

// boxNames are the names the box answers for on the LAN, besides its
// hostname, each also in LANDomain (edgebox.lan).
var boxNames = []string{"edgebox", "box"}

// maxDNSInFlight bounds the queries being forwarded at once: a flood from
// the LAN is dropped, not turned into unbounded goroutines. One client
// holds at most maxDNSInFlightPerClient of them: a host asking for names
// whose servers do not answer (each held up to 2 s per upstream) took
// all 64, and every other LAN host, the desk phones looking up their PBX
// included, got no answer (sixth review).
const (
	maxDNSInFlight          = 64
	maxDNSInFlightPerClient = 16
)

// lanDNS serves DNS on one LAN address.
type lanDNS struct {
	addr     netip.Addr
	conn     *net.UDPConn
	names    map[string]bool                // lower case, with trailing dot
	upstream func(name string) []netip.Addr // the servers to ask for name (landns_vpn.go)
	log      *slog.Logger
	slots    chan struct{}
	mu       sync.Mutex
	byClient map[netip.Addr]int // queries in flight per client
	wg       sync.WaitGroup
	done     chan struct{}

	// DNS over TCP (landns_tcp.go); the maps and tcpClosed under mu.
	tcp         *net.TCPListener
	tcpConns    map[net.Conn]netip.Addr
	tcpByClient map[netip.Addr]int
	tcpClosed   bool

	// search are the VPN's search domains a single-label name is asked
	// in (landns_short.go); the box's own forwarder only.
	search atomic.Pointer[[]string]
}

// boxNameSet is every name the box answers for: NAME and NAME.lan for
// boxNames and the hostname.
func boxNameSet(hostname string) map[string]bool {
	out := map[string]bool{}
	for _, n := range append([]string{hostname}, boxNames...) {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		if n == "" {
			continue
		}
		out[n+"."] = true
		out[n+"."+LANDomain+"."] = true
	}
	return out
}

func startLANDNS(addr netip.Addr, hostname string, upstream func(name string) []netip.Addr, log *slog.Logger) (*lanDNS, error) {
	return startLANDNSOn("", addr, hostname, upstream, log)
}

// startLANDNSOn serves DNS on addr for queries that arrive on the LAN
// port dev only (SO_BINDTODEVICE): with the weak host model a neighbour on
// an uplink can send to the LAN address too, and the forwarder must not
// become an open resolver for it when no firewall stops the packet. An
// empty dev binds to the address only (tests on loopback).
func startLANDNSOn(dev string, addr netip.Addr, hostname string, upstream func(name string) []netip.Addr, log *slog.Logger) (*lanDNS, error) {
	lc := net.ListenConfig{}
	if dev != "" {
		lc.Control = bindControl(dev)
	}
	pc, err := lc.ListenPacket(context.Background(), "udp4", netip.AddrPortFrom(addr, 53).String())
	if err != nil {
		return nil, err
	}
	conn := pc.(*net.UDPConn)
	d := &lanDNS{addr: addr, conn: conn, names: boxNameSet(hostname), upstream: upstream, log: log,
		slots: make(chan struct{}, maxDNSInFlight), byClient: map[netip.Addr]int{}, done: make(chan struct{})}
	if err := d.listenTCP(lc); err != nil {
		conn.Close()
		return nil, err
	}
	go d.serve()
	return d, nil
}

func (d *lanDNS) stop() {
	d.conn.Close()
	d.stopTCP()
	<-d.done
	d.wg.Wait()
}

func (d *lanDNS) serve() {
	defer close(d.done)
	buf := make([]byte, 1500)
	for {
		n, peer, err := d.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				d.log.Error("LAN DNS stopped", "err", err)
			}
			return
		}
		q := append([]byte(nil), buf[:n]...)
		if reply, ok := d.answerLocal(q); ok {
			if reply != nil {
				d.conn.WriteToUDPAddrPort(reply, peer)
			}
			continue
		}
		client := peer.Addr()
		if !d.take(client) {
			continue // too many in flight (this client's or all): it retries
		}
		d.wg.Add(1)
		go func() {
			defer func() { d.give(client); d.wg.Done() }()
			if reply := d.forward(q); reply != nil {
				d.conn.WriteToUDPAddrPort(reply, peer)
			}
		}()
	}
}

// take gives client a forwarding slot, if it and the whole have one left.
func (d *lanDNS) take(client netip.Addr) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.byClient[client] >= maxDNSInFlightPerClient {
		return false
	}
	select {
	case d.slots <- struct{}{}:
	default:
		return false
	}
	d.byClient[client]++
	return true
}

func (d *lanDNS) give(client netip.Addr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	<-d.slots
	if d.byClient[client]--; d.byClient[client] <= 0 {
		delete(d.byClient, client)
	}
}

// answerLocal answers queries for the box's own names. ok false: not
// ours, forward it. A reply of nil with ok: drop (not a query at all).
func (d *lanDNS) answerLocal(q []byte) (reply []byte, ok bool) {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil || h.Response {
		return nil, true
	}
	qs, err := p.AllQuestions()
	if err != nil {
		return nil, true
	}
	if len(qs) != 1 {
		return nil, false // not one of ours: forward as it is
	}
	question := qs[0]
	if !d.names[strings.ToLower(question.Name.String())] || question.Class != dnsmessage.ClassINET {
		return nil, false
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true,
		RecursionDesired: h.RecursionDesired, RecursionAvailable: true})
	b.StartQuestions()
	b.Question(question)
	b.StartAnswers()
	if question.Type == dnsmessage.TypeA || question.Type == dnsmessage.TypeALL {
		b.AResource(dnsmessage.ResourceHeader{Name: question.Name, Class: dnsmessage.ClassINET, TTL: 60},
			dnsmessage.AResource{A: d.addr.As4()})
	}
	out, err := b.Finish()
	if err != nil {
		return nil, true
	}
	return out, true
}

// forward asks the DNS servers for q's name (the uplink's, or the VPN's
// for its domains) in turn and returns the first answer, or SERVFAIL when
// none answers.
func (d *lanDNS) forward(q []byte) []byte {
	return d.forwardShort(q, exchangeUDP, 2*time.Second)
}

// forwardWith asks the servers for q's name in turn with exchange, each
// within timeout; nil when none answered.
func (d *lanDNS) forwardWith(q []byte, exchange exchangeFunc, timeout time.Duration) []byte {
	for _, up := range d.upstream(questionName(q)) {
		if up == d.addr {
			continue // an uplink DNS set to the box itself would loop
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		reply, err := exchange(ctx, up, q)
		cancel()
		if err == nil {
			return reply
		}
		d.log.Debug("LAN DNS: upstream did not answer", "server", up, "err", err)
	}
	return nil
}

// exchangeFunc asks one server one query (exchangeUDP, exchangeTCP).
type exchangeFunc func(ctx context.Context, server netip.Addr, q []byte) ([]byte, error)

// exchangeUDP asks server q under an ID of the box's own and takes only a
// reply with that ID to the same question, handing it back under q's ID:
// the LAN client's ID is often predictable (small devices count up), and
// with it someone flooding the uplink with answers had only the source
// port to hit.
func exchangeUDP(ctx context.Context, server netip.Addr, q []byte) ([]byte, error) {
	if len(q) < 12 {
		return nil, errors.New("DNS query too short")
	}
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "udp", netip.AddrPortFrom(server, 53).String())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	out := bytes.Clone(q)
	rand.Read(out[:2])
	if _, err := c.Write(out); err != nil {
		return nil, err
	}
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return nil, err
		}
		if n >= 12 && buf[0] == out[0] && buf[1] == out[1] && sameQuestion(q, buf[:n]) {
			reply := bytes.Clone(buf[:n])
			reply[0], reply[1] = q[0], q[1]
			return reply, nil
		}
	}
}

// sameQuestion reports whether reply answers query's first question.
func sameQuestion(query, reply []byte) bool {
	var pq, pr dnsmessage.Parser
	if _, err := pq.Start(query); err != nil {
		return false
	}
	qq, err := pq.Question()
	if err != nil {
		return false
	}
	if _, err := pr.Start(reply); err != nil {
		return false
	}
	rq, err := pr.Question()
	return err == nil && rq.Type == qq.Type && rq.Class == qq.Class && strings.EqualFold(rq.Name.String(), qq.Name.String())
}

// questionName is q's first question's name, lower case with the
// trailing dot, or "" when q has none.
func questionName(q []byte) string {
	var p dnsmessage.Parser
	if _, err := p.Start(q); err != nil {
		return ""
	}
	qq, err := p.Question()
	if err != nil {
		return ""
	}
	return strings.ToLower(qq.Name.String())
}

// servfail is the answer when no upstream server answered.
func servfail(q []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return nil
	}
	qs, _ := p.AllQuestions()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, RCode: dnsmessage.RCodeServerFailure,
		RecursionDesired: h.RecursionDesired, RecursionAvailable: true})
	b.StartQuestions()
	for _, x := range qs {
		b.Question(x)
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}
