// Package gateway turns an authorised WebRTC session from a customer's
// browser or app into a SIP call toward the PBX: the portal gets a one-time
// token (portal.go), the app signals over a WebSocket (signaling.go), each
// call (call.go) bridges a pion peer connection to a sipgo dialog and
// relays RTP without transcoding (relay.go).
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"edgebox/internal/config"
)

// historySize is how many ended calls the API remembers.
const historySize = 500

// Service is the running gateway.
type Service struct {
	log         *slog.Logger
	metrics     *metrics
	tokens      *tokenStore
	portalLimit *rateLimiter
	pending     pendingSockets
	drain       drainState
	callbacks   callbacks // pages waiting for the PBX's call (callback.go)
	// dialogsSlimmed counts calls whose SIP dialog was slimmed after the
	// answer's accepted window (dialogslim.go; read by tests)
	dialogsSlimmed atomic.Int64

	mu       sync.Mutex
	cfg      config.Gateway
	callCfg  *config.Gateway // s.cfg, shared by the calls started under it (760 bytes each when every call held a copy)
	web      *webrtcHost
	sip      *sipStack
	ports    *portPool
	calls    map[string]*call
	bySIP    map[string]*call
	history  []CallInfo
	portal   *http.Server
	portalLn net.Listener
	stun     *stunServer
	turn     *turnServer
	reg      *registration
	gsm      *smsBridge // the SMS side of the GSM bridge (gsm_sms.go)
	// disabled: why the gateway runs on the defaults (off), shown in
	// Status until a config is applied (main.go)
	disabled string

	ctx    context.Context
	cancel context.CancelFunc
	callWG sync.WaitGroup
}

