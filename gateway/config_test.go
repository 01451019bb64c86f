package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"

	"edgebox/gateway"
	"edgebox/internal/config"
)

func TestGatewayConfigValidateNamesFields(t *testing.T) {
	if err := config.DefaultGateway().Validate(); err != nil {
		t.Fatalf("default: %v", err)
	}
	good := func() config.Gateway {
		c := config.DefaultGateway()
		c.Enabled = true
		c.PBX.Address = "192.0.2.10:5060"
		c.Portal.APIKeys = []config.GatewayAPIKey{{Name: "portal", SHA256: gateway.HashAPIKey("k")}}
		return c
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("good: %v", err)
	}
	for _, tc := range []struct {
		field string
		edit  func(*config.Gateway)
	}{
		{"gateway.pbx.address", func(c *config.Gateway) { c.PBX.Address = "" }},
		{"gateway.pbx.address", func(c *config.Gateway) { c.PBX.Address = "pbx:no-port" }},
		{"gateway.portal.api_keys[0].destinations[0]", func(c *config.Gateway) { c.Portal.APIKeys[0].Destinations = []string{"sales-["} }},
		{"gateway.portal.api_keys[0].from_domains[0]", func(c *config.Gateway) { c.Portal.APIKeys[0].FromDomains = []string{"user@example.com"} }},
		{"gateway.turn.allowed_peers[0]", func(c *config.Gateway) {
			c.TURN.Listen, c.TURN.RelayAddress, c.TURN.Secret = ":3479", "192.0.2.1", "0123456789abcdef"
			c.TURN.AllowedPeers = []string{"10.0.0.0/33"}
		}},
		{"gateway.sip.listen[0].interface", func(c *config.Gateway) { c.SIP.Listen[0].Interface = "lan 0" }},
		{"gateway.max_calls", func(c *config.Gateway) { c.MaxCalls = -1 }},
		{"gateway.drain_limit_sec", func(c *config.Gateway) { c.DrainLimitSec = -1 }},
		{"gateway.drain_limit_sec", func(c *config.Gateway) { c.DrainLimitSec = 3601 }},
		{"gateway.pbx.transport", func(c *config.Gateway) { c.PBX.Transport = "sctp" }},
		{"gateway.pbx.transport", func(c *config.Gateway) { c.PBX.Transport = "tcp" }}, // no tcp listener
		{"gateway.pbx.allowed_sources[0]", func(c *config.Gateway) { c.PBX.AllowedSources = []string{"10.0.0.300"} }},
		{"gateway.sip.listen[0].address", func(c *config.Gateway) { c.SIP.Listen[0].Address = ":99999" }},
		{"gateway.sip.tls_cert", func(c *config.Gateway) {
			c.SIP.Listen = append(c.SIP.Listen, config.GatewaySIPListen{Transport: "tls", Address: ":5061"})
		}},
		{"gateway.trunk.username", func(c *config.Gateway) { c.Trunk.Register = true }},
		{"gateway.portal.plain_http", func(c *config.Gateway) { c.Portal.PlainHTTP = true }},
		{"gateway.portal.api_keys[0].sha256", func(c *config.Gateway) { c.Portal.APIKeys[0].SHA256 = "plaintext-key" }},
		{"gateway.portal.token_ttl_sec", func(c *config.Gateway) { c.Portal.TokenTTLSec = 3600 }},
		{"gateway.media.public_address", func(c *config.Gateway) { c.Media.PublicAddress = "box.example.com" }},
		{"gateway.media.rtp_port_min", func(c *config.Gateway) { c.Media.RTPPortMin, c.Media.RTPPortMax = 30000, 30001 }},
		{"gateway.media.codecs[0]", func(c *config.Gateway) { c.Media.Codecs = []string{"g729"} }},
		{"gateway.media.ice_servers[0].urls", func(c *config.Gateway) {
			c.Media.ICEServers = []config.GatewayICEServer{{URLs: []string{"http://x"}}}
		}},
		{"gateway.turn.secret", func(c *config.Gateway) { c.TURN.Listen, c.TURN.RelayAddress = ":3479", "192.0.2.1" }},
	} {
		c := good()
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field+":") {
			t.Errorf("%s: got %v", tc.field, err)
		}
	}
}

func TestApplyRefusesInvalidConfigAndKeepsRunning(t *testing.T) {
	cfg := testConfig(t, "127.0.0.1:5")
	svc := startGateway(t, cfg)
	bad := cfg
	bad.Portal.TokenTTLSec = 0
	if err := svc.Apply(bad); err == nil {
		t.Fatal("invalid config applied")
	}
	if svc.Config().Portal.TokenTTLSec != cfg.Portal.TokenTTLSec {
		t.Error("running config changed by a refused one")
	}
	if _, err := clientAuthorize(svc, gateway.AuthorizeRequest{From: testFrom, Destination: "support"}); err != nil {
		t.Errorf("portal after refused reload: %v", err)
	}
}

