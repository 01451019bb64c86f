package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"edgebox/internal/config"
	"edgebox/internal/lazyregexp"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// sipStack is the box's SIP user agent: listeners on the configured
// transports, a client per transport toward the PBX, and the handlers for
// requests the PBX sends (BYE, re-INVITE, REFER, OPTIONS).
type sipStack struct {
	log     *slog.Logger
	svc     *Service
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	wg      sync.WaitGroup
	listens []config.GatewaySIPListen
	filter  *sipFilter
	pbx     string // the PBX's host:port, for the address the box uses toward it
	closers []func()

	mu        sync.Mutex
	endpoints map[string]*sipEndpoint // by transport
	moved     chan struct{}           // the address toward the PBX changed: register again
	stopWatch context.CancelFunc
}

// allowedMethods is the Allow header the box sends.
const allowedMethods = "INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY, INFO, MESSAGE"

// userAgentName is the User-Agent the box sends.
const userAgentName = "edgebox-gateway"

func newSIPStack(svc *Service, cfg config.Gateway, log *slog.Logger) (*sipStack, error) {
	s := &sipStack{log: log, svc: svc, listens: cfg.SIP.Listen, pbx: cfg.PBX.HostPort(), endpoints: map[string]*sipEndpoint{}, moved: make(chan struct{}, 1)}
	s.filter = &sipFilter{limit: newRateLimiter(cfg.Portal.RatePerMinute), onDrop: svc.metrics.sipDropped, onRefuse: svc.metrics.sipRefused.Inc, health: svc.health}
	s.filter.setAllowed(allowedSources(cfg.PBX))
	var tlsConf *tls.Config
	for _, l := range cfg.SIP.Listen {
		if l.Transport == "tls" {
			cert, err := tls.LoadX509KeyPair(cfg.SIP.TLSCert, cfg.SIP.TLSKey)
			if err != nil {
				return nil, fmt.Errorf("gateway.sip.tls_cert: %w", err)
			}
			tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}
	}
	uaOpts := []sipgo.UserAgentOption{sipgo.WithUserAgent(userAgentName), sipgo.WithUserAgentDNSResolver(pbxResolver),
		// a status line without a reason phrase over TCP and TLS
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerReadFilter(newStreamMender().filter))}
	if tlsConf != nil || cfg.PBX.Transport == "tls" {
		// Client side toward the PBX: its certificate is verified against
		// sip.tls_ca or the system roots, for the address dialled.
		clientTLS := &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.SIP.TLSCA != "" {
			pem, err := os.ReadFile(cfg.SIP.TLSCA)
			if err != nil {
				return nil, fmt.Errorf("gateway.sip.tls_ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("gateway.sip.tls_ca: %s holds no PEM certificate", cfg.SIP.TLSCA)
			}
			clientTLS.RootCAs = pool
		}
		uaOpts = append(uaOpts, sipgo.WithUserAgenTLSConfig(clientTLS))
	}
	ua, err := sipgo.NewUA(uaOpts...)
	if err != nil {
		return nil, err
	}
	s.ua = ua
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(log))
	if err != nil {
		ua.Close()
		return nil, err
	}
	s.srv = srv
	srv.OnInvite(s.onInvite)
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {
		if !s.svc.callbackAck(req, tx) { // the ACK of a callback's 200 (callback.go)
			s.svc.gsmInDialog(req, tx)
		}
	})
	srv.OnBye(s.onBye)
	srv.OnCancel(s.onCancel)
	srv.OnOptions(s.onOptions)
	srv.OnRefer(s.onRefer)
	srv.OnNotify(s.inDialogOK)
	srv.OnInfo(s.inDialogOK)
	srv.OnMessage(s.onMessage) // SMS to the GSM bridge: gsm_sms_sip.go
	srv.OnNoRoute(s.onOther)

	pbxIP := localIPToward(cfg.PBX.HostPort())
	for _, l := range cfg.SIP.Listen {
		l, lc, err := bindListen(l)
		if err != nil {
			s.close()
			return nil, err
		}
		host, portStr, _ := net.SplitHostPort(l.Address)
		port, _ := strconv.Atoi(portStr)
		ep := &sipEndpoint{transport: l.Transport, host: host}
		if ip, err := netip.ParseAddr(host); err != nil || ip.IsUnspecified() {
			// a wildcard listener: Via and Contact carry the address of
			// the uplink in use toward the PBX, which moves on failover
			ep.follow, ep.host = true, pbxIP
		}
		switch l.Transport {
		case "udp":
			network := "udp"
			if ip, err := netip.ParseAddr(host); err == nil && ip.Is4() {
				network = "udp4" // IPv4 socket: IP_PKTINFO (ingressConn)
			}
			pc, err := lc.ListenPacket(context.Background(), network, l.Address)
			if err != nil {
				s.close()
				return nil, fmt.Errorf("gateway.sip.listen %s: %w", l.Address, err)
			}
			s.closers = append(s.closers, func() { pc.Close() })
			// every call's signaling with the PBX shares this socket: a
			// burst of call set-ups overflowed the default buffer (SIP
			// then waits for retransmissions)
			if u, ok := pc.(*net.UDPConn); ok {
				setSockBuf(u, sipSockBuf)
			}
			serveConn := pc
			if u, ok := pc.(*net.UDPConn); ok && network == "udp4" && l.Interface == "" {
				if ic, err := newIngressConn(u, svc.metrics.sipDropped); err == nil {
					serveConn = ic
				} else {
					log.Warn("sip: no IP_PKTINFO, replies leave from the routed address", "err", err)
				}
			}
			s.serve(func() error { return srv.ServeUDP(&filteredPacketConn{PacketConn: serveConn, f: s.filter}) })
			port = pc.LocalAddr().(*net.UDPAddr).Port
			// Requests leave through the listener; until its serving
			// goroutine has put it in the pool the client would try to
			// bind the same port again.
			for i := 0; i < 200; i++ {
				if _, err := ua.TransportLayer().GetConnection("udp", pc.LocalAddr().String()); err == nil {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			ep.connAddr = pc.LocalAddr().String()
		case "tcp", "tls":
			var ln net.Listener
			ln, err = lc.Listen(context.Background(), "tcp", l.Address)
			if err == nil && l.Transport == "tls" {
				ln = tls.NewListener(ln, tlsConf)
			}
			if err != nil {
				s.close()
				return nil, fmt.Errorf("gateway.sip.listen %s: %w", l.Address, err)
			}
			s.closers = append(s.closers, func() { ln.Close() })
			fl := &filteredListener{Listener: ln, f: s.filter}
			if l.Transport == "tls" {
				s.serve(func() error { return srv.ServeTLS(fl) })
			} else {
				s.serve(func() error { return srv.ServeTCP(fl) })
			}
			port = ln.Addr().(*net.TCPAddr).Port
		}
		ep.port = port
		if err := s.setEndpointHost(ep, ep.host); err != nil {
			s.close()
			return nil, err
		}
		s.endpoints[l.Transport] = ep
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopWatch = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.watchRoutes(ctx)
	}()
	return s, nil
}

func (s *sipStack) serve(f func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := f(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Debug("sip listener stopped", "err", err)
		}
	}()
}

