package web

import (
	"html"
	"net/http"
	"strings"
	"testing"
	"time"

	"edgebox/api/gatewayapi"
	"edgebox/internal/config"
	"edgebox/internal/localapi"
)

// The GSM page shows the gateway's live and recent GSM calls and each
// SIM's routing from the config with its state (two SIMs, one per slot:
// issue 19 item 5); the dashboard's trunk card says what the live GSM
// call is and that another SIM carries one too.
func TestGSMPageAndDashboard(t *testing.T) {
	e := gsmTwoSIMs(t)
	e.bootstrap()
	c := newJarClient(t)
	e.want(c, call{method: "POST", path: "/api/v1/login", body: LoginRequest{Username: "admin", Password: testPassword}}, 200, nil)
	code, raw := e.do(c, call{method: "GET", path: "/gsm"})
	page := html.UnescapeString(string(raw))
	if code != 200 {
		t.Fatalf("GET /gsm: %d %s", code, page)
	}
	for _, want := range []string{"+4930555123", "connected", "PCMA", "4200/4210 RTP, 61 ms, -120 ppm", "1m 24s",
		"+49301234567", "486 the GSM network: busy", "withheld", "200 PBX hung up",
		"sip:queue-sales@pbx.example.com", "+4930*", "40 calls per day", "sip:sms@pbx.example.com", "+4915*", "Calls the PBX placed today: 3",
		`id="gsm-sim-2"`, "sip:queue-support@pbx.example.com", "+4940*", "25 calls per day · today: 1", "sip:sms-support@pbx.example.com", "+4917*",
		"from the SIM (262019999999999)", "+4940555999", "40 calls per day · today: 2"} {
		if !strings.Contains(page, want) {
			t.Errorf("the GSM page lacks %q", want)
		}
	}
	code, raw = e.do(c, call{method: "GET", path: "/dashboard"})
	if dash := html.UnescapeString(string(raw)); code != 200 || !strings.Contains(dash, "GSM calls") || !strings.Contains(dash, "incoming +4930555123") || !strings.Contains(dash, "(+1 on other SIMs)") {
		t.Errorf("the dashboard shows no live GSM call (%d)", code)
	}
}

// gsmTwoSIMs is a web with two SIMs configured and a gateway that reports
// a call on each.
func gsmTwoSIMs(t *testing.T) *testEnv {
	t.Helper()
	e := newTestEnv(t, true, Options{Hostname: "edgebox-test"})
	cfg, err := config.Load(e.srv.opt.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Gateway.GSM = config.GatewayGSM{Enabled: true, SIMs: []config.GSMSIM{{Slot: "1", CountryCode: "49", Number: "+4915100000001",
		SMS:   config.GSMSMS{MessageURI: "sip:sms@pbx.example.com", Allow: []string{"+4915*"}},
		Voice: config.GSMVoice{Inbound: "sip:queue-sales@pbx.example.com", Allow: []string{"+4930*"}, MaxCallsPerDay: 40}}, {Slot: "2", CountryCode: "49",
		SMS:   config.GSMSMS{MessageURI: "sip:sms-support@pbx.example.com", Allow: []string{"+4917*"}},
		Voice: config.GSMVoice{Inbound: "sip:queue-support@pbx.example.com", Allow: []string{"+4940*"}, MaxCallsPerDay: 25}}}}
	if err := config.Save(e.srv.opt.ConfigPath, cfg); err != nil {
		t.Fatal(err)
	}
	started := time.Now().Add(-90 * time.Second)
	serveUnix(t, gatewayapi.SocketName, func() http.Handler {
		m := http.NewServeMux()
		m.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
			localapi.WriteJSON(w, 200, gatewayapi.Status{Enabled: true, PBX: "pbx.example.com:5060", Registration: "registered"})
		})
		m.HandleFunc("GET /v1/gsm/calls", func(w http.ResponseWriter, r *http.Request) {
			localapi.WriteJSON(w, 200, gatewayapi.GSMCalls{Voice: true, CallsToday: 3,
				SIMs: []gatewayapi.GSMSIM{{Slot: "1", Identity: "+4915100000001", Voice: true, Registered: true, Busy: true, CallsToday: 2},
					{Slot: "2", Identity: "262019999999999", Voice: true, Registered: true, CallsToday: 1}},
				Active: []gatewayapi.GSMCall{{ID: "gsm-4", Direction: gatewayapi.GSMInbound, Number: "+4930555123", SIM: "+4915100000001", State: gatewayapi.GSMStateConnected, Codec: "PCMA", StartedAt: started, AnsweredAt: started, DurationSec: 84,
					Audio: &gatewayapi.GSMAudio{RTPIn: 4200, RTPOut: 4210, DepthMS: 61, DriftPPM: -120}},
					{ID: "gsm-5", Direction: gatewayapi.GSMOutbound, Number: "+4940555999", SIM: "262019999999999", Slot: "2", State: gatewayapi.GSMStateAlerting, StartedAt: started}},
				Recent: []gatewayapi.GSMCall{{ID: "gsm-3", Direction: gatewayapi.GSMOutbound, Number: "+49301234567", State: gatewayapi.GSMStateEnded, StartedAt: started, SIPCode: 486, Reason: "the GSM network: busy"},
					{ID: "gsm-2", Direction: gatewayapi.GSMInbound, Withheld: true, State: gatewayapi.GSMStateEnded, StartedAt: started, SIPCode: 200, Reason: "PBX hung up"}}})
		})
		return m
	}())
	return e
}
