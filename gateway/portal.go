package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"edgebox/internal/clock"
	"edgebox/internal/config"
	"edgebox/internal/localapi"
)

// The portal API: the company's web portal authorises calls with an API
// key; the app then connects to the signaling WebSocket with the token.

// portalMaxHeaderBytes bounds a request's headers (net/http's default is
// 1 MiB): held until they end, 1024 connections of the internet's held a
// gigabyte. A browser's cookies for the portal's domain fit. Seventh
// review.
const portalMaxHeaderBytes = 64 << 10

func (s *Service) startPortal(p config.GatewayPortal) error {
	ln, err := net.Listen("tcp", p.Listen)
	if err != nil {
		return fmt.Errorf("gateway.portal.listen: %w", err)
	}
	if !p.PlainHTTP {
		var cert tls.Certificate
		if p.TLSCert != "" {
			cert, err = tls.LoadX509KeyPair(p.TLSCert, p.TLSKey)
			if err != nil {
				ln.Close()
				return fmt.Errorf("gateway.portal.tls_cert: %w", err)
			}
		} else {
			// No certificate configured: a self-signed one keeps the
			// traffic encrypted until the admin installs a real one.
			cert, err = selfSignedCert(time.Now())
			if err != nil {
				ln.Close()
				return err
			}
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	srv := &http.Server{Handler: s.portalHandler(), ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes: portalMaxHeaderBytes, ReadTimeout: portalReadTimeout, IdleTimeout: portalIdleTimeout, ErrorLog: newPortalErrorLog(s.log),
		ConnState: newPortalConns(func() { s.metrics.portalRefusals.WithLabelValues("too_many_connections").Inc() }).state}
	s.mu.Lock()
	s.portal, s.portalLn = srv, ln
	s.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("portal stopped", "err", err)
		}
	}()
	return nil
}

// The portal listens on the internet. Without these bounds one address
// could hold any number of connections for ever, each a goroutine and a
// file descriptor of the gateway (which also carries SIP and media): idle
// between requests, or dribbling a request body the server reads and
// discards after refusing the request. WebSockets are not affected: the
// upgrade clears the connection's deadlines. Tests shorten them.
var (
	portalReadTimeout = 30 * time.Second // a whole request, body included
	portalIdleTimeout = 2 * time.Minute  // between requests on a kept-alive connection
)

func selfSignedCert(now time.Time) (tls.Certificate, error) {
	// Made at each start under whatever the clock says (see clock.CertWindow).
	notBefore, notAfter := clock.CertWindow(now)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: "edgebox gateway"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// portalHandler serves the portal API, the signaling WebSocket, the SDK
// and, when gateway.portal.demo is on, the demo page.
func (s *Service) portalHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/calls", s.notDraining(s.handleAuthorize))
	mux.HandleFunc("GET /v1/signal", s.notDraining(s.handleSignal))
	mux.HandleFunc("GET /v1/sip", s.notDraining(s.handleSIPWS)) // RFC 7118, sipws.go
	mux.HandleFunc("POST /v1/queue", s.handleQueue)             // a draining box still has waiting customers
	assets := assetHandler()
	mux.Handle("GET /sdk/", assets)
	mux.HandleFunc("GET /demo/", func(w http.ResponseWriter, r *http.Request) {
		if !s.Config().Portal.Demo {
			http.Error(w, "the demo page is off (gateway.portal.demo)", http.StatusNotFound)
			return
		}
		assets.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if !s.Config().Portal.Demo {
			http.NotFound(w, r)
			return
		}
		http.Redirect(w, r, "/demo/", http.StatusFound)
	})
	return securityHeaders(mux)
}

// portalCSP is the Content-Security-Policy of every portal response: the
// box's own scripts, styles and connections only ('self' covers ws: and
// wss: to the same host), no inline code, no framing.
const portalCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// securityHeaders sets the CSP and its companions on every response.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", portalCSP)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

func remoteIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// apiKey checks the request's API key against the configured hashes and
// returns the key's entry.
func apiKey(r *http.Request, keys []config.GatewayAPIKey) (config.GatewayAPIKey, bool) {
	key := r.Header.Get("X-API-Key")
	if key == "" {
		if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
			key = strings.TrimPrefix(a, "Bearer ")
		}
	}
	if key == "" {
		return config.GatewayAPIKey{}, false
	}
	sum := sha256.Sum256([]byte(key))
	var found config.GatewayAPIKey
	ok := false
	for _, k := range keys {
		want, err := hex.DecodeString(k.SHA256)
		if err != nil || len(want) != 32 {
			continue
		}
		if subtle.ConstantTimeCompare(sum[:], want) == 1 {
			found, ok = k, true
		}
	}
	return found, ok
}

// HashAPIKey is the form an API key is stored in the config.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func (s *Service) portalRefuse(w http.ResponseWriter, r *http.Request, status int, reason string, err error) {
	s.metrics.portalRefusals.WithLabelValues(reason).Inc()
	if status != http.StatusTooManyRequests {
		s.portalLimit.allow(remoteIP(r)) // spend a token on every refusal
	}
	localapi.WriteError(w, status, err)
}

// portalRequest checks a portal API request's rate limit and key and
// decodes its JSON body (at most limit bytes, no unknown fields) into v;
// on a refusal it has answered and says false.
func (s *Service) portalRequest(w http.ResponseWriter, r *http.Request, limit int64, v any) (config.GatewayAPIKey, bool) {
	if s.portalLimit.blocked(remoteIP(r)) {
		w.Header().Set("Retry-After", "10")
		s.portalRefuse(w, r, http.StatusTooManyRequests, "rate_limited", errors.New("too many refused requests from this address; retry later"))
		return config.GatewayAPIKey{}, false
	}
	key, ok := apiKey(r, s.Config().Portal.APIKeys)
	if !ok {
		s.portalRefuse(w, r, http.StatusUnauthorized, "bad_key", errors.New("missing or wrong API key (X-API-Key or Authorization: Bearer)"))
		return key, false
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		s.portalRefuse(w, r, http.StatusBadRequest, "bad_request", fmt.Errorf("request body: %w", err))
		return key, false
	}
	return key, true
}