func (s *sipStack) close() {
	if s.stopWatch != nil {
		s.stopWatch()
	}
	for _, c := range s.closers {
		c()
	}
	if s.ua != nil {
		s.ua.Close()
	}
	s.wg.Wait()
}

// allowedSources are the prefixes new SIP requests may come from.
func allowedSources(p config.GatewayPBX) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range p.AllowedSources {
		if pr, err := config.ParsePrefixOrIP(a); err == nil {
			out = append(out, pr)
		}
	}
	if len(out) == 0 && p.Address != "" {
		host, _, _ := net.SplitHostPort(p.HostPort())
		if ip, err := netip.ParseAddr(host); err == nil {
			out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
		} else {
			// every address of the name (pbxaddrs.go): the PBX may send
			// from any of them
			ctx, cancel := context.WithTimeout(context.Background(), resolveWait)
			ips, err := pbxResolver.LookupNetIP(ctx, "ip", host)
			cancel()
			if err == nil {
				for _, a := range ips {
					a = a.Unmap()
					out = append(out, netip.PrefixFrom(a, a.BitLen()))
				}
			}
		}
	}
	return out
}

func sourceIP(req *sip.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// respond answers req, logging a failure to send.
func (s *sipStack) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if err := tx.Respond(res); err != nil {
		s.log.Debug("sip respond", "code", code, "err", err)
	}
}

