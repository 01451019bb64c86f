package gateway_test

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/api/gatewayapi"
	"edgebox/gateway"
	"edgebox/internal/config"
	"edgebox/internal/localapi"
)

// drainReply is the API's drain state as the test reads it.
type drainReply struct {
	Draining    bool `json:"draining"`
	ActiveCalls int  `json:"active_calls"`
	LimitSec    int  `json:"limit_sec"`
	TimedOut    bool `json:"timed_out"`
}

// serveAPI serves svc's local API on a socket in a temp dir.
func serveAPI(t *testing.T, svc *gateway.Service) gatewayapi.Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "gateway.sock")
	l, err := localapi.ListenPath(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { localapi.Serve(ctx, l, svc.APIHandler()); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	c := gatewayapi.NewClientPath(sock)
	c.HTTP.Timeout = 0
	return c
}

// startDrainWait posts /v1/drain?wait=1 and delivers its answer.
func startDrainWait(t *testing.T, api gatewayapi.Client) <-chan drainReply {
	out := make(chan drainReply, 1)
	go func() {
		var d drainReply
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := api.Post(ctx, "/v1/drain?wait=1", struct{}{}, &d); err != nil {
			t.Errorf("drain: %v", err)
		}
		out <- d
	}()
	return out
}

// portalStatus sends a raw portal request and returns status and Retry-After.
func portalStatus(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader([]byte(`{"from":"`+testFrom+`","destination":"sip:agent@127.0.0.1"}`)))
	req.Header.Set("X-API-Key", testAPIKey)
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Retry-After")
}

// A drain before a reboot: the live call goes on and the wait lasts until
// it ends; meanwhile new token requests, new signaling sockets and
// OPTIONS get 503; after undrain the box takes calls again.
func TestDrainKeepsLiveCallRefusesNew(t *testing.T) {
	e := startEchoCall(t, nil)
	api := serveAPI(t, e.svc)
	pbx := newSIPPeer(t, "127.0.0.1", sipListen(e.svc))
	pbx.request(t, "OPTIONS", "kamailio", "")
	if st, _ := pbx.response(t); st != "SIP/2.0 200 OK" {
		t.Fatalf("OPTIONS before the drain: %q", st)
	}

	res := startDrainWait(t, api)
	waitFor(t, 30*time.Second, "the box draining", e.svc.Draining)

	if code, ra := portalStatus(t, http.MethodPost, portalBase(e.svc)+"/v1/calls"); code != 503 || ra == "" {
		t.Errorf("token request while draining: %d Retry-After %q; want 503 with Retry-After", code, ra)
	}
	if code, ra := portalStatus(t, http.MethodGet, portalBase(e.svc)+"/v1/signal"); code != 503 || ra == "" {
		t.Errorf("new signaling socket while draining: %d Retry-After %q; want 503 with Retry-After", code, ra)
	}
	pbx.request(t, "OPTIONS", "kamailio", "")
	if st, _ := pbx.response(t); st != "SIP/2.0 503 Draining" {
		t.Errorf("OPTIONS while draining: %q; want 503 Draining", st)
	}
	// a dispatcher outside gateway.pbx.allowed_sources gets the stateless
	// answer: it must say the same
	stranger := newSIPPeer(t, "127.0.0.2", sipListen(e.svc))
	stranger.request(t, "OPTIONS", "kamailio", "")
	if st, _ := stranger.response(t); !strings.HasPrefix(st, "SIP/2.0 503") {
		t.Errorf("OPTIONS from outside the PBX's addresses while draining: %q; want 503", st)
	}
	var st drainReply
	if err := api.Get(context.Background(), "/v1/drain", &st); err != nil || !st.Draining || st.ActiveCalls != 1 || st.LimitSec != config.DefaultDrainLimitSec {
		t.Errorf("GET /v1/drain: %+v %v; want draining with 1 call, limit %d", st, err, config.DefaultDrainLimitSec)
	}
	if !e.svc.Status().Draining {
		t.Error("the gateway status (web dashboard, edgectl calls status) does not say draining")
	}
	select {
	case d := <-res:
		t.Fatalf("the drain wait ended while a call was live: %+v", d)
	default:
	}
	if n := e.svc.Status().ActiveCalls; n != 1 {
		t.Fatalf("the live call was cut by the drain: %d calls", n)
	}

	e.hangup(t)
	select {
	case d := <-res:
		if d.TimedOut || d.ActiveCalls != 0 {
			t.Errorf("drain after the call ended: %+v; want no call, not timed out", d)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the drain wait did not end after the last call ended")
	}

	if err := api.Post(context.Background(), "/v1/undrain", struct{}{}, &st); err != nil || st.Draining {
		t.Fatalf("undrain: %+v %v", st, err)
	}
	if e.svc.Status().Draining {
		t.Error("the gateway status still says draining after undrain")
	}
	pbx.request(t, "OPTIONS", "kamailio", "")
	if st, _ := pbx.response(t); st != "SIP/2.0 200 OK" {
		t.Errorf("OPTIONS after undrain: %q", st)
	}
	authorize(t, e.svc, testFrom, "sip:agent@127.0.0.1", testContext)
}

// At the drain limit the wait goes on with the call still live: the drain
// itself never cuts a call (the reboot that follows does).
func TestDrainLimitReached(t *testing.T) {
	e := startEchoCall(t, func(c *config.Gateway) { c.DrainLimitSec = 1 })
	api := serveAPI(t, e.svc)
	select {
	case d := <-startDrainWait(t, api):
		if !d.TimedOut || d.ActiveCalls != 1 || d.LimitSec != 1 {
			t.Errorf("drain at the limit: %+v; want timed out with the call live", d)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the drain wait did not end at its limit")
	}
	if n := e.svc.Status().ActiveCalls; n != 1 {
		t.Errorf("calls after the drain limit: %d; the drain must not cut the call", n)
	}
	e.hangup(t)
}

// A busy box (max_calls reached) tells a dispatcher so: OPTIONS 503.
func TestOptionsBusyAtMaxCalls(t *testing.T) {
	e := startEchoCall(t, func(c *config.Gateway) { c.MaxCalls = 1 })
	pbx := newSIPPeer(t, "127.0.0.1", sipListen(e.svc))
	pbx.request(t, "OPTIONS", "kamailio", "")
	if st, _ := pbx.response(t); st != "SIP/2.0 503 Busy" {
		t.Errorf("OPTIONS at max_calls: %q; want 503 Busy", st)
	}
	e.hangup(t)
	waitFor(t, 30*time.Second, "the call to end", func() bool { return e.svc.Status().ActiveCalls == 0 })
	pbx.request(t, "OPTIONS", "kamailio", "")
	if st, _ := pbx.response(t); st != "SIP/2.0 200 OK" {
		t.Errorf("OPTIONS with room again: %q", st)
	}
}
