package gateway

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
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
	conn net.PacketConn
	done chan struct{}
}

func newSTUNServer(addr string) (*stunServer, error) {
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("gateway.stun.listen: %w", err)
	}
	s := &stunServer{conn: conn, done: make(chan struct{})}
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
		if err := req.Decode(); err != nil || req.Type != stun.BindingRequest {
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
// with REST credentials the portal hands out (TURNCredentials).
type turnServer struct {
	srv *turn.Server
}

func newTURNServer(c config.GatewayTURN) (*turnServer, error) {
	conn, err := net.ListenPacket("udp4", c.Listen)
	if err != nil {
		return nil, fmt.Errorf("gateway.turn.listen: %w", err)
	}
	relayIP := net.ParseIP(c.RelayAddress)
	secret := []byte(c.Secret)
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm: c.Realm,
		AuthHandler: func(username, realm string, src net.Addr) ([]byte, bool) {
			exp, _, ok := strings.Cut(username, ":")
			if !ok {
				return nil, false
			}
			t, err := strconv.ParseInt(exp, 10, 64)
			if err != nil || time.Now().Unix() > t {
				return nil, false
			}
			m := hmac.New(sha1.New, secret)
			m.Write([]byte(username))
			pass := base64.StdEncoding.EncodeToString(m.Sum(nil))
			return turn.GenerateAuthKey(username, realm, pass), true
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: conn,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{
				RelayAddress: relayIP,
				Address:      c.RelayAddress,
			},
		}},
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("gateway.turn: %w", err)
	}
	return &turnServer{srv: srv}, nil
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
		t, err := newTURNServer(cfg.TURN)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.turn = t
		s.mu.Unlock()
	}
	return nil
}
