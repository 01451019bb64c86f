package config

import (
	"bytes"
	"edgebox/internal/lazyregexp"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path"
	"strings"
	"time"
)

// Gateway is the gateway section: the WebRTC <-> SIP gateway's PBX, trunk,
// portal API, media ports and STUN/TURN servers.
type Gateway struct {
	Enabled bool          `json:"enabled"`
	PBX     GatewayPBX    `json:"pbx"`
	SIP     GatewaySIP    `json:"sip"`
	Trunk   GatewayTrunk  `json:"trunk"`
	Portal  GatewayPortal `json:"portal"`
	Media   GatewayMedia  `json:"media"`
	STUN    GatewaySTUN   `json:"stun"`
	TURN    GatewayTURN   `json:"turn"`
	// MaxCalls is how many calls the box carries at once; one more is
	// refused with the "busy" error (docs/gateway-protocol.md); 0 means
	// defaultMaxCalls.
	MaxCalls int `json:"max_calls,omitempty"`
	// DrainLimitSec is how long a drain (before a reboot, an update or a
	// gateway restart) waits for live calls to end before going on; 0
	// means DefaultDrainLimitSec (docs/fleet.md).
	DrainLimitSec int        `json:"drain_limit_sec,omitempty"`
	GSM           GatewayGSM `json:"gsm"` // the GSM bridge: gsm.go
}

// GatewayPBX is where calls go.
type GatewayPBX struct {
	// Address is host:port of the PBX or its proxy; without a port, 5060
	// (5061 over TLS). See HostPort.
	Address string `json:"address"`
	// Transport toward the PBX: "udp", "tcp" or "tls".
	Transport string `json:"transport"`
	// Domain is the host part of request URIs and of queue destinations;
	// empty means the host of Address.
	Domain string `json:"domain,omitempty"`
	// AllowedSources are the IPs or CIDRs allowed to send new SIP requests
	// to the box; empty means the IP of Address.
	AllowedSources []string `json:"allowed_sources,omitempty"`
}

// GatewaySIP is the box's own SIP listeners.
type GatewaySIP struct {
	Listen []GatewaySIPListen `json:"listen"`
	// TLSCert and TLSKey are PEM files for the "tls" listener.
	TLSCert string `json:"tls_cert,omitempty"`
	TLSKey  string `json:"tls_key,omitempty"`
	// TLSCA is a PEM file of the CAs that sign the PBX's certificate;
	// empty means the system roots.
	TLSCA string `json:"tls_ca,omitempty"`
}

// GatewaySIPListen is one SIP listener.
type GatewaySIPListen struct {
	Transport string `json:"transport"` // udp, tcp, tls
	Address   string `json:"address"`   // ip:port; with Interface, ":port" takes that interface's address
	// Interface binds the listener to one network interface (lan0, tun0
	// ...): SIP then answers only requests that arrive on it, for its
	// own address, and replies from that address. Empty: any interface.
	Interface string `json:"interface,omitempty"`
}

// GatewayTrunk is the box's account at the PBX.
type GatewayTrunk struct {
	Username string `json:"username,omitempty"`
	// Password answers digest challenges; never shown in logs or API output.
	Password string `json:"password,omitempty"`
	// Register keeps a registration of Username at the PBX.
	Register bool `json:"register,omitempty"`
	// RegisterExpiresSec is the requested registration lifetime.
	RegisterExpiresSec int `json:"register_expires_sec,omitempty"`
}