// fromPBXOrRefuse checks the source of a request that could act on a call.
func (s *sipStack) fromPBXOrRefuse(req *sip.Request, tx sip.ServerTransaction) bool {
	if s.filter.fromPBX(sourceIP(req)) {
		return true
	}
	if isScanner([]byte(req.String())) {
		return false // over TCP the packet filter could not see it
	}
	s.svc.metrics.sipRefused.Inc()
	s.respond(tx, req, 403, "Forbidden")
	return false
}

func (s *sipStack) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	if isScanner([]byte(req.String())) {
		return
	}
	// A dispatcher in front of several boxes reads its health from this.
	code, reason := s.svc.health()
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if code == 503 {
		res.AppendHeader(sip.NewHeader("Retry-After", strconv.Itoa(drainRetryAfter)))
	}
	res.AppendHeader(sip.NewHeader("Allow", allowedMethods))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	if err := tx.Respond(res); err != nil {
		s.log.Debug("sip respond options", "err", err)
	}
}

func (s *sipStack) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if !s.fromPBXOrRefuse(req, tx) {
		return
	}
	if to := req.To(); to != nil && to.Params.Has("tag") {
		if c := s.svc.callBySIP(req.CallID().Value()); c != nil {
			c.fromPBX(pbxRequest{req: req, tx: tx})
			return
		}
		if s.svc.gsmInDialog(req, tx) {
			return
		}
		s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	// The gateway places calls toward the PBX, rings a page waiting with a
	// callback token (callback.go), and dials out over the SIM for the PBX
	// (gsm_voice_out.go).
	if s.svc.callbackInvite(req, tx) {
		return
	}
	if s.svc.gsmInvite(req, tx) {
		return
	}
	s.respond(tx, req, 603, "Decline")
}

func (s *sipStack) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if !s.fromPBXOrRefuse(req, tx) {
		return
	}
	if c := s.svc.callBySIP(req.CallID().Value()); c != nil {
		c.fromPBX(pbxRequest{req: req, tx: tx})
		return
	}
	if s.svc.gsmInDialog(req, tx) {
		return
	}
	s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
}

func (s *sipStack) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	s.onBye(req, tx) // same routing: to the call, from the PBX only
}

func (s *sipStack) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	if !s.fromPBXOrRefuse(req, tx) {
		return
	}
	// The box never answers INVITEs it could be asked to cancel.
	s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
}

