package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"edgebox/internal/config"

	"github.com/emiago/sipgo/sip"
)

// The trunk check: when a REGISTER fails, say why in words an installer
// can act on. Status.Registration is "<kind>: <sentence>" with these kinds
// (the web's wizard and dashboard show the sentence).
const (
	TrunkUnreachable = "unreachable" // no route, or the name does not resolve
	TrunkRefused     = "refused"     // the port is closed (ICMP port unreachable, TCP RST)
	TrunkRejected    = "rejected"    // the PBX refused the account: user name or password
	TrunkTimeout     = "timeout"     // nothing came back
	TrunkSelf        = "self"        // the PBX address is the box itself
	TrunkFailed      = "failed"      // any other answer
)

// trunkError is a failed registration, classified.
type trunkError struct {
	kind, msg string
	// retryAfter: the PBX asked not to be asked again before this long
	retryAfter time.Duration
	// noAnswer: nothing came back (another of the PBX's addresses may
	// answer: pbxaddrs.go)
	noAnswer bool
}

func (e *trunkError) Error() string { return e.kind + ": " + e.msg }

func trunkErr(kind, format string, a ...any) *trunkError {
	return &trunkError{kind: kind, msg: fmt.Sprintf(format, a...)}
}

// answerError classifies a final answer to REGISTER; authed says whether
// it came after the box answered a digest challenge.
func answerError(cfg config.Gateway, res *sip.Response, authed bool) *trunkError {
	addr := cfg.PBX.HostPort()
	who := fmt.Sprintf("%d %s", res.StatusCode, res.Reason)
	if isOwnUA(res) {
		return trunkErr(TrunkSelf, "%s is this box's own SIP port, not a PBX (it answered %s): enter the address of the PBX or its SIP proxy", addr, who)
	}
	switch {
	case (res.StatusCode == 401 || res.StatusCode == 407) && authed:
		return trunkErr(TrunkRejected, "the PBX at %s did not accept user name %q with this password (%s): check the trunk user name and password", addr, cfg.Trunk.Username, who)
	case res.StatusCode == 403:
		return trunkErr(TrunkRejected, "the PBX at %s refused the account %q (%s): check the trunk user name and password, and that the PBX lets this account register", addr, cfg.Trunk.Username, who)
	case res.StatusCode == 404:
		return trunkErr(TrunkRejected, "the PBX at %s does not know the account %q (%s): check the trunk user name and the PBX domain", addr, cfg.Trunk.Username, who)
	case res.StatusCode == 405 || res.StatusCode == 501:
		return trunkErr(TrunkFailed, "the SIP server at %s does not take registrations (%s): turn \"Register at the PBX\" off if the PBX does not expect it", addr, who)
	case res.StatusCode == 423:
		return trunkErr(TrunkFailed, "the PBX at %s wants longer registrations (%s) and names no lifetime the box can ask for (Min-Expires %q, at most %d): set the trunk's registration lifetime to what the PBX expects", addr, who, headerValue(res, "Min-Expires"), maxExpires)
	case res.StatusCode >= 300 && res.StatusCode < 400:
		// not followed: the PBX address is also where the box takes calls
		// from (allowedSources); a registration elsewhere would be useless
		to := headerValue(res, "Contact")
		if to == "" {
			to = "no address given"
		}
		return trunkErr(TrunkFailed, "the PBX at %s sends the registration elsewhere (%s, to %s): the box does not follow; enter that server as the PBX address if it is the one to use", addr, who, to)
	}
	te := trunkErr(TrunkFailed, "the PBX at %s answered %s to the registration", addr, who)
	te.retryAfter = retryAfter(res)
	return te
}

