package web

import (
	"context"
	"edgebox/api/gatewayapi"
	"edgebox/api/netapi"
	"edgebox/internal/lazyregexp"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// Diagnostics run in Go, never through a shell or an external program:
// ping and traceroute send ICMP themselves, DNS uses the resolver, and AT
// commands go to netctl, which owns the modem's port. Arguments are
// validated strictly before anything is sent.

// DiagRequest is the body of POST /api/v1/diag.
type DiagRequest struct {
	Tool   string `json:"tool"`   // ping, dns, traceroute, internet, sip, at
	Target string `json:"target"` // host name or IP; https:// URL for "internet"; AT command for "at"; none for "sip"
}

// DiagResult is a diagnostic's output, line by line, for people.
type DiagResult struct {
	Tool  string   `json:"tool"`
	Lines []string `json:"lines"`
}

var hostName = lazyregexp.New(`^(?i)[a-z0-9]([a-z0-9-]{0,62})(\.[a-z0-9]([a-z0-9-]{0,62}))*\.?$`)

func validTarget(t string) error {
	if t == "" {
		return errors.New("target: give a host name or an IP address")
	}
	if len(t) > 253 {
		return errors.New("target: too long for a host name")
	}
	if _, err := netip.ParseAddr(t); err == nil {
		return nil
	}
	if strings.HasPrefix(t, "-") || !hostName.MatchString(t) {
		return fmt.Errorf("target: %q is not a host name or IP address", t)
	}
	return nil
}

// validAT checks only the shape of an AT command line; what may be sent
// (and the unsafe flag) is decided by netctl, which owns the modem, for
// every caller alike.
func validAT(c string) error {
	if len(c) < 2 || !strings.EqualFold(c[:2], "AT") || len(c) > 512 || strings.IndexFunc(c, func(r rune) bool { return r < 0x20 || r >= 0x7f }) >= 0 {
		return errors.New("target: an AT command is one line starting with AT, printable characters only, like AT+CSQ")
	}
	return nil
}

// diagBody is a DiagRequest with the AT passthrough's unsafe flag, which
// is passed on only for admin scope.
type diagBody struct {
	DiagRequest
	Unsafe bool `json:"unsafe,omitempty"`
}

func (s *Server) handleDiag(w http.ResponseWriter, r *http.Request) {
	var body diagBody
	if err := readJSONLimit(w, r, &body, 4096); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	req := body.DiagRequest
	req.Target = strings.TrimSpace(req.Target)
	wait := 40 * time.Second
	if req.Tool == "at" {
		wait = atWait // a network scan
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	var lines []string
	var err error
	switch req.Tool {
	case "ping", "traceroute", "dns":
		if err := validTarget(req.Target); err != nil {
			apiError(w, http.StatusBadRequest, err)
			return
		}
		switch req.Tool {
		case "ping":
			lines, err = ping(ctx, req.Target, 4)
		case "traceroute":
			lines, err = traceroute(ctx, req.Target, 20)
		case "dns":
			lines, err = lookup(ctx, req.Target)
		}
	case "internet":
		u, err := validTestURL(req.Target)
		if err != nil {
			apiError(w, http.StatusBadRequest, err)
			return
		}
		lines = internetTest(ctx, u, internetTransportFor(r)) // public addresses only below admin: diag_internet_guard.go
	case "sip":
		lines, err = sipTest(ctx)
	case "at":
		if err := validAT(req.Target); err != nil {
			apiError(w, http.StatusBadRequest, err)
			return
		}
		// The command may hold a PIN: netctl logs it redacted (the audit).
		unsafe := body.Unsafe && ScopeOf(r) == ScopeAdmin
		s.log.Info("AT command from the admin, sent to netctl", "from", clientAddr(r), "unsafe", unsafe)
		lines, err = atCommandVia(ctx, req.Target, unsafe)
	default:
		apiError(w, http.StatusBadRequest, errors.New("tool: choose ping, dns, traceroute, internet, sip or at"))
		return
	}
	if err != nil {
		lines = append(lines, "error: "+err.Error())
	}
	apiJSON(w, http.StatusOK, DiagResult{Tool: req.Tool, Lines: lines})
}

// sipTest asks the gateway to send an OPTIONS to the configured PBX and
// shows its answer and round trip, or why there is none.
func sipTest(ctx context.Context) ([]string, error) {
	if socketAbsent("gateway") {
		return nil, errors.New("the gateway service is not available: the PBX cannot be asked")
	}
	c, err := gatewayapi.NewClient().PBXCheck(ctx)
	if err != nil {
		return nil, err
	}
	lines := []string{}
	if c.PBX != "" {
		lines = append(lines, "SIP OPTIONS to "+c.PBX)
	}
	if c.Answer != "" {
		a := "answer: " + c.Answer
		if c.Server != "" {
			a += " from " + c.Server
		}
		lines = append(lines, a, fmt.Sprintf("round trip: %.1f ms", c.RTTMillis))
	}
	if c.OK {
		return append(lines, "the PBX answers: SIP reaches it"), nil
	}
	return append(lines, c.Kind+": "+c.Message), nil
}

func atCommandVia(ctx context.Context, cmd string, unsafe bool) ([]string, error) {
	if socketAbsent("netctl") {
		return nil, errors.New("network service not available: the modem cannot be reached")
	}
	c := netapi.NewClient()
	c.HTTP.Timeout = 0 // ctx (atWait) bounds it, not the local API's 30 s
	out, err := c.ATRequest(ctx, netapi.ATRequest{Command: cmd, Unsafe: unsafe})
	return out.Lines, err
}

// atWait bounds an AT command from the diagnostics page: netctl waits as
// long as the card may take for the command (a network scan, AT+COPS=?,
// up to 180 s), and the page waited 40 s, the local API 30 s: an
// installer's scan came back as a timeout while the card went on.
const atWait = 190 * time.Second

func lookup(ctx context.Context, host string) ([]string, error) {
	var res net.Resolver
	start := time.Now()
	addrs, err := res.LookupHost(ctx, host)
	if err != nil {
		return nil, err
	}
	lines := []string{fmt.Sprintf("%s resolves to (%s):", host, time.Since(start).Round(time.Millisecond))}
	for _, a := range addrs {
		lines = append(lines, "  "+a)
	}
	return lines, nil
}

func resolve4(ctx context.Context, target string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(target); err == nil {
		if !a.Unmap().Is4() {
			return netip.Addr{}, errors.New("only IPv4 targets are supported")
		}
		return a.Unmap(), nil
	}
	var res net.Resolver
	ips, err := res.LookupNetIP(ctx, "ip4", target)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(ips) == 0 {
		return netip.Addr{}, errors.New("no IPv4 address")
	}
	return ips[0].Unmap(), nil
}

// openICMP is icmpConn; tests open it in a network namespace of theirs.
var openICMP = icmpConn

// icmpConn opens a raw ICMP socket (root) or, failing that, an
// unprivileged datagram ICMP socket.
func icmpConn() (*icmp.PacketConn, bool, error) {
	if c, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0"); err == nil {
		return c, true, nil
	}
	c, err := icmp.ListenPacket("udp4", "0.0.0.0")
	return c, false, err
}

// answer is what came back for one echo request.
type answer int

const (
	echoReply   answer = iota // the target itself answered
	timeExceded               // a router on the way dropped it (TTL)
	unreachable               // a router, or the box itself, says the target cannot be reached
)

// probe sends one echo request with the given TTL and waits for the answer:
// an echo reply from dst, a time-exceeded from a router on the way, or a
// destination-unreachable (often from the box's own address, when the
// next hop does not answer ARP or the route rejects: that is no reply).
func probe(c *icmp.PacketConn, raw bool, dst netip.Addr, id, seq, ttl int, timeout time.Duration) (from net.Addr, rtt time.Duration, kind answer, err error) {
	if err := c.IPv4PacketConn().SetTTL(ttl); err != nil {
		return nil, 0, 0, err
	}
	msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("edgebox-diag")}}
	b, _ := msg.Marshal(nil)
	var to net.Addr = &net.IPAddr{IP: dst.AsSlice()}
	if !raw {
		to = &net.UDPAddr{IP: dst.AsSlice()}
	}
	start := time.Now()
	if _, err := c.WriteTo(b, to); err != nil {
		return nil, 0, 0, err
	}
	deadline := start.Add(timeout)
	c.SetReadDeadline(deadline)
	buf := make([]byte, 1500)
	for time.Now().Before(deadline) {
		n, peer, err := c.ReadFrom(buf)
		if err != nil {
			return nil, 0, 0, err
		}
		m, err := icmp.ParseMessage(1, buf[:n])
		if err != nil {
			continue
		}
		switch m.Type {
		case ipv4.ICMPTypeEchoReply:
			// A raw socket sees every echo reply to the box: only dst's counts.
			e, ok := m.Body.(*icmp.Echo)
			if ok && e.Seq == seq && (!raw || e.ID == id) && addrOf(peer) == dst {
				return peer, time.Since(start), echoReply, nil
			}
		case ipv4.ICMPTypeTimeExceeded, ipv4.ICMPTypeDestinationUnreachable:
			var data []byte
			switch bd := m.Body.(type) {
			case *icmp.TimeExceeded:
				data = bd.Data
			case *icmp.DstUnreach:
				data = bd.Data
			}
			// The quoted packet: IPv4 header, then our echo request.
			if len(data) >= 28 {
				hl := int(data[0]&0x0f) * 4
				if len(data) >= hl+8 && int(data[hl+6])<<8|int(data[hl+7]) == seq {
					kind := timeExceded
					if m.Type == ipv4.ICMPTypeDestinationUnreachable {
						kind = unreachable
					}
					return peer, time.Since(start), kind, nil
				}
			}
		}
	}
	return nil, 0, 0, os.ErrDeadlineExceeded
}