func (s *Service) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	cfg := s.Config()
	var req AuthorizeRequest
	key, ok := s.portalRequest(w, r, 16<<10, &req)
	if !ok {
		return
	}
	if req.Receive {
		s.authorizeCallback(w, r, req, key) // callback.go
		return
	}
	from, err := parseSIPURI(req.From)
	if err != nil {
		s.portalRefuse(w, r, http.StatusBadRequest, "bad_request", fmt.Errorf("from: %w", err))
		return
	}
	if _, err := destinationURI(req.Destination, cfg.PBX); err != nil {
		s.portalRefuse(w, r, http.StatusBadRequest, "bad_request", err)
		return
	}
	// Toll fraud stops here: a key calls only what its lists name, so a
	// leaked key cannot dial numbers with the trunk's account.
	if !key.AllowsDestination(req.Destination) {
		s.log.Warn("portal refused a destination", "key", key.Name, "destination", req.Destination, "src", remoteIP(r))
		s.portalRefuse(w, r, http.StatusForbidden, "destination_not_allowed",
			fmt.Errorf("destination %q is not allowed for API key %q: an admin adds it to gateway.portal.api_keys[].destinations", req.Destination, key.Name))
		return
	}
	if !key.AllowsFromDomain(from.Host) {
		s.log.Warn("portal refused a from domain", "key", key.Name, "from", req.From, "src", remoteIP(r))
		s.portalRefuse(w, r, http.StatusForbidden, "from_not_allowed",
			fmt.Errorf("from domain %q is not allowed for API key %q: an admin adds it to gateway.portal.api_keys[].from_domains", from.Host, key.Name))
		return
	}
	if err := validateContext(req.Context); err != nil {
		s.portalRefuse(w, r, http.StatusBadRequest, "bad_request", err)
		return
	}
	exp := time.Now().Add(time.Duration(cfg.Portal.TokenTTLSec) * time.Second)
	grant := callGrant{From: req.From, Destination: req.Destination, Context: req.Context, Expires: exp, KeyName: key.Name, TURNTag: newTURNTag()}
	tok, err := s.tokens.issueShared(grant, len(cfg.Portal.APIKeys)) // a key holds its share
	if err != nil {
		code, reason := issueRefusal(err)
		s.portalRefuse(w, r, code, reason, err)
		return
	}
	s.metrics.tokensIssued.Inc()
	localapi.WriteJSON(w, http.StatusCreated, AuthorizeResponse{
		Token:        tok,
		ExpiresAt:    exp.UTC().Format(time.RFC3339),
		WebSocketURL: signalURL(r, cfg.Portal),
		ICEServers:   s.clientICEServers(cfg, grant.TURNTag, r),
		SIPUser:      sipUserOf(sha256.Sum256([]byte(tok))),
		SIPURL:       strings.TrimSuffix(signalURL(r, cfg.Portal), "/v1/signal") + "/v1/sip",
	})
}

func signalURL(r *http.Request, p config.GatewayPortal) string {
	if p.PublicURL != "" {
		u := strings.TrimSuffix(p.PublicURL, "/")
		u = strings.Replace(u, "https://", "wss://", 1)
		u = strings.Replace(u, "http://", "ws://", 1)
		return u + "/v1/signal"
	}
	scheme := "wss"
	if r.TLS == nil {
		scheme = "ws"
	}
	return scheme + "://" + r.Host + "/v1/signal"
}

// clientICEServers are the configured servers plus the built-in STUN
// server and, with TURN on, TURN credentials bound to the grant's TURN tag
// (the "TURN REST API" scheme: username "expiry:tag", password HMAC-SHA1
// of it). They are valid until the token's expiry, then only while the
// call they were issued for lasts (turnServer's AuthHandler).
func (s *Service) clientICEServers(cfg config.Gateway, turnTag string, r *http.Request) []ICEServer {
	out := []ICEServer{}
	for _, srv := range cfg.Media.ICEServers {
		out = append(out, ICEServer{URLs: srv.URLs, Username: srv.Username, Credential: srv.Credential})
	}
	host := cfg.Media.PublicAddress
	if host == "" {
		host, _, _ = net.SplitHostPort(r.Host)
		if host == "" {
			host = r.Host
		}
	}
	if cfg.STUN.Listen != "" {
		_, port, _ := net.SplitHostPort(cfg.STUN.Listen)
		out = append(out, ICEServer{URLs: []string{"stun:" + net.JoinHostPort(host, port)}})
	}
	if cfg.TURN.Listen != "" && turnTag != "" {
		_, port, _ := net.SplitHostPort(cfg.TURN.Listen)
		u, p := TURNCredentials(cfg.TURN.Secret, turnTag, time.Duration(cfg.Portal.TokenTTLSec)*time.Second, time.Now())
		out = append(out, ICEServer{URLs: []string{"turn:" + net.JoinHostPort(host, port) + "?transport=udp"}, Username: u, Credential: p})
	}
	return out
}

// TURNCredentials makes REST-style TURN credentials for tag valid for ttl.
func TURNCredentials(secret, tag string, ttl time.Duration, now time.Time) (username, password string) {
	tag = strings.NewReplacer(":", "_").Replace(tag)
	username = strconv.FormatInt(now.Add(ttl).Unix(), 10) + ":" + tag
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// newTURNTag names one authorisation's TURN credentials.
func newTURNTag() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