// GatewayPortal is the HTTPS API the company's web portal calls and the
// WebSocket signaling endpoint browsers connect to.
type GatewayPortal struct {
	Listen  string `json:"listen"`
	TLSCert string `json:"tls_cert,omitempty"`
	TLSKey  string `json:"tls_key,omitempty"`
	// PlainHTTP serves without TLS; allowed only on a loopback address.
	PlainHTTP bool `json:"plain_http,omitempty"`
	// PublicURL is the base URL clients reach the box at
	// ("https://box.example.com:8443"); empty means the request's host.
	PublicURL   string          `json:"public_url,omitempty"`
	APIKeys     []GatewayAPIKey `json:"api_keys,omitempty"`
	TokenTTLSec int             `json:"token_ttl_sec"`
	// CallbackTTLSec is how long a token that receives a call (a
	// callback, "receive": true) stays valid: the customer's page waits
	// that long for the PBX to call. 0 means 300; at most 3600.
	CallbackTTLSec int `json:"callback_ttl_sec,omitempty"`
	// RatePerMinute bounds requests per source address.
	RatePerMinute int `json:"rate_per_minute"`
	// Demo serves the demo "Get help" page at /demo/ (off by default:
	// the portal listener faces the internet).
	Demo bool `json:"demo,omitempty"`
}

// CallbackTTL is the lifetime of a callback token (CallbackTTLSec, 0: 300 s).
func (p GatewayPortal) CallbackTTL() time.Duration {
	if p.CallbackTTLSec == 0 {
		return 300 * time.Second
	}
	return time.Duration(p.CallbackTTLSec) * time.Second
}

// GatewayAPIKey is one portal API key, stored as the hex SHA-256 of the key,
// with what the key may ask for. Both lists deny by default: a key with an
// empty list gets every call refused.
type GatewayAPIKey struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	// Destinations the key may call: queue names ("support"), agent URIs
	// ("sip:alice@pbx.example.com") or patterns with * and ?
	// ("sales-*", "sip:*@pbx.example.com"). A pattern that starts with
	// sip: or sips: matches agent URIs only, any other queue names only.
	Destinations []string `json:"destinations"`
	// FromDomains are the domains the key's callers may have as From
	// ("example.com", "*.example.com"; "*" for any).
	FromDomains []string `json:"from_domains"`
}

// legacyKeyDestinations is what a key stored before allow-lists existed
// may call: named queues that start with a letter, so dial strings
// ("0019005550100", "+1900...") and agent URIs are refused until listed.
var legacyKeyDestinations = []string{"[A-Za-z]*"}

// UnmarshalJSON migrates a key written before allow-lists existed (neither
// field present): it keeps calling named queues from any domain. A key
// written by this firmware always has both fields, null or not.
func (k *GatewayAPIKey) UnmarshalJSON(b []byte) error {
	type plain GatewayAPIKey
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode((*plain)(k)); err != nil {
		return err
	}
	_, hasDest := fields["destinations"]
	_, hasFrom := fields["from_domains"]
	if !hasDest && !hasFrom {
		k.Destinations = append([]string(nil), legacyKeyDestinations...)
		k.FromDomains = []string{"*"}
	}
	return nil
}

// AllowsDestination says whether the key may call dest (a queue name or a
// sip:/sips: URI, as the portal sent it).
func (k GatewayAPIKey) AllowsDestination(dest string) bool {
	isURI := strings.HasPrefix(dest, "sip:") || strings.HasPrefix(dest, "sips:")
	for _, p := range k.Destinations {
		pURI := strings.HasPrefix(p, "sip:") || strings.HasPrefix(p, "sips:")
		if pURI != isURI {
			continue
		}
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(dest)); ok {
			return true
		}
	}
	return false
}

// AllowsFromDomain says whether the key's callers may use From domain host.
func (k GatewayAPIKey) AllowsFromDomain(host string) bool {
	for _, p := range k.FromDomains {
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(host)); ok {
			return true
		}
	}
	return false
}

