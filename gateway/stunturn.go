package gateway

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"edgebox/internal/config"

	"github.com/pion/stun/v3"
	"github.com/pion/turn/v4"
)

// stunServer answers STUN binding requests so clients behind NAT learn
// their public address (RFC 5389). Nothing else is answered.
type stunServer struct {
	conn  net.PacketConn
	limit *rateLimiter // answers per source: stunreflect.go
	done  chan struct{}
}

func newSTUNServer(addr string) (*stunServer, error) {
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("gateway.stun.listen: %w", err)
	}
	s := &stunServer{conn: conn, limit: newReflectionLimiter(), done: make(chan struct{})}
	go s.serve()
	return s, nil
}

func (s *stunServer) serve() {
	defer close(s.done)
	buf := make([]byte, 1500)
	req := new(stun.Message)
	res := new(stun.Message)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok || !stun.IsMessage(buf[:n]) {
			continue
		}
		req.Raw = append(req.Raw[:0], buf[:n]...)
		if err := req.Decode(); err != nil || req.Type != stun.BindingRequest || !s.limit.mayAnswer(from) {
			continue
		}
		res.Reset()
		if err := res.Build(stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess,
			&stun.XORMappedAddress{IP: ua.IP, Port: ua.Port}, stun.NewSoftware("edgebox"), stun.Fingerprint); err != nil {
			continue
		}
		s.conn.WriteTo(res.Raw, from)
	}
}

func (s *stunServer) close() {
	s.conn.Close()
	<-s.done
}

// turnServer relays media for clients that cannot reach the box directly,
// with REST credentials the portal hands out (TURNCredentials). It is no
// open relay: a credential lives as long as the portal's token, then only
// while its call lasts, and the relay reaches neither the box (but for
// its WebRTC port) nor the networks it sits in (turnguard.go).
type turnServer struct {
	srv *turn.Server
}

// newTURNServer starts the TURN server; callLive says whether the call a
// credential's tag was issued for is still going, icePort is the box's
// WebRTC port (the one port of the box itself a relay may reach), public
// its media.public_address.
func newTURNServer(c config.GatewayTURN, callLive func(tag string) bool, icePort func() int, public func() netip.Addr, log *slog.Logger) (*turnServer, error) {
	conn, err := net.ListenPacket("udp4", c.Listen)
	if err != nil {
		return nil, fmt.Errorf("gateway.turn.listen: %w", err)
	}
	relayIP := net.ParseIP(c.RelayAddress)
	secret := []byte(c.Secret)
	valid := func(username string) bool { return turnUserValid(username, time.Now(), callLive) }
	guard := newRelayGuard(c.AllowedPeers, icePort, public, valid, log)
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm: c.Realm,
		AuthHandler: func(username, realm string, src net.Addr) ([]byte, bool) {
			if !valid(username) {
				return nil, false
			}
			m := hmac.New(sha1.New, secret)
			m.Write([]byte(username))
			pass := base64.StdEncoding.EncodeToString(m.Sum(nil))
			return turn.GenerateAuthKey(username, realm, pass), true
		},
		QuotaHandler: func(username, _ string, _ net.Addr) bool { return guard.quota(username) },
		EventHandler: turn.EventHandler{
			OnAllocationCreated: func(_, _ net.Addr, _, username, _ string, relay net.Addr, _ int) {
				guard.bind(relay, username)
			},
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: &reflectionGuardConn{PacketConn: conn, limit: newReflectionLimiter()},
			RelayAddressGenerator: &guardedRelayGenerator{
				RelayAddressGeneratorStatic: turn.RelayAddressGeneratorStatic{RelayAddress: relayIP, Address: c.RelayAddress},
				guard:                       guard,
			},
			PermissionHandler: guard.permit,
		}},
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("gateway.turn: %w", err)
	}
	return &turnServer{srv: srv}, nil
}

// turnUserValid says whether REST credentials named username ("expiry:tag")
// still hold at now: before their expiry, or while the call that tag was
// issued for goes on.
func turnUserValid(username string, now time.Time, callLive func(tag string) bool) bool {
	exp, tag, ok := strings.Cut(username, ":")
	if !ok {
		return false
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	return err == nil && (now.Unix() <= t || callLive(tag))
}

func (t *turnServer) close() { t.srv.Close() }

func (s *Service) startSTUNTURN(cfg config.Gateway) error {
	if cfg.STUN.Listen != "" {
		st, err := newSTUNServer(cfg.STUN.Listen)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.stun = st
		s.mu.Unlock()
	}
	if cfg.TURN.Listen != "" {
		public := func() netip.Addr {
			a, _ := netip.ParseAddr(s.Config().Media.PublicAddress)
			return a.Unmap()
		}
		t, err := newTURNServer(cfg.TURN, s.turnTagLive, func() int { return s.Config().Media.ICEPort }, public, s.log.With("part", "turn"))
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.turn = t
		s.mu.Unlock()
	}
	return nil
}

// turnTagLive says whether a call holding TURN credentials tag is going.
func (s *Service) turnTagLive(tag string) bool {
	if tag == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		if c.grant.TURNTag == tag {
			return true
		}
	}
	return false
}