func ping(ctx context.Context, target string, count int) ([]string, error) {
	dst, err := resolve4(ctx, target)
	if err != nil {
		return nil, err
	}
	c, raw, err := openICMP()
	if err != nil {
		return nil, fmt.Errorf("open ICMP socket: %w", err)
	}
	defer c.Close()
	lines := []string{fmt.Sprintf("PING %s (%s)", target, dst)}
	id := os.Getpid() & 0xffff
	got := 0
	for i := 1; i <= count && ctx.Err() == nil; i++ {
		from, rtt, kind, err := probe(c, raw, dst, id, i, 64, 2*time.Second)
		switch {
		case err != nil:
			lines = append(lines, fmt.Sprintf("seq=%d: no answer (%v)", i, shortErr(err)))
		case kind == echoReply:
			got++
			lines = append(lines, fmt.Sprintf("reply from %s: seq=%d time=%.1f ms", hostOf(from), i, float64(rtt.Microseconds())/1000))
		case kind == unreachable:
			lines = append(lines, fmt.Sprintf("seq=%d: no reply: %s reports %s unreachable", i, hostOf(from), dst))
		default:
			lines = append(lines, fmt.Sprintf("seq=%d: %s could not forward it", i, hostOf(from)))
		}
		if i < count {
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	lines = append(lines, fmt.Sprintf("%d sent, %d answered, %d%% lost", count, got, 100*(count-got)/count))
	return lines, nil
}

func traceroute(ctx context.Context, target string, maxHops int) ([]string, error) {
	dst, err := resolve4(ctx, target)
	if err != nil {
		return nil, err
	}
	c, raw, err := openICMP()
	if err != nil {
		return nil, fmt.Errorf("open ICMP socket: %w", err)
	}
	defer c.Close()
	lines := []string{fmt.Sprintf("traceroute to %s (%s), %d hops max", target, dst, maxHops)}
	id := os.Getpid() & 0xffff
	for ttl := 1; ttl <= maxHops && ctx.Err() == nil; ttl++ {
		from, rtt, kind, err := probe(c, raw, dst, id, 1000+ttl, ttl, 2*time.Second)
		if err != nil {
			lines = append(lines, fmt.Sprintf("%2d  *", ttl))
			continue
		}
		if kind == unreachable {
			lines = append(lines, fmt.Sprintf("%2d  %s  %.1f ms  (says %s is unreachable)", ttl, hostOf(from), float64(rtt.Microseconds())/1000, dst))
			break
		}
		lines = append(lines, fmt.Sprintf("%2d  %s  %.1f ms", ttl, hostOf(from), float64(rtt.Microseconds())/1000))
		if kind == echoReply {
			break
		}
	}
	return lines, nil
}

func addrOf(a net.Addr) netip.Addr {
	var ip net.IP
	switch x := a.(type) {
	case *net.IPAddr:
		ip = x.IP
	case *net.UDPAddr:
		ip = x.IP
	}
	ad, _ := netip.AddrFromSlice(ip)
	return ad.Unmap()
}

func hostOf(a net.Addr) string {
	switch x := a.(type) {
	case *net.IPAddr:
		return x.IP.String()
	case *net.UDPAddr:
		return x.IP.String()
	}
	return fmt.Sprint(a)
}

// shortErr says in words why a probe got no answer.
func shortErr(err error) string {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, syscall.ENETUNREACH):
		return "the box has no route there: check the uplink, or the VPN for tunnel addresses"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable"
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		return "the box's firewall did not let it out"
	}
	return err.Error()
}