// New starts the gateway for cfg: portal, ICE port, SIP listeners, STUN and
// TURN. A disabled gateway starts nothing but its API.
func New(cfg config.Gateway, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Service{
		log:         log,
		tokens:      newTokenStore(),
		calls:       map[string]*call{},
		bySIP:       map[string]*call{},
		portalLimit: newRateLimiter(cfg.Portal.RatePerMinute),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.metrics = newMetrics(s)
	s.cfg, s.callCfg = cfg, &cfg
	if !cfg.Enabled {
		return s, nil
	}
	if err := s.start(cfg); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// start brings up every part for cfg (under no lock: only New and Apply).
func (s *Service) start(cfg config.Gateway) error {
	s.warnClosedKeys(cfg.Portal)
	var err error
	s.ports = newPortPool(cfg.Media.RTPPortMin, cfg.Media.RTPPortMax)
	if s.web, err = newWebRTCHost(cfg.Media, s.log); err != nil {
		return err
	}
	if s.sip, err = newSIPStack(s, cfg, s.log.With("part", "sip")); err != nil {
		return err
	}
	if err := s.startPortal(cfg.Portal); err != nil {
		return err
	}
	if err := s.startSTUNTURN(cfg); err != nil {
		return err
	}
	s.startRegistration(cfg)
	s.startGSMVoice(cfg) // gsm_voice.go
	return s.startGSM(cfg)
}

// Config is the config in effect.
func (s *Service) Config() config.Gateway {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

// PortalAddr is the address the portal listens on (tests use port 0).
func (s *Service) PortalAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.portalLn == nil {
		return ""
	}
	return s.portalLn.Addr().String()
}

// Apply puts a new config into effect without dropping calls it does not
// concern: only the parts whose settings changed are restarted, and calls
// keep the config they started with.
func (s *Service) Apply(cfg config.Gateway) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	old := s.cfg
	s.disabled = "" // a config that loads replaces the defaults
	s.mu.Unlock()
	if !cfg.Enabled {
		s.stopGSM()
		s.stopGSMVoice()
		s.stopParts(true, true, true, true, true)
		s.setConfig(cfg)
		return nil
	}
	if !old.Enabled {
		s.setConfig(cfg)
		return s.start(cfg)
	}
	restartWeb := !reflect.DeepEqual(old.Media.ICEPort, cfg.Media.ICEPort) || old.Media.ICEAddress != cfg.Media.ICEAddress ||
		old.Media.PublicAddress != cfg.Media.PublicAddress || !reflect.DeepEqual(old.Media.ICEServers, cfg.Media.ICEServers)
	restartSIP := !reflect.DeepEqual(old.SIP, cfg.SIP)
	restartPortal := old.Portal.Listen != cfg.Portal.Listen || old.Portal.TLSCert != cfg.Portal.TLSCert ||
		old.Portal.TLSKey != cfg.Portal.TLSKey || old.Portal.PlainHTTP != cfg.Portal.PlainHTTP
	restartSTUN := !reflect.DeepEqual(old.STUN, cfg.STUN) || !reflect.DeepEqual(old.TURN, cfg.TURN)
	restartReg := !reflect.DeepEqual(old.Trunk, cfg.Trunk) || !reflect.DeepEqual(old.PBX, cfg.PBX) || restartSIP
	s.stopParts(restartWeb, restartSIP, restartPortal, restartSTUN, restartReg)
	s.setConfig(cfg)
	if !reflect.DeepEqual(old.Portal.APIKeys, cfg.Portal.APIKeys) {
		s.warnClosedKeys(cfg.Portal)
	}
	s.portalLimit.setRate(cfg.Portal.RatePerMinute)
	var err error
	if restartWeb {
		w, e := newWebRTCHost(cfg.Media, s.log)
		s.mu.Lock()
		s.web = w
		s.mu.Unlock()
		err = errors.Join(err, e)
	}
	if restartSIP {
		st, e := newSIPStack(s, cfg, s.log.With("part", "sip"))
		s.mu.Lock()
		s.sip = st
		s.mu.Unlock()
		err = errors.Join(err, e)
	} else if s.sip != nil {
		s.sip.filter.setAllowed(allowedSources(cfg.PBX))
		s.sip.filter.limit.setRate(cfg.Portal.RatePerMinute)
	}
	s.ports.setRange(cfg.Media.RTPPortMin, cfg.Media.RTPPortMax)
	if restartPortal {
		err = errors.Join(err, s.startPortal(cfg.Portal))
	}
	if restartSTUN {
		err = errors.Join(err, s.startSTUNTURN(cfg))
	}
	if restartReg {
		s.startRegistration(cfg)
	}
	s.applyGSMVoice(old, cfg)
	return errors.Join(err, s.applyGSM(old, cfg))
}

func (s *Service) setConfig(cfg config.Gateway) {
	s.mu.Lock()
	s.cfg, s.callCfg = cfg, &cfg
	s.mu.Unlock()
}

// stopParts stops the named parts. Calls that depend on a stopped part
// (the ICE port, the SIP stack) end.
func (s *Service) stopParts(web, sip, portal, stunturn, reg bool) {
	s.mu.Lock()
	w, st, p, stn, trn, rg := s.web, s.sip, s.portal, s.stun, s.turn, s.reg
	if web {
		s.web = nil
	}
	if sip {
		s.sip = nil
	}
	if portal {
		s.portal, s.portalLn = nil, nil
	}
	if stunturn {
		s.stun, s.turn = nil, nil
	}
	if reg {
		s.reg = nil
	}
	var affected []*call
	if web || sip {
		for _, c := range s.calls {
			affected = append(affected, c)
		}
	}
	s.mu.Unlock()
	for _, c := range affected {
		c.requestHangup("gateway reconfigured")
	}
	if reg && rg != nil {
		rg.stop()
	}
	if portal && p != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		p.Shutdown(ctx)
		cancel()
		p.Close()
	}
	if stunturn {
		if stn != nil {
			stn.close()
		}
		if trn != nil {
			trn.close()
		}
	}
	if len(affected) > 0 {
		s.waitCalls(affected, 10*time.Second)
	}
	if sip && st != nil {
		st.close()
	}
	if web && w != nil {
		w.close()
	}
}

func (s *Service) waitCalls(calls []*call, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for _, c := range calls {
		select {
		case <-c.done:
		case <-t.C:
			return
		}
	}
}

// Close ends all calls and stops everything.
func (s *Service) Close() {
	s.cancel()
	s.stopGSM()
	s.stopGSMVoice()
	s.stopParts(true, true, true, true, true)
	done := make(chan struct{})
	go func() { s.callWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.log.Warn("calls did not end in time")
	}
}

func newCallID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errBusy is the refusal of a call over gateway.max_calls.
var errBusy = errors.New("the box is carrying as many calls as it may")

// callRoom says whether one more call fits under gateway.max_calls.
func (s *Service) callRoom() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.callRoomLocked()
}

func (s *Service) callRoomLocked() error {
	if s.Draining() {
		return errDraining
	}
	if n := s.cfg.CallLimit(); len(s.calls) >= n {
		return fmt.Errorf("%w (%d, gateway.max_calls): try again in a minute", errBusy, n)
	}
	return nil
}

