package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"
)

// sipPeer sends raw SIP over UDP from a chosen loopback address.
type sipPeer struct {
	conn *net.UDPConn
	to   *net.UDPAddr
	n    int
}

func newSIPPeer(t *testing.T, localIP string, to string) *sipPeer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(localIP)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ua, _ := net.ResolveUDPAddr("udp", to)
	return &sipPeer{conn: c, to: ua}
}

// request sends method with extra headers and returns its Call-ID.
func (p *sipPeer) request(t *testing.T, method, userAgent string, body string) string {
	t.Helper()
	p.n++
	la := p.conn.LocalAddr().(*net.UDPAddr)
	callID := fmt.Sprintf("test-%d-%d@%s", time.Now().UnixNano(), p.n, la.IP)
	msg := fmt.Sprintf("%s sip:edgebox@%s SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s;branch=z9hG4bK-%d-%d\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: <sip:probe@%s>;tag=t%d\r\n"+
		"To: <sip:edgebox@%s>\r\n"+
		"Call-ID: %s\r\n"+
		"CSeq: 1 %s\r\n"+
		"Contact: <sip:probe@%s>\r\n"+
		"User-Agent: %s\r\n", method, p.to, la, time.Now().UnixNano(), p.n, la.IP, p.n, p.to, callID, method, la, userAgent)
	if body != "" {
		msg += "Content-Type: application/sdp\r\n"
	}
	msg += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
	if _, err := p.conn.WriteToUDP([]byte(msg), p.to); err != nil {
		t.Fatal(err)
	}
	return callID
}

func (p *sipPeer) raw(t *testing.T, b []byte) {
	if _, err := p.conn.WriteToUDP(b, p.to); err != nil {
		t.Fatal(err)
	}
}

// response reads the next final response and returns its status line and
// Call-ID.
func (p *sipPeer) response(t *testing.T) (status, callID string) {
	t.Helper()
	buf := make([]byte, 65535)
	for {
		p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("no SIP response: %v", err)
		}
		msg := string(buf[:n])
		line, _, _ := strings.Cut(msg, "\r\n")
		if strings.HasPrefix(line, "SIP/2.0 1") {
			continue
		}
		for _, l := range strings.Split(msg, "\r\n") {
			if v, ok := strings.CutPrefix(l, "Call-ID: "); ok {
				callID = v
			}
		}
		return line, callID
	}
}

func sipListen(svc *gateway.Service) string { return svc.Config().SIP.Listen[0].Address }

func metricValue(t *testing.T, svc *gateway.Service, series string) string {
	t.Helper()
	var b bytes.Buffer
	srv := svc.APIHandler()
	req, _ := http.NewRequest("GET", "/metrics", nil)
	rec := &recorder{h: http.Header{}, b: &b}
	srv.ServeHTTP(rec, req)
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, series+" ") {
			return strings.TrimPrefix(l, series+" ")
		}
	}
	return ""
}