// GatewayMedia is the media setup of both legs.
type GatewayMedia struct {
	// ICEPort is the one UDP port all WebRTC calls share.
	ICEPort int `json:"ice_port"`
	// ICEAddress is the local IP the ICE port binds; empty means all.
	ICEAddress string `json:"ice_address,omitempty"`
	// PublicAddress is an IP browsers can reach the box at directly: the
	// box then runs ICE-lite. Empty means full ICE with ICEServers.
	PublicAddress string `json:"public_address,omitempty"`
	// ICEServers are handed to clients and used by the box in full ICE.
	ICEServers []GatewayICEServer `json:"ice_servers,omitempty"`
	// RTPAddress is the local IP of the PBX-side RTP; empty means the
	// address the box uses to reach the PBX.
	RTPAddress string `json:"rtp_address,omitempty"`
	RTPPortMin int    `json:"rtp_port_min"`
	RTPPortMax int    `json:"rtp_port_max"`
	// Codecs in order of preference: opus, g722, pcmu, pcma.
	Codecs []string `json:"codecs"`
	// Video bridges VP8/H.264 when both sides offer it.
	Video bool `json:"video,omitempty"`
	// PionMediaPath keeps every call's audio on pion's own (slower)
	// packet path instead of the box's fast path: for diagnosing an
	// interoperability problem without a firmware update.
	PionMediaPath bool `json:"pion_media_path,omitempty"`
	// Stack is what brings a call's browser leg up: "lean" (the
	// default, DefaultStack): ICE-lite, DTLS and SRTP on the shared port
	// with no PeerConnection, or "pion": a whole pion PeerConnection per
	// call, the fallback. Calls the lean stack cannot carry (bridged
	// video, a box without a public address, pion_media_path) use pion.
	Stack string `json:"stack,omitempty"`
	// LANCandidates lets the box send ICE checks to a caller's candidates
	// inside a network it sits in (LAN, VPN) or a private range when the
	// caller's signaling connection comes from that same network. Off
	// (the default), such candidates are dropped: LAN callers connect
	// through the checks their browser sends (gateway/icefilter.go).
	LANCandidates bool `json:"lan_candidates,omitempty"`
}

// Browser-leg stacks (GatewayMedia.Stack).
const (
	StackPion = "pion"
	StackLean = "lean"
	// DefaultStack is the stack when gateway.media.stack is empty.
	DefaultStack = StackLean
)

// GatewayICEServer is one STUN or TURN server for clients.
type GatewayICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// GatewaySTUN is the built-in STUN server.
type GatewaySTUN struct {
	Listen string `json:"listen,omitempty"` // ip:port, empty: off
}

// GatewayTURN is the built-in TURN server with REST (time-limited) credentials.
type GatewayTURN struct {
	Listen       string `json:"listen,omitempty"` // ip:port, empty: off
	Realm        string `json:"realm,omitempty"`
	Secret       string `json:"secret,omitempty"`        // shared secret of the REST credentials
	RelayAddress string `json:"relay_address,omitempty"` // IP relayed traffic leaves from
	// CredentialTTLSec is kept for old configs and no longer used: a TURN
	// credential now lives as long as the portal's token, then as long as
	// the call it was issued for.
	CredentialTTLSec int `json:"credential_ttl_sec,omitempty"`
	// AllowedPeers are ranges (CIDR) besides the box itself the relay may
	// send to, private, CGNAT or on the internet; they are refused
	// otherwise (the relay is for the box's WebRTC port; internet hosts
	// were allowed before the seventh review). Loopback, link-local, the
	// box's other ports and the subnets of its interfaces (LAN, VPN) are
	// always refused.
	AllowedPeers []string `json:"allowed_peers,omitempty"`
}

// knownCodecs are the audio codecs the gateway bridges without transcoding.
var knownCodecs = []string{"opus", "g722", "pcmu", "pcma"}

