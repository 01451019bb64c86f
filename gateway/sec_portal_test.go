package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"

	"github.com/coder/websocket"
)

// TestTollFraudRefusedAtThePortal: a portal key allowed one queue and one
// caller domain asks for an international number, the same number as a
// URI, a queue it was not given and a caller in another domain. Each is
// refused with 403 and no INVITE reaches the PBX (SIPp); the allowed queue
// still rings through.
func TestTollFraudRefusedAtThePortal(t *testing.T) {
	uas := startSIPp(t, "uas_echo", 1)
	cfg := testConfig(t, uas.addr())
	cfg.Portal.APIKeys[0].Destinations = []string{"support", "sip:agent@127.0.0.1"}
	cfg.Portal.APIKeys[0].FromDomains = []string{"example.com"}
	svc := startGateway(t, cfg)

	for _, req := range []gateway.AuthorizeRequest{
		{From: testFrom, Destination: "0019005550100"},
		{From: testFrom, Destination: "011441234567890"},
		{From: testFrom, Destination: "sip:0019005550100@127.0.0.1"},
		{From: testFrom, Destination: "sales"},
		{From: "sip:ceo@bank.example", Destination: "support"},
	} {
		_, err := clientAuthorize(svc, req)
		var he *client.HTTPError
		if !asHTTPError(err, &he) || he.Status != http.StatusForbidden || !strings.Contains(he.Message, "not allowed for API key") {
			t.Errorf("%s -> %s: %v, want 403 naming the API key's allow-list", req.From, req.Destination, err)
		}
	}
	if v := metricValue(t, svc, `edgebox_gateway_portal_refusals_total{reason="destination_not_allowed"}`); v != "4" {
		t.Errorf("destination refusals counted %q, want 4", v)
	}

	// The allowed destination is called: the only INVITE SIPp ever saw.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	c.Hangup(ctx)
	c.WaitEvent(ctx, gateway.EventEnded)
	uas.wait(t, 10*time.Second)
	tr := uas.traces()
	if n := strings.Count(tr, "\nINVITE sip:"); n != 1 || strings.Contains(tr, "9005550100") || strings.Contains(tr, "INVITE sip:sales") {
		t.Errorf("the PBX received %d INVITEs (want only the allowed one):\n%s", n, tr)
	}
}

// TestDemoOffAndCSPEverywhere: the demo page (with its API-key form) is off
// unless configured, and every page and error the portal serves carries a
// Content-Security-Policy that allows the box's own scripts and
// connections only.
func TestDemoOffAndCSPEverywhere(t *testing.T) {
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	svc := startGateway(t, cfg)
	get := func(path string) (int, http.Header, string) {
		t.Helper()
		res, err := httpClient.Get(portalBase(svc) + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, string(b)
	}
	checkCSP := func(path string, h http.Header) {
		t.Helper()
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: Content-Security-Policy %q lacks %s", path, csp, want)
			}
		}
		if h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no X-Content-Type-Options: nosniff", path)
		}
	}
	for _, p := range []string{"/demo/", "/demo/index.html", "/"} {
		code, h, body := get(p)
		if code != http.StatusNotFound || strings.Contains(body, "apikey") {
			t.Errorf("%s with the demo off: %d %q, want 404", p, code, body)
		}
		checkCSP(p, h)
	}
	for _, p := range []string{"/sdk/edgebox-call.js", "/v1/signal", "/nothing"} {
		_, h, _ := get(p)
		checkCSP(p, h)
	}

	on := cfg
	on.Portal.Demo = true
	if err := svc.Apply(on); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/demo/", "/demo/demo.js", "/demo/demo.css"} {
		code, h, body := get(p)
		if code != http.StatusOK {
			t.Errorf("%s with the demo on: %d", p, code)
		}
		checkCSP(p, h)
		if p == "/demo/" && (strings.Contains(body, "<script>") || strings.Contains(body, "<style>") || inlineHandler.MatchString(body)) {
			t.Errorf("the demo page has inline code the CSP would block:\n%s", body)
		}
	}
}

// TestSignalingFloodCapped: one address opens many WebSockets and sends no
// token. Only a few are accepted; the rest are refused before the upgrade,
// and a portal user at another address still gets through.
func TestSignalingFloodCapped(t *testing.T) {
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	svc := startGateway(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url := "ws://" + svc.PortalAddr() + "/v1/signal"

	const attempts = 100
	var mu sync.Mutex
	var open []*websocket.Conn
	refused := 0
	var wg sync.WaitGroup
	for i := 0; i < attempts; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws, res, err := websocket.Dial(ctx, url, nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				open = append(open, ws)
			case res != nil && res.StatusCode == http.StatusTooManyRequests:
				refused++
			default:
				t.Errorf("upgrade failed otherwise: %v", err)
			}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, ws := range open {
			ws.CloseNow()
		}
	})
	if len(open) > 8 || refused != attempts-len(open) {
		t.Errorf("%d of %d unauthenticated sockets from one address accepted (%d refused), want at most 8", len(open), attempts, refused)
	}
	// Another address is not affected.
	other, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: httpClientFrom("127.0.0.2")})
	if err != nil {
		t.Errorf("another address is refused too: %v", err)
	} else {
		other.CloseNow()
	}
	// Closing the idle sockets frees the address's places.
	for _, ws := range open {
		ws.CloseNow()
	}
	open = nil
	for {
		ws, _, err := websocket.Dial(ctx, url, nil)
		if err == nil {
			ws.CloseNow()
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the address stays refused after closing its sockets: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestMaxCallsRefusedClearly: with gateway.max_calls 1 and one call up, a
// second caller with a valid token gets the "busy" error in words; the
// token is not spent and works once the first call ended.
func TestMaxCallsRefusedClearly(t *testing.T) {
	uas := startSIPp(t, "uas_echo", 2)
	cfg := testConfig(t, uas.addr())
	cfg.MaxCalls = 1
	svc := startGateway(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	first := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	if _, err := first.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	res, err := clientAuthorize(svc, gateway.AuthorizeRequest{From: testFrom, Destination: "sip:agent@127.0.0.1", Context: testContext})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.Dial(ctx, res.WebSocketURL, res.Token, client.Options{LoopbackOnly: true})
	wantRefused(t, err, gateway.CodeBusy, "a call over max_calls")
	if err == nil || !strings.Contains(err.Error(), "max_calls") {
		t.Errorf("refusal %v does not say which limit", err)
	}
	first.Hangup(ctx)
	first.WaitEvent(ctx, gateway.EventEnded)
	for len(svc.Snapshot()) != 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the first call did not end")
		case <-time.After(50 * time.Millisecond):
		}
	}
	second := dialWith(t, ctx, res)
	if _, err := second.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatalf("the refused token does not work once there is room: %v", err)
	}
	second.Hangup(ctx)
	second.WaitEvent(ctx, gateway.EventEnded)
	uas.wait(t, 10*time.Second)
}

var inlineHandler = regexp.MustCompile(`\son[a-z]+=`)

// httpClientFrom is an HTTP client whose connections leave from localIP.
func httpClientFrom(localIP string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}
