package gateway

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"edgebox/internal/config"
	"edgebox/internal/lazyregexp"
	"edgebox/internal/localapi"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Callbacks: the portal asks for a token that receives a call ("receive":
// true), the customer's page waits with it on /v1/signal, and the PBX (or
// an agent through it) calls sip:<sip_user>@box. The box is the UAS toward
// the PBX here: it holds the PBX's offer while the page rings, and answers
// it once the page has answered with its own offer.
//
// Only the PBX can ring a page: the SIP listeners take new requests from
// gateway.pbx.allowed_sources alone (sipfilter.go, fromPBXOrRefuse), and a
// page is found only by its token's SIP user, which the portal hands out.

// CallbackPermission is the entry in an API key's destinations that lets it
// issue callback tokens. It is no queue name or URI, so no outbound rule
// grants it by accident; "*" does not match it either (checked literally).
const CallbackPermission = "@callback"

// callbackRingTimeout is how long the page may ring before the PBX gets
// 480 (a variable for the test of it: callback_export_test.go).
var callbackRingTimeout = 60 * time.Second

// tokenUser is the shape of a token's SIP user (sipUserOf): an INVITE to
// anything else is not a callback and goes on to the GSM bridge.
var tokenUser = lazyregexp.New(`^t[0-9a-f]{20}$`)

// callbackWaiter is one page waiting with a spent receive token.
type callbackWaiter struct {
	grant callGrant
	ring  chan *callbackRing // the PBX's INVITE, at most one
}

// callbackRing is the PBX's INVITE for a waiting page.
type callbackRing struct {
	req *sip.Request
	dlg *sipgo.DialogServerSession
	// final is closed once the INVITE has its final response: sipgo ends
	// the transaction when the request's handler returns, so the handler
	// waits for it
	final chan struct{}
	once  sync.Once
}

func (r *callbackRing) finish() { r.once.Do(func() { close(r.final) }) }

// callbacks holds the waiting pages (by SIP user) and the answered
// callback dialogs until their end (by Call-ID, for the PBX's ACK).
type callbacks struct {
	mu      sync.Mutex
	waiting map[string]*callbackWaiter
	dialogs map[string]*sipgo.DialogServerSession
}

func (cb *callbacks) add(w *callbackWaiter) {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if cb.waiting == nil {
		cb.waiting = map[string]*callbackWaiter{}
	}
	cb.waiting[w.grant.SIPUser] = w
}

// remove takes w out of the waiting pages; false means an INVITE took it
// first and is in w.ring already.
func (cb *callbacks) remove(w *callbackWaiter) bool {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if cb.waiting[w.grant.SIPUser] != w {
		return false
	}
	delete(cb.waiting, w.grant.SIPUser)
	return true
}

// deliver hands r to the page waiting as user and spends the wait: a
// second INVITE finds nobody.
func (cb *callbacks) deliver(user string, r *callbackRing) bool {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	w := cb.waiting[user]
	if w == nil {
		return false
	}
	delete(cb.waiting, user)
	w.ring <- r // buffered, and only ever one
	return true
}

func (cb *callbacks) addDialog(callID string, d *sipgo.DialogServerSession) {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if cb.dialogs == nil {
		cb.dialogs = map[string]*sipgo.DialogServerSession{}
	}
	cb.dialogs[callID] = d
}

func (cb *callbacks) dialog(callID string) *sipgo.DialogServerSession {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	return cb.dialogs[callID]
}

func (cb *callbacks) dropDialog(callID string) {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	delete(cb.dialogs, callID)
}

// authorizeCallback issues a receive token (POST /v1/calls with
// "receive": true). The key needs CallbackPermission in its destinations
// and the From domain in its from_domains.
func (s *Service) authorizeCallback(w http.ResponseWriter, r *http.Request, req AuthorizeRequest, key config.GatewayAPIKey) {
	cfg := s.Config()
	if req.Destination != "" {
		s.portalRefuse(w, r, http.StatusBadRequest, "bad_request", errors.New("a callback token (receive) has no destination: the PBX calls its callback_uri; leave destination out"))
		return
	}
	from, err := parseSIPURI(req.From)
	if err != nil {
		s.portalRefuse(w, r, http.StatusBadRequest, "bad_request", fmt.Errorf("from: %w", err))
		return
	}
	if !slices.Contains(key.Destinations, CallbackPermission) {
		s.log.Warn("portal refused a callback token", "key", key.Name, "src", remoteIP(r))
		s.portalRefuse(w, r, http.StatusForbidden, "callback_not_allowed",
			fmt.Errorf("API key %q may not ask for callback tokens: an admin adds %q to gateway.portal.api_keys[].destinations", key.Name, CallbackPermission))
		return
	}
	if !key.AllowsFromDomain(from.Host) {
		s.portalRefuse(w, r, http.StatusForbidden, "from_not_allowed",
			fmt.Errorf("from domain %q is not allowed for API key %q: an admin adds it to gateway.portal.api_keys[].from_domains", from.Host, key.Name))
		return
	}
	if err := validateContext(req.Context); err != nil {
		s.portalRefuse(w, r, http.StatusBadRequest, "bad_request", err)
		return
	}
	host, err := s.callbackHost(cfg)
	if err != nil {
		s.portalRefuse(w, r, http.StatusServiceUnavailable, "unavailable", err)
		return
	}
	exp := time.Now().Add(cfg.Portal.CallbackTTL())
	grant := callGrant{From: req.From, Context: req.Context, Expires: exp, KeyName: key.Name, TURNTag: newTURNTag(), Receive: true}
	tok, err := s.tokens.issueShared(grant, len(cfg.Portal.APIKeys)) // a key holds its share
	if err != nil {
		code, reason := issueRefusal(err)
		s.portalRefuse(w, r, code, reason, err)
		return
	}
	s.metrics.tokensIssued.Inc()
	user := sipUserOf(sha256.Sum256([]byte(tok)))
	localapi.WriteJSON(w, http.StatusCreated, AuthorizeResponse{
		Token:        tok,
		ExpiresAt:    exp.UTC().Format(time.RFC3339),
		WebSocketURL: signalURL(r, cfg.Portal),
		ICEServers:   s.clientICEServers(cfg, grant.TURNTag, r),
		SIPUser:      user,
		SIPURL:       strings.TrimSuffix(signalURL(r, cfg.Portal), "/v1/signal") + "/v1/sip",
		CallbackURI:  "sip:" + user + "@" + host,
	})
}

// callbackHost is the box's address as the PBX reaches it (the Contact
// toward the PBX, with ;transport= unless UDP).
func (s *Service) callbackHost(cfg config.Gateway) (string, error) {
	s.mu.Lock()
	st := s.sip
	s.mu.Unlock()
	if st == nil {
		return "", errors.New("the gateway's SIP side is not running: callbacks need it")
	}
	_, contact, err := st.endpoint(cfg.PBX.Transport)
	if err != nil {
		return "", err
	}
	host := net.JoinHostPort(contact.Address.Host, strconv.Itoa(contact.Address.Port))
	if t := cfg.PBX.Transport; t != "" && t != "udp" {
		host += ";transport=" + t
	}
	return host, nil
}

// callbackInvite takes a new INVITE from the PBX when its Request-URI
// names a token's SIP user; it says whether it did (answered or rang).
func (s *Service) callbackInvite(req *sip.Request, tx sip.ServerTransaction) bool {
	user := req.Recipient.User
	if !tokenUser.MatchString(user) {
		return false
	}
	respond := func(code int, reason, why string) {
		res := sip.NewResponseFromRequest(req, code, reason, nil)
		if why != "" {
			res.AppendHeader(sip.NewHeader("Warning", `399 edgebox "`+sanitizeWarning(why)+`"`))
		}
		if err := tx.Respond(res); err != nil {
			s.log.Debug("callback respond", "code", code, "err", err)
		}
	}
	info, err := parsePBXSDP(string(req.Body()), s.Config().PBX)
	if err != nil || info.Audio == nil {
		respond(488, "Not Acceptable Here", "a callback INVITE needs an SDP offer with audio")
		return true
	}
	if err := s.callRoom(); err != nil {
		if errors.Is(err, errDraining) {
			respond(503, "Service Unavailable", err.Error()) // ask another box
		} else {
			respond(486, "Busy Here", err.Error())
		}
		return true
	}
	s.mu.Lock()
	st := s.sip
	cfg := s.cfg
	s.mu.Unlock()
	cli, contact, err := st.endpoint(cfg.PBX.Transport)
	if err != nil {
		respond(503, "Service Unavailable", err.Error())
		return true
	}
	dua := &sipgo.DialogUA{Client: cli, ContactHDR: contact}
	dlg, err := dua.ReadInvite(req, tx)
	if err != nil {
		respond(400, "Bad Request", err.Error())
		return true
	}
	rg := &callbackRing{req: req, dlg: dlg, final: make(chan struct{})}
	if s.callbacks.deliver(user, rg) {
		select {
		case <-rg.final:
		case <-time.After(callbackRingTimeout + time.Minute): // a bound, should the call's side hang
			s.log.Warn("callback INVITE not finished in time", "sip_user", user)
		}
		return true
	}
	dlg.Close()
	if g, ok := s.tokens.sipGrant(user); ok && g.Receive {
		// issued, not spent: its page has not connected (yet)
		respond(480, "Temporarily Unavailable", "the customer's page is not waiting")
		return true
	}
	respond(404, "Not Found", "no page waits for this call: its token is unknown, expired or spent")
	return true
}

// callbackAck gives the PBX's ACK for the 200 of a callback to its dialog.
func (s *Service) callbackAck(req *sip.Request, tx sip.ServerTransaction) bool {
	id := req.CallID()
	if id == nil {
		return false
	}
	d := s.callbacks.dialog(id.Value())
	if d == nil {
		return false
	}
	if err := d.ReadAck(req, tx); err != nil {
		s.log.Debug("callback ACK", "err", err)
	}
	return true
}