// DefaultGateway is the gateway section of a fresh box.
func DefaultGateway() Gateway {
	return Gateway{
		PBX:   GatewayPBX{Transport: "udp"},
		SIP:   GatewaySIP{Listen: []GatewaySIPListen{{Transport: "udp", Address: "0.0.0.0:5060"}}},
		Trunk: GatewayTrunk{RegisterExpiresSec: 300},
		Portal: GatewayPortal{
			Listen:        ":8443",
			TokenTTLSec:   60,
			RatePerMinute: 60,
		},
		Media: GatewayMedia{
			ICEPort:    3478 + 5000, // 8478: one port for every WebRTC call
			RTPPortMin: 20000,
			RTPPortMax: 20999,
			Codecs:     append([]string(nil), knownCodecs...),
		},
		TURN:     GatewayTURN{Realm: "edgebox", CredentialTTLSec: 3600},
		MaxCalls: defaultMaxCalls,
	}
}

// DefaultDrainLimitSec is the drain limit when gateway.drain_limit_sec is
// not set.
const DefaultDrainLimitSec = 300

// MaxDrainLimitSec bounds gateway.drain_limit_sec: an update must not wait
// longer than an hour for calls.
const MaxDrainLimitSec = 3600

// DrainLimit is DrainLimitSec with its default.
func (s Gateway) DrainLimit() time.Duration {
	if s.DrainLimitSec <= 0 {
		return DefaultDrainLimitSec * time.Second
	}
	return time.Duration(s.DrainLimitSec) * time.Second
}

// defaultMaxCalls is the call limit when gateway.max_calls is not set.
const defaultMaxCalls = 100

// CallLimit is MaxCalls with its default.
func (s Gateway) CallLimit() int {
	if s.MaxCalls <= 0 {
		return defaultMaxCalls
	}
	return s.MaxCalls
}

// Validate reports what is wrong with the gateway section, naming fields.
func (s Gateway) Validate() error {
	var e fieldErrs
	s.checkPBX(&e)
	s.checkSIP(&e)
	s.checkTrunk(&e)
	s.checkPortal(&e)
	s.checkMedia(&e)
	s.checkRelays(&e)
	return errors.Join(append(e, s.GSM.Validate())...)
}

// fieldErrs collects the gateway section's refusals, each naming its field.
type fieldErrs []error

func (e *fieldErrs) bad(field, format string, a ...any) {
	*e = append(*e, fmt.Errorf("gateway.%s: %s", field, fmt.Sprintf(format, a...)))
}

// checkPBX: the PBX's address and transport, the call limits and who may send requests.
func (s Gateway) checkPBX(e *fieldErrs) {
	if s.Enabled && s.PBX.Address == "" {
		e.bad("pbx.address", "required when the gateway is enabled (host:port of the PBX)")
	}
	if s.PBX.Address != "" {
		if _, _, err := gwSplitPort(s.PBX.HostPort()); err != nil {
			e.bad("pbx.address", "%v", err)
		}
	}
	if s.MaxCalls < 0 || s.MaxCalls > 10000 {
		e.bad("max_calls", "%d is outside 1..10000 (0: the default, %d)", s.MaxCalls, defaultMaxCalls)
	}
	if s.DrainLimitSec < 0 || s.DrainLimitSec > MaxDrainLimitSec {
		e.bad("drain_limit_sec", "%d is outside 1..%d seconds (0: the default, %d)", s.DrainLimitSec, MaxDrainLimitSec, DefaultDrainLimitSec)
	}
	if !gwValidTransport(s.PBX.Transport) {
		e.bad("pbx.transport", "%q is not udp, tcp or tls", s.PBX.Transport)
	}
	for i, a := range s.PBX.AllowedSources {
		if _, err := ParsePrefixOrIP(a); err != nil {
			e.bad(fmt.Sprintf("pbx.allowed_sources[%d]", i), "%v", err)
		}
	}
}