// headerValue is the first header name's value, or "".
func headerValue(res *sip.Response, name string) string {
	if h := res.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// isOwnUA says whether a response came from an edgebox gateway.
func isOwnUA(res *sip.Response) bool {
	for _, name := range []string{"Server", "User-Agent"} {
		if h := res.GetHeader(name); h != nil && strings.HasPrefix(h.Value(), userAgentName) {
			return true
		}
	}
	return false
}

// noAnswerError explains a REGISTER that got no answer (err from the
// transaction): a probe of its own finds out whether the address is
// unreachable, closed or silent.
func noAnswerError(ctx context.Context, cfg config.Gateway, err error) *trunkError {
	addr := cfg.PBX.HostPort()
	te := probePBX(ctx, cfg.PBX.Transport, addr)
	switch {
	case te != nil:
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		te = trunkErr(TrunkTimeout, "the PBX at %s answers other requests but not the registration: check its settings for this trunk", addr)
	default:
		te = trunkErr(TrunkFailed, "the registration at %s could not be sent (%v)", addr, err)
	}
	te.noAnswer = true
	return te
}

// probeWait bounds the probe's wait for an answer or an ICMP error.
const probeWait = 4 * time.Second

// probePBX sends an OPTIONS to addr from a socket of its own, connected so
// that ICMP errors come back (the SIP socket is not connected and never
// sees them). nil means the PBX answered.
func probePBX(ctx context.Context, transport, addr string) *trunkError {
	_, _, te := optionsExchange(ctx, transport, addr)
	return te
}

// optionsExchange is probePBX's OPTIONS round trip: the first answer
// datagram or segment and the time it took, or why there is none.
func optionsExchange(ctx context.Context, transport, addr string) ([]byte, time.Duration, *trunkError) {
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(ctx, probeWait)
	defer cancel()
	ips, err := pbxResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return nil, 0, trunkErr(TrunkUnreachable, "the PBX name %q does not resolve: check the PBX address and the box's DNS (uplink up?)", host)
	}
	target := net.JoinHostPort(ips[0].Unmap().String(), port)
	self := ""
	if isOwnAddr(ips[0]) {
		self = fmt.Sprintf(" %s is this box itself, where no PBX runs: enter the address of the PBX.", ips[0].Unmap())
	}
	network := "udp"
	if transport != "udp" {
		network = "tcp"
	}
	var d net.Dialer
	var reply []byte
	var rtt time.Duration
	c, err := d.DialContext(ctx, network, target)
	if err == nil {
		defer c.Close()
		c.SetDeadline(time.Now().Add(probeWait))
		start := time.Now()
		if _, err = c.Write(optionsProbe(c.LocalAddr(), target, network)); err == nil {
			buf := make([]byte, 4096)
			var n int
			n, err = c.Read(buf)
			reply, rtt = buf[:n], time.Since(start)
		}
	}
	var ne net.Error
	switch {
	case err == nil:
		return reply, rtt, nil
	case errors.Is(err, syscall.ECONNREFUSED):
		return nil, 0, trunkErr(TrunkRefused, "nothing takes SIP at %s: the port is closed (connection refused).%s Check the PBX address and port (5060 when none is given)", addr, self)
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EADDRNOTAVAIL):
		return nil, 0, trunkErr(TrunkUnreachable, "the box has no way to %s (host or network unreachable): check the uplink or VPN, and the PBX address", addr)
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return nil, 0, trunkErr(TrunkTimeout, "no answer from %s within %d s: check the PBX address, and that the PBX and any firewall let the box's SIP through", addr, int(10+probeWait/time.Second))
	}
	return nil, 0, trunkErr(TrunkFailed, "the PBX at %s could not be reached: %v", addr, err)
}

// optionsProbe is a minimal OPTIONS request.
func optionsProbe(local net.Addr, target, network string) []byte {
	tag := sip.GenerateTagN(12)
	return []byte(fmt.Sprintf("OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=z9hG4bK%s\r\nMax-Forwards: 70\r\n"+
		"From: <sip:edgebox@%s>;tag=%s\r\nTo: <sip:%s>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\nUser-Agent: %s\r\nContent-Length: 0\r\n\r\n",
		target, strings.ToUpper(network), local, tag, local, tag, target, tag, userAgentName))
}

// isOwnAddr says whether ip is the box's: loopback or an interface's.
func isOwnAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	for _, p := range interfacePrefixes() {
		if p.IsSingleIP() && p.Addr() == ip {
			return true
		}
	}
	return false
}