func TestPBXAddressWithoutPortMeans5060(t *testing.T) {
	for _, tc := range []struct{ addr, transport, want string }{
		{"pbx.example.net", "udp", "pbx.example.net:5060"},
		{"192.0.2.10", "tcp", "192.0.2.10:5060"},
		{"pbx.example.net", "tls", "pbx.example.net:5061"},
		{"[2001:db8::1]", "udp", "[2001:db8::1]:5060"},
		{"192.0.2.10:5070", "udp", "192.0.2.10:5070"},
	} {
		p := config.GatewayPBX{Address: tc.addr, Transport: tc.transport}
		if got := p.HostPort(); got != tc.want {
			t.Errorf("%s over %s: %s, want %s", tc.addr, tc.transport, got, tc.want)
		}
	}
	c := config.DefaultGateway()
	c.Enabled, c.PBX.Address = true, "192.0.2.10"
	if err := c.Validate(); err != nil {
		t.Errorf("a PBX address without a port is refused: %v", err)
	}
}

// TestAPIKeyAllowListsMigrated: a key stored before allow-lists existed
// keeps calling named queues, never numbers or URIs; a key written now
// with no lists may call nothing.
func TestAPIKeyAllowListsMigrated(t *testing.T) {
	var legacy config.GatewayAPIKey
	if err := json.Unmarshal([]byte(`{"name":"portal","sha256":"00"}`), &legacy); err != nil {
		t.Fatal(err)
	}
	var strict config.GatewayAPIKey
	if err := json.Unmarshal([]byte(`{"name":"portal","sha256":"00","destinations":null,"from_domains":null}`), &strict); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key        config.GatewayAPIKey
		dest       string
		want       bool
		whose, why string
	}{
		{legacy, "support", true, "legacy", "a named queue"},
		{legacy, "0019005550100", false, "legacy", "a dial string"},
		{legacy, "+19005550100", false, "legacy", "a dial string"},
		{legacy, "sip:0019005550100@pbx.example.com", false, "legacy", "a URI"},
		{strict, "support", false, "new", "nothing listed"},
	} {
		if got := tc.key.AllowsDestination(tc.dest); got != tc.want {
			t.Errorf("%s key, %s %q: allowed %v, want %v", tc.whose, tc.why, tc.dest, got, tc.want)
		}
	}
	if !legacy.AllowsFromDomain("example.com") || strict.AllowsFromDomain("example.com") {
		t.Error("from domains: legacy keys keep any domain, new keys none")
	}
	b, _ := json.Marshal(strict)
	var again config.GatewayAPIKey
	json.Unmarshal(b, &again)
	if again.AllowsDestination("support") {
		t.Errorf("a strict key saved and read back (%s) became permissive", b)
	}
	if err := json.Unmarshal([]byte(`{"name":"p","sha256":"00","destination":["x"]}`), &strict); err == nil {
		t.Error("a misspelt field is accepted")
	}
	k := config.GatewayAPIKey{Destinations: []string{"sales-*", "sip:*@pbx.example.com"}, FromDomains: []string{"*.example.com"}}
	for dest, want := range map[string]bool{"sales-1": true, "support": false, "sip:alice@pbx.example.com": true,
		"sip:alice@evil.example": false, "sip:sales-1@pbx.example.com": true, "sales-1@x": true} {
		if got := k.AllowsDestination(dest); got != want {
			t.Errorf("%q allowed %v, want %v", dest, got, want)
		}
	}
	if !k.AllowsFromDomain("shop.example.com") || k.AllowsFromDomain("example.org") {
		t.Error("from domain patterns")
	}
}

// TestPBXIsTheBoxRefused: a PBX address on one of the box's own listeners
// is refused with words (the box REGISTERed to its own SIP port and was
// answered 405); a PBX elsewhere, or on loopback at another port, is not.
func TestPBXIsTheBoxRefused(t *testing.T) {
	for addr, self := range map[string]bool{
		"127.0.0.1:5060": true, // sip.listen is 0.0.0.0:5060
		"localhost":      true, // 5060 by default
		"127.0.0.1:8443": true, // the portal
		"0.0.0.0:8478":   true, // the WebRTC port
		"192.0.2.10":     false,
		"127.0.0.1:5070": false, // a PBX on the box's loopback (tests do that)
	} {
		c := config.DefaultGateway()
		c.Enabled, c.PBX.Address = true, addr
		if err := c.Validate(); err != nil {
			t.Errorf("%s: Validate refuses it (a stored config must load): %v", addr, err)
		}
		err := c.PBXIsTheBox()
		if self != (err != nil) || (self && !strings.Contains(err.Error(), "is this box itself")) {
			t.Errorf("%s: %v, want refused %v", addr, err, self)
		}
	}
}