// checkSIP: the listeners, and one for the PBX's transport.
func (s Gateway) checkSIP(e *fieldErrs) {
	if len(s.SIP.Listen) == 0 && s.Enabled {
		e.bad("sip.listen", "at least one listener is needed")
	}
	hasTLS := false
	for i, l := range s.SIP.Listen {
		if !gwValidTransport(l.Transport) {
			e.bad(fmt.Sprintf("sip.listen[%d].transport", i), "%q is not udp, tcp or tls", l.Transport)
		}
		if l.Transport == "tls" {
			hasTLS = true
		}
		if _, _, err := gwSplitPort(l.Address); err != nil {
			e.bad(fmt.Sprintf("sip.listen[%d].address", i), "%v", err)
		}
		if l.Interface != "" && !gwInterfaceName.MatchString(l.Interface) {
			e.bad(fmt.Sprintf("sip.listen[%d].interface", i), "%q is not an interface name", l.Interface)
		}
	}
	if s.Enabled && len(s.SIP.Listen) > 0 && gwValidTransport(s.PBX.Transport) {
		found := false
		for _, l := range s.SIP.Listen {
			found = found || l.Transport == s.PBX.Transport
		}
		if !found {
			e.bad("pbx.transport", "%s needs a sip.listen entry with that transport", s.PBX.Transport)
		}
	}
	if hasTLS && (s.SIP.TLSCert == "" || s.SIP.TLSKey == "") {
		e.bad("sip.tls_cert", "a tls listener needs tls_cert and tls_key")
	}
}

// checkTrunk: registration.
func (s Gateway) checkTrunk(e *fieldErrs) {
	if s.Trunk.Register && s.Trunk.Username == "" {
		e.bad("trunk.username", "required to register")
	}
	if s.Trunk.RegisterExpiresSec != 0 && (s.Trunk.RegisterExpiresSec < 30 || s.Trunk.RegisterExpiresSec > 86400) {
		e.bad("trunk.register_expires_sec", "%d is outside 30..86400", s.Trunk.RegisterExpiresSec)
	}
}

// checkPortal: the portal's listener, TLS, API keys, tokens and rate.
func (s Gateway) checkPortal(e *fieldErrs) {
	if _, _, err := gwSplitPort(s.Portal.Listen); err != nil {
		e.bad("portal.listen", "%v", err)
	} else if s.Portal.PlainHTTP {
		host, _, _ := net.SplitHostPort(s.Portal.Listen)
		if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
			e.bad("portal.plain_http", "allowed only on a loopback listen address, not %q", s.Portal.Listen)
		}
	}
	if (s.Portal.TLSCert == "") != (s.Portal.TLSKey == "") {
		e.bad("portal.tls_cert", "tls_cert and tls_key go together")
	}
	if s.Portal.PublicURL != "" && !strings.HasPrefix(s.Portal.PublicURL, "https://") && !strings.HasPrefix(s.Portal.PublicURL, "http://") {
		e.bad("portal.public_url", "%q must start with https://", s.Portal.PublicURL)
	}
	names := map[string]bool{}
	for i, k := range s.Portal.APIKeys {
		if k.Name == "" || names[k.Name] {
			e.bad(fmt.Sprintf("portal.api_keys[%d].name", i), "must be set and unique")
		}
		names[k.Name] = true
		if b, err := hex.DecodeString(k.SHA256); err != nil || len(b) != 32 {
			e.bad(fmt.Sprintf("portal.api_keys[%d].sha256", i), "must be 64 hex digits (sha256 of the key)")
		}
		for j, p := range k.Destinations {
			if _, err := path.Match(p, ""); err != nil || p == "" || strings.ContainsAny(p, " \t\r\n<>\"") {
				e.bad(fmt.Sprintf("portal.api_keys[%d].destinations[%d]", i, j), "%q is not a queue name, sip: URI or pattern with * and ?", p)
			}
		}
		for j, p := range k.FromDomains {
			if _, err := path.Match(p, ""); err != nil || p == "" || strings.ContainsAny(p, " \t\r\n<>\"@:") {
				e.bad(fmt.Sprintf("portal.api_keys[%d].from_domains[%d]", i, j), "%q is not a domain or pattern (example.com, *.example.com, *)", p)
			}
		}
	}
	if s.Portal.TokenTTLSec < 5 || s.Portal.TokenTTLSec > 600 {
		e.bad("portal.token_ttl_sec", "%d is outside 5..600", s.Portal.TokenTTLSec)
	}
	if c := s.Portal.CallbackTTLSec; c != 0 && (c < 5 || c > 3600) {
		e.bad("portal.callback_ttl_sec", "%d is outside 5..3600 (0: 300)", c)
	}
	if s.Portal.RatePerMinute < 1 || s.Portal.RatePerMinute > 100000 {
		e.bad("portal.rate_per_minute", "%d is outside 1..100000", s.Portal.RatePerMinute)
	}
}