// startCall registers a call for an authorised client; the caller runs it.
func (s *Service) startCall(g callGrant, sig signaler) (*call, error) {
	s.mu.Lock()
	if s.sip == nil || s.web == nil {
		s.mu.Unlock()
		return nil, errors.New("gateway is not running")
	}
	if err := s.callRoomLocked(); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	c := newCall(s, newCallID(), g, sig, s.callCfg)
	s.calls[c.ID] = c
	s.callWG.Add(1)
	s.mu.Unlock()
	return c, nil
}

func (s *Service) bindSIP(callID string, c *call) {
	s.mu.Lock()
	s.bySIP[callID] = c
	s.mu.Unlock()
}

func (s *Service) unbindSIP(callID string) {
	s.mu.Lock()
	delete(s.bySIP, callID)
	s.mu.Unlock()
}

func (s *Service) callBySIP(callID string) *call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bySIP[callID]
}

func (s *Service) callEnded(c *call) {
	info := c.snapshot()
	s.mu.Lock()
	delete(s.calls, c.ID)
	for id, cc := range s.bySIP {
		if cc == c {
			delete(s.bySIP, id)
		}
	}
	s.history = append(s.history, info)
	if len(s.history) > historySize {
		s.history = s.history[len(s.history)-historySize:]
	}
	s.mu.Unlock()
	outcome := "failed"
	switch {
	case !info.AnsweredAt.IsZero():
		outcome = "answered"
	case info.SIPCode == 487 || info.SIPCode == 0:
		outcome = "abandoned"
	case info.SIPCode == 486 || info.SIPCode == 600:
		outcome = "busy"
	}
	s.metrics.callsTotal.WithLabelValues(outcome).Inc()
	s.log.Info("call ended", "call", info.ID, "from", info.From, "to", info.Destination, "codec", info.Codec,
		"sip_code", info.SIPCode, "reason", info.Reason, "talk_sec", fmt.Sprintf("%.1f", info.DurationSec))
	s.callWG.Done()
}

func (s *Service) activeCalls() []CallInfo {
	s.mu.Lock()
	calls := make([]*call, 0, len(s.calls))
	for _, c := range s.calls {
		calls = append(calls, c)
	}
	s.mu.Unlock()
	out := make([]CallInfo, 0, len(calls))
	for _, c := range calls {
		out = append(out, c.snapshot())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartedAt.Before(out[j].StartedAt) })
	return out
}

func (s *Service) historyCalls(limit int) []CallInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.history)
	if limit > 0 && limit < n {
		n = limit
	}
	out := make([]CallInfo, 0, n)
	for i := len(s.history) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, s.history[i])
	}
	return out
}

// Status summarises the gateway.
func (s *Service) Status() Status {
	s.mu.Lock()
	st := Status{Enabled: s.cfg.Enabled, Disabled: s.disabled, ActiveCalls: len(s.calls), ICEPort: s.cfg.Media.ICEPort, PBX: s.cfg.PBX.HostPort(), Registration: "off"}
	if s.web != nil {
		st.ICELite = s.web.lite
		st.FastPackets, st.RejectedPackets = s.web.fast.Fast.Load(), s.web.fast.Rejected.Load()
	}
	if s.reg != nil {
		st.Registration, st.RegisteredUntil = s.reg.status()
		st.PBXAddressInUse, st.PBXAddressesFailed = s.reg.addrs.get()
	}
	ports := s.ports
	s.mu.Unlock()
	if ports != nil {
		st.RTPPairsInUse = ports.inUse()
	}
	st.PendingTokens = s.tokens.pending()
	st.ActiveCalls += s.gsmActiveCalls() // gsm_voice.go
	st.Draining = s.Draining()
	return st
}

// Snapshot returns the calls in progress (the API's /v1/calls).
func (s *Service) Snapshot() []CallInfo { return s.activeCalls() }

// History returns ended calls, newest first.
func (s *Service) History(limit int) []CallInfo { return s.historyCalls(limit) }

// warnClosedKeys tells the admin about portal keys that can get no call
// (their allow-lists deny by default).
func (s *Service) warnClosedKeys(p config.GatewayPortal) {
	for i, k := range p.APIKeys {
		if len(k.Destinations) == 0 || len(k.FromDomains) == 0 {
			s.log.Warn("portal key allows no calls: every request with it is refused",
				"key", k.Name, "fix", fmt.Sprintf("list what it may call in gateway.portal.api_keys[%d].destinations and .from_domains", i))
		}
	}
}
