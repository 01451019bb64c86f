package gateway_test

import (
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
		{"gateway.pbx.address", func(c *config.Gateway) { c.PBX.Address = "pbx-without-port" }},
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