// checkMedia: ICE, RTP ports, codecs, the stack and ICE servers.
func (s Gateway) checkMedia(e *fieldErrs) {
	m := s.Media
	if m.ICEPort < 1 || m.ICEPort > 65535 {
		e.bad("media.ice_port", "%d is not a UDP port", m.ICEPort)
	}
	for _, f := range []struct{ name, v string }{{"media.ice_address", m.ICEAddress}, {"media.public_address", m.PublicAddress}, {"media.rtp_address", m.RTPAddress}} {
		if f.v != "" {
			if _, err := netip.ParseAddr(f.v); err != nil {
				e.bad(f.name, "%q is not an IP address", f.v)
			}
		}
	}
	if m.RTPPortMin < 1024 || m.RTPPortMax > 65534 || m.RTPPortMin+3 > m.RTPPortMax {
		e.bad("media.rtp_port_min", "range %d..%d must lie in 1024..65534 and hold at least two port pairs", m.RTPPortMin, m.RTPPortMax)
	}
	if len(m.Codecs) == 0 {
		e.bad("media.codecs", "at least one codec is needed (%s)", strings.Join(knownCodecs, ", "))
	}
	for i, c := range m.Codecs {
		if !gwContains(knownCodecs, strings.ToLower(c)) {
			e.bad(fmt.Sprintf("media.codecs[%d]", i), "%q is not one of %s", c, strings.Join(knownCodecs, ", "))
		}
	}
	if m.Stack != "" && m.Stack != StackPion && m.Stack != StackLean {
		e.bad("media.stack", "%q is not %q or %q", m.Stack, StackPion, StackLean)
	}
	for i, srv := range m.ICEServers {
		if len(srv.URLs) == 0 {
			e.bad(fmt.Sprintf("media.ice_servers[%d].urls", i), "at least one stun: or turn: URL")
		}
		for _, u := range srv.URLs {
			if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
				e.bad(fmt.Sprintf("media.ice_servers[%d].urls", i), "%q is not a stun:, turn: or turns: URL", u)
			}
		}
	}
}

// checkRelays: the built-in STUN and TURN servers.
func (s Gateway) checkRelays(e *fieldErrs) {
	if s.STUN.Listen != "" {
		if _, _, err := gwSplitPort(s.STUN.Listen); err != nil {
			e.bad("stun.listen", "%v", err)
		}
	}
	if s.TURN.Listen != "" {
		if _, _, err := gwSplitPort(s.TURN.Listen); err != nil {
			e.bad("turn.listen", "%v", err)
		}
		if len(s.TURN.Secret) < 16 {
			e.bad("turn.secret", "at least 16 characters are needed for REST credentials")
		}
		if _, err := netip.ParseAddr(s.TURN.RelayAddress); err != nil {
			e.bad("turn.relay_address", "%q is not an IP address", s.TURN.RelayAddress)
		}
		if s.TURN.CredentialTTLSec != 0 && (s.TURN.CredentialTTLSec < 60 || s.TURN.CredentialTTLSec > 86400) {
			e.bad("turn.credential_ttl_sec", "%d is outside 60..86400", s.TURN.CredentialTTLSec)
		}
		for i, a := range s.TURN.AllowedPeers {
			if _, err := ParsePrefixOrIP(a); err != nil {
				e.bad(fmt.Sprintf("turn.allowed_peers[%d]", i), "%v", err)
			}
		}
	}
}