func (s *sipStack) inDialogOK(req *sip.Request, tx sip.ServerTransaction) {
	if !s.fromPBXOrRefuse(req, tx) {
		return
	}
	c := s.svc.callBySIP(req.CallID().Value())
	if c == nil {
		if s.svc.gsmInDialog(req, tx) {
			return // a GSM call's: gsm_voice_call.go answers it
		}
		s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if req.Method == sip.INFO && isQueueInfo(req) {
		m, err := queueFromInfo(req.Body())
		if err != nil {
			s.log.Info("sip: queue INFO refused", "call", c.ID, "err", err)
			s.respond(tx, req, 400, "Bad Queue Update")
			return
		}
		c.sig.send(m)
	}
	if req.Method == sip.INFO && isDTMFInfo(req) {
		// the agent's key press sent as INFO (Asterisk dtmf_mode=info,
		// SBCs): the page is told as for an RFC 4733 event
		d, err := dtmfFromINFO(req)
		if err != nil {
			s.log.Info("sip: DTMF INFO from the PBX refused", "call", c.ID, "err", err)
			s.respond(tx, req, 400, "Bad DTMF")
			return
		}
		// answered first: the page may hang up at once, and the BYE must
		// not overtake the INFO's 200
		s.respond(tx, req, 200, "OK")
		c.sig.send(Message{Type: MsgDTMF, Digits: d})
		return
	}
	s.respond(tx, req, 200, "OK")
}

func (s *sipStack) onOther(req *sip.Request, tx sip.ServerTransaction) {
	if !s.fromPBXOrRefuse(req, tx) {
		return
	}
	s.respond(tx, req, 405, "Method Not Allowed")
}

var headerKey = lazyregexp.New(`^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$`)

// contextHeaderName turns a context key into an X- header name:
// customer_id -> X-Customer-Id.
func contextHeaderName(key string) string {
	parts := strings.FieldsFunc(key, func(r rune) bool { return r == '_' || r == '-' })
	for i, p := range parts {
		parts[i] = strings.ToUpper(p[:1]) + strings.ToLower(p[1:])
	}
	return "X-" + strings.Join(parts, "-")
}

// validateContext checks portal context before it becomes SIP headers:
// names from a small alphabet, values without line breaks or control bytes.
func validateContext(ctx map[string]string) error {
	if len(ctx) > 16 {
		return errors.New("context: at most 16 entries")
	}
	for k, v := range ctx {
		if !headerKey.MatchString(k) || strings.Trim(k, "_-") == "" {
			return fmt.Errorf("context: key %q must be 1-32 letters, digits, '_' or '-'", k)
		}
		if len(v) > 256 {
			return fmt.Errorf("context: value of %q longer than 256 bytes", k)
		}
		for _, r := range v {
			if r < 0x20 || r == 0x7f {
				return fmt.Errorf("context: value of %q has control characters", k)
			}
		}
	}
	return nil
}

// parseSIPURI checks a From or destination URI from the portal.
func parseSIPURI(s string) (sip.Uri, error) {
	var u sip.Uri
	if !strings.HasPrefix(s, "sip:") && !strings.HasPrefix(s, "sips:") {
		return u, fmt.Errorf("%q is not a sip: URI", s)
	}
	if len(s) > 256 || strings.ContainsAny(s, " \t\r\n<>\"") {
		return u, fmt.Errorf("%q is not a plain sip: URI", s)
	}
	if err := sip.ParseUri(s, &u); err != nil {
		return u, fmt.Errorf("%q: %w", s, err)
	}
	if u.User == "" || u.Host == "" {
		return u, fmt.Errorf("%q needs user@host", s)
	}
	return u, nil
}

var queueName = lazyregexp.New(`^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$`)

// destinationURI turns a destination (agent URI or queue name) into the
// Request-URI at the PBX.
func destinationURI(dest string, pbx config.GatewayPBX) (sip.Uri, error) {
	if strings.HasPrefix(dest, "sip:") || strings.HasPrefix(dest, "sips:") {
		return parseSIPURI(dest)
	}
	if !queueName.MatchString(dest) {
		return sip.Uri{}, fmt.Errorf("destination %q is neither a sip: URI nor a queue name", dest)
	}
	domain := pbx.Domain
	if domain == "" {
		domain, _, _ = net.SplitHostPort(pbx.HostPort())
	}
	return sip.Uri{Scheme: "sip", User: dest, Host: domain}, nil
}

// newInvite builds the INVITE for a grant: From is the customer's
// identity (the trunk account only answers digest challenges), the
// context rides in X- headers.
func (s *sipStack) newInvite(g callGrant, pbx config.GatewayPBX, body []byte) (*sip.Request, *sipgo.DialogUA, error) {
	cli, contact, err := s.endpoint(pbx.Transport)
	if err != nil {
		return nil, nil, err
	}
	to, err := destinationURI(g.Destination, pbx)
	if err != nil {
		return nil, nil, err
	}
	from, err := parseSIPURI(g.From)
	if err != nil {
		return nil, nil, err
	}
	req := sip.NewRequest(sip.INVITE, to)
	req.SetTransport(strings.ToUpper(pbx.Transport))
	// the address the trunk registered at when the PBX's name has several
	// (pbxaddrs.go)
	dest := s.pbxDest(pbx)
	req.SetDestination(dest)
	// The PBX is the outbound proxy: a loose route to it keeps CANCEL (which
	// sipgo builds from the INVITE's Request-URI and Route) going there too.
	if host, portStr, err := net.SplitHostPort(dest); err == nil {
		port, _ := strconv.Atoi(portStr)
		ru := sip.Uri{Scheme: "sip", Host: host, Port: port, UriParams: sip.NewParams()}
		ru.UriParams.Add("lr", "")
		if pbx.Transport != "udp" {
			ru.UriParams.Add("transport", pbx.Transport)
		}
		req.AppendHeader(&sip.RouteHeader{Address: ru})
	}
	fh := &sip.FromHeader{Address: from, Params: sip.NewParams()}
	fh.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(fh)
	req.AppendHeader(&sip.ToHeader{Address: to, Params: sip.NewParams()})
	keys := make([]string, 0, len(g.Context))
	for k := range g.Context {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		req.AppendHeader(sip.NewHeader(contextHeaderName(k), g.Context[k]))
	}
	req.AppendHeader(sip.NewHeader("User-Agent", userAgentName))
	req.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY, INFO"))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)
	dua := &sipgo.DialogUA{Client: cli, ContactHDR: contact}
	return req, dua, nil
}