type recorder struct {
	h http.Header
	b io.Writer
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(b []byte) (int, error) { return r.b.Write(b) }
func (r *recorder) WriteHeader(int)             {}

func TestOptionsAnsweredAndStrangersRefused(t *testing.T) {
	// The PBX is 127.0.0.1 (nothing listens there in this test); a stranger
	// at 127.0.0.2 and a scanner at 127.0.0.3.
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	svc := startGateway(t, cfg)
	target := sipListen(svc)

	pbx := newSIPPeer(t, "127.0.0.1", target)
	pbx.request(t, "OPTIONS", "FreeSWITCH", "")
	if st, _ := pbx.response(t); st != "SIP/2.0 200 OK" {
		t.Errorf("OPTIONS from the PBX: %q", st)
	}

	stranger := newSIPPeer(t, "127.0.0.2", target)
	stranger.request(t, "OPTIONS", "Linphone", "")
	if st, _ := stranger.response(t); st != "SIP/2.0 200 OK" {
		t.Errorf("OPTIONS from a stranger: %q, want 200 (OPTIONS is always answered)", st)
	}
	stranger.request(t, "INVITE", "Linphone", "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n")
	if st, _ := stranger.response(t); st != "SIP/2.0 403 Forbidden" {
		t.Errorf("INVITE from a stranger: %q, want 403", st)
	}
	stranger.request(t, "BYE", "Linphone", "")
	if st, _ := stranger.response(t); st != "SIP/2.0 403 Forbidden" {
		t.Errorf("BYE from a stranger: %q, want 403", st)
	}
	if len(svc.Snapshot()) != 0 {
		t.Error("a call exists after a stranger's INVITE")
	}
	// A new INVITE even from the PBX places no call: the box only calls out.
	pbx.request(t, "INVITE", "FreeSWITCH", "")
	if st, _ := pbx.response(t); st != "SIP/2.0 603 Decline" {
		t.Errorf("new INVITE from the PBX: %q, want 603", st)
	}

	// A scanner's probe gets nothing: the next answer on the same socket
	// belongs to the request sent after it.
	scanner := newSIPPeer(t, "127.0.0.3", target)
	for _, ua := range []string{"friendly-scanner", "sipvicious", "sipcli/v1.8"} {
		scanner.request(t, "OPTIONS", ua, "")
		scanner.request(t, "INVITE", ua, "")
	}
	want := scanner.request(t, "OPTIONS", "Linphone", "")
	if st, id := scanner.response(t); id != want || st != "SIP/2.0 200 OK" {
		t.Errorf("first answer to the scanner address is %q for %q; want 200 for the harmless OPTIONS %q", st, id, want)
	}
	if v := metricValue(t, svc, `edgebox_gateway_sip_dropped_total{reason="scanner"}`); v != "6" {
		t.Errorf("scanner drops counted %q, want 6", v)
	}

	// Garbage is ignored and harms nothing.
	stranger.raw(t, []byte("\x00\x01garbage\r\n\r\n"))
	stranger.raw(t, []byte("INVITE sip:x SIP/2.0\r\nVia: nonsense\r\nContent-Length: 99999\r\n\r\n"))
	pbx.request(t, "OPTIONS", "FreeSWITCH", "")
	if st, _ := pbx.response(t); st != "SIP/2.0 200 OK" {
		t.Errorf("OPTIONS after garbage: %q", st)
	}
}

func TestStrangerRateLimited(t *testing.T) {
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	cfg.Portal.RatePerMinute = 6 // burst of 5 for SIP strangers too
	svc := startGateway(t, cfg)
	stranger := newSIPPeer(t, "127.0.0.4", sipListen(svc))
	for i := 0; i < 20; i++ {
		stranger.request(t, "OPTIONS", "Linphone", "")
	}
	answered := 0
	buf := make([]byte, 4096)
	for {
		stranger.conn.SetReadDeadline(time.Now().Add(time.Second))
		if _, _, err := stranger.conn.ReadFromUDP(buf); err != nil {
			break
		}
		answered++
	}
	if answered < 1 || answered > 6 {
		t.Errorf("%d of 20 quick OPTIONS answered, want the burst (5)", answered)
	}
	if v := metricValue(t, svc, `edgebox_gateway_sip_dropped_total{reason="rate_limited"}`); v == "" || v == "0" {
		t.Errorf("rate-limited drops not counted (%q)", v)
	}
	// The PBX itself is never limited.
	pbx := newSIPPeer(t, "127.0.0.1", sipListen(svc))
	for i := 0; i < 20; i++ {
		pbx.request(t, "OPTIONS", "FreeSWITCH", "")
		if st, _ := pbx.response(t); st != "SIP/2.0 200 OK" {
			t.Fatalf("PBX OPTIONS %d: %q", i, st)
		}
	}
}

func TestTokenMisuseRefused(t *testing.T) {
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	svc := startGateway(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := portalBase(svc)
	req := gateway.AuthorizeRequest{From: testFrom, Destination: "support", Context: testContext}

	// wrong or missing API key
	for _, key := range []string{"", "wrong-key"} {
		_, err := client.Authorize(ctx, httpClient, base, key, req)
		var he *client.HTTPError
		if !asHTTPError(err, &he) || he.Status != 401 {
			t.Errorf("API key %q: %v, want 401", key, err)
		}
	}
	// bad requests
	for _, bad := range []gateway.AuthorizeRequest{
		{From: "customer42", Destination: "support"},
		{From: testFrom, Destination: "sales queue; DROP"},
		{From: testFrom, Destination: "support", Context: map[string]string{"x": "a\r\nVia: evil"}},
		{From: testFrom, Destination: "support", Context: map[string]string{"bad key": "v"}},
	} {
		_, err := client.Authorize(ctx, httpClient, base, testAPIKey, bad)
		var he *client.HTTPError
		if !asHTTPError(err, &he) || he.Status != 400 {
			t.Errorf("%+v: %v, want 400", bad, err)
		}
	}

	res, err := client.Authorize(ctx, httpClient, base, testAPIKey, req)
	if err != nil {
		t.Fatal(err)
	}
	// mismatched: the token is burnt by a wrong claim
	_, err = client.Connect(ctx, res.WebSocketURL, res.Token, client.Options{From: "sip:someone-else@example.com"})
	wantRefused(t, err, gateway.CodeBadToken, "mismatch")
	_, err = client.Connect(ctx, res.WebSocketURL, res.Token, client.Options{})
	wantRefused(t, err, gateway.CodeBadToken, "reuse after mismatch")

	// reuse
	res, _ = client.Authorize(ctx, httpClient, base, testAPIKey, req)
	c, err := client.Connect(ctx, res.WebSocketURL, res.Token, client.Options{From: testFrom, To: "support"})
	if err != nil {
		t.Fatalf("first use: %v", err)
	}
	defer c.Close()
	_, err = client.Connect(ctx, res.WebSocketURL, res.Token, client.Options{})
	wantRefused(t, err, gateway.CodeBadToken, "reuse")
	// unknown
	_, err = client.Connect(ctx, res.WebSocketURL, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", client.Options{})
	wantRefused(t, err, gateway.CodeBadToken, "unknown")
	// malformed auth
	for _, raw := range []string{"{not json", `{"type":"offer","sdp":"v=0"}`, `{"type":"auth"}`, `[]`} {
		err := rawAuth(ctx, res.WebSocketURL, raw)
		if err == nil || !strings.Contains(err.Error(), gateway.CodeBadMessage) {
			t.Errorf("auth message %q: %v, want bad_message", raw, err)
		}
	}
	for _, reason := range []string{"mismatch", "unknown", "malformed"} {
		if v := metricValue(t, svc, `edgebox_gateway_token_refusals_total{reason="`+reason+`"}`); v == "" || v == "0" {
			t.Errorf("refusals for %s not counted (%q)", reason, v)
		}
	}
	if v := metricValue(t, svc, `edgebox_gateway_portal_refusals_total{reason="bad_key"}`); v != "2" {
		t.Errorf("bad_key refusals = %q, want 2", v)
	}
}

func TestSignalingRateLimited(t *testing.T) {
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	cfg.Portal.RatePerMinute = 6
	svc := startGateway(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	limited := 0
	for i := 0; i < 10; i++ {
		_, err := client.Connect(ctx, "ws://"+svc.PortalAddr()+"/v1/signal", "guess", client.Options{})
		var r *client.ErrRefused
		if errors.As(err, &r) && r.Msg.Code == gateway.CodeRateLimited {
			limited++
		}
	}
	if limited == 0 {
		t.Error("10 quick token guesses from one address were never rate limited")
	}
	_, err := client.Authorize(ctx, httpClient, portalBase(svc), testAPIKey, gateway.AuthorizeRequest{From: testFrom, Destination: "support"})
	var he *client.HTTPError
	if !asHTTPError(err, &he) || he.Status != 429 {
		t.Errorf("portal after the limit: %v, want 429", err)
	}
}

func TestPortalServerNotLimitedForGoodRequests(t *testing.T) {
	// One portal server asks for every customer's token: only refused
	// requests count against its address.
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	cfg.Portal.RatePerMinute = 6
	svc := startGateway(t, cfg)
	for i := 0; i < 30; i++ {
		if _, err := clientAuthorize(svc, gateway.AuthorizeRequest{From: testFrom, Destination: "support"}); err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
	}
}