// ParsePrefixOrIP reads "192.0.2.1" or "192.0.2.0/24".
func ParsePrefixOrIP(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP or CIDR", s)
		}
		return p.Masked(), nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP or CIDR", s)
	}
	return netip.PrefixFrom(ip, ip.BitLen()), nil
}

func gwSplitPort(hostport string) (string, int, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not host:port", hostport)
	}
	var p int
	if _, err := fmt.Sscanf(port, "%d", &p); err != nil || p < 1 || p > 65535 {
		return "", 0, fmt.Errorf("%q has no valid port", hostport)
	}
	return host, p, nil
}

// HostPort is Address with the SIP default port when it has none: 5060,
// or 5061 over TLS.
func (p GatewayPBX) HostPort() string {
	if p.Address == "" {
		return ""
	}
	if _, _, err := net.SplitHostPort(p.Address); err == nil {
		return p.Address
	}
	host := strings.TrimSuffix(strings.TrimPrefix(p.Address, "["), "]")
	port := "5060"
	if p.Transport == "tls" {
		port = "5061"
	}
	return net.JoinHostPort(host, port)
}

// PBXIsTheBox refuses a gateway.pbx.address that points at one of the
// box's own listeners (its SIP port, portal, STUN, TURN or WebRTC port): a
// REGISTER there is answered by the box itself (405), or by nothing, and
// the installer is told the password is wrong. It reads the box's
// addresses, so it is not part of Validate (a stored config must load
// whatever the interfaces hold): web applies it to every change it
// stores, and the gateway's trunk check reports it.
func (s Gateway) PBXIsTheBox() error {
	if what := s.boxItself(); what != "" {
		return fmt.Errorf("gateway.pbx.address: %s is this box itself (%s), not a PBX: enter the address of the PBX or its SIP proxy", s.PBX.HostPort(), what)
	}
	return nil
}

// boxItself says which of the box's own listeners the PBX address points
// at ("its own SIP port" ...), or "" when it is not the box.
func (s Gateway) boxItself() string {
	host, port, err := gwSplitPort(s.PBX.HostPort())
	if err != nil {
		return ""
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		if host != "localhost" {
			return ""
		}
		ip = netip.MustParseAddr("127.0.0.1")
	}
	ip = ip.Unmap()
	own := ip.IsLoopback() || ip.IsUnspecified()
	if !own {
		addrs, _ := net.InterfaceAddrs()
		for _, a := range addrs {
			if pn, ok := a.(*net.IPNet); ok {
				if la, ok := netip.AddrFromSlice(pn.IP); ok && la.Unmap() == ip {
					own = true
				}
			}
		}
	}
	if !own {
		return ""
	}
	samePort := func(listen string) bool {
		lh, lp, err := gwSplitPort(listen)
		if err != nil || lp != port {
			return false
		}
		la, err := netip.ParseAddr(lh)
		return lh == "" || err != nil || la.IsUnspecified() || la.Unmap() == ip
	}
	for _, l := range s.SIP.Listen {
		if samePort(l.Address) {
			return "its own SIP port"
		}
	}
	switch {
	case samePort(s.Portal.Listen):
		return "its portal port"
	case s.STUN.Listen != "" && samePort(s.STUN.Listen):
		return "its STUN port"
	case s.TURN.Listen != "" && samePort(s.TURN.Listen):
		return "its TURN port"
	case port == s.Media.ICEPort:
		return "its WebRTC port"
	}
	return ""
}

var gwInterfaceName = lazyregexp.New(`^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,14}$`)

func gwValidTransport(t string) bool { return t == "udp" || t == "tcp" || t == "tls" }

func gwContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
