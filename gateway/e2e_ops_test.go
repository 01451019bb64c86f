package gateway_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"
	"edgebox/internal/config"
	"edgebox/internal/localapi"
	"edgebox/internal/service"
	"edgebox/internal/testenv"

	"github.com/pion/stun/v3"
	"github.com/pion/turn/v4"
)

func TestAPIOverUnixSocket(t *testing.T) {
	uas := startSIPp(t, "uas_echo", 1)
	svc := startGateway(t, testConfig(t, uas.addr()))
	sock := filepath.Join(t.TempDir(), "gateway.sock")
	l, err := localapi.ListenPath(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go localapi.Serve(ctx, l, svc.APIHandler())
	api := gateway.NewClientPath(sock)

	c := dialThrough(t, ctx, svc, "support")
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	c.StartAudio(ctx, 0)
	waitEchoed(t, c, 25)

	calls, err := api.Calls(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].Codec != "pcmu" || calls[0].PBX.In.Packets == 0 || calls[0].Browser.In.Packets == 0 || calls[0].DurationSec <= 0 {
		t.Fatalf("API calls = %+v", calls)
	}
	st, err := api.Status(ctx)
	if err != nil || st.ActiveCalls != 1 || !st.ICELite || st.RTPPairsInUse != 1 {
		t.Errorf("status %+v %v", st, err)
	}
	var metrics strings.Builder
	if err := api.Metrics(ctx, &metrics); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"edgebox_gateway_calls_active 1",
		`edgebox_gateway_call_packets{call="` + calls[0].ID + `",direction="in",leg="pbx"}`,
		`edgebox_gateway_call_jitter_seconds{call="` + calls[0].ID + `",leg="browser"}`,
		"edgebox_gateway_tokens_issued_total 1",
	} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if err := api.Hangup(ctx, "no-such-call"); err == nil {
		t.Error("hangup of an unknown call succeeded")
	}
	if err := api.Hangup(ctx, calls[0].ID); err != nil {
		t.Fatal(err)
	}
	if ev, err := c.WaitEvent(ctx, gateway.EventEnded); err != nil || ev.SIPCode != 200 {
		t.Errorf("ended %+v %v", ev, err)
	}
	uas.wait(t, 10*time.Second)
	hist, err := api.History(ctx, 5)
	if err != nil || len(hist) != 1 || hist[0].Reason != "hung up by an admin" || hist[0].SIPCode != 200 {
		t.Errorf("history %+v %v", hist, err)
	}
	var m2 strings.Builder
	api.Metrics(ctx, &m2)
	if !strings.Contains(m2.String(), `edgebox_gateway_calls_total{outcome="answered"} 1`) {
		t.Error("ended call not counted as answered")
	}
}

func TestBuiltinSTUNServer(t *testing.T) {
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	cfg.STUN.Listen = fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	startGateway(t, cfg)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	srv, _ := net.ResolveUDPAddr("udp", cfg.STUN.Listen)
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
	conn.WriteToUDP(req.Raw, srv)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, _, err := conn.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("no STUN answer: %v", err)
	}
	res := &stun.Message{Raw: buf[:n]}
	if err := res.Decode(); err != nil {
		t.Fatal(err)
	}
	var xor stun.XORMappedAddress
	if err := xor.GetFrom(res); err != nil {
		t.Fatal(err)
	}
	local := conn.LocalAddr().(*net.UDPAddr)
	if res.TransactionID != req.TransactionID || !xor.IP.Equal(local.IP) || xor.Port != local.Port {
		t.Errorf("mapped %v, want %v", xor, local)
	}
}

func TestBuiltinTURNServerRESTCredentials(t *testing.T) {
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	withLoopbackTURN(t, &cfg)
	svc := startGateway(t, cfg)

	// The portal hands out working credentials.
	res, err := clientAuthorizeFull(svc)
	if err != nil {
		t.Fatal(err)
	}
	var user, pass string
	for _, s := range res.ICEServers {
		if strings.HasPrefix(s.URLs[0], "turn:") {
			user, pass = s.Username, s.Credential
		}
	}
	if user == "" {
		t.Fatalf("no TURN server in %+v", res.ICEServers)
	}
	if err := allocate(t, cfg.TURN.Listen, user, pass); err != nil {
		t.Fatalf("allocation with portal credentials: %v", err)
	}
	// Expired or forged credentials are refused.
	u, p := gateway.TURNCredentials(cfg.TURN.Secret, "x", -time.Minute, time.Now())
	if err := allocate(t, cfg.TURN.Listen, u, p); err == nil {
		t.Error("expired credentials accepted")
	}
	u, _ = gateway.TURNCredentials(cfg.TURN.Secret, "x", time.Hour, time.Now())
	if err := allocate(t, cfg.TURN.Listen, u, "forged"); err == nil {
		t.Error("forged password accepted")
	}
}

func allocate(t *testing.T, server, user, pass string) error {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: server, STUNServerAddr: server, Username: user, Password: pass,
		Realm: "edgebox", Conn: conn, RTO: 200 * time.Millisecond})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		return err
	}
	relay, err := c.Allocate()
	if err != nil {
		return err
	}
	defer relay.Close()
	if !strings.HasPrefix(relay.LocalAddr().String(), "127.0.0.1:") {
		return fmt.Errorf("relay address %s", relay.LocalAddr())
	}
	return nil
}

func clientAuthorizeFull(svc *gateway.Service) (gateway.AuthorizeResponse, error) {
	return clientAuthorize(svc, gateway.AuthorizeRequest{From: testFrom, Destination: "support"})
}

// runGatewayService runs the gateway as init does (its skeleton spec) on
// cfgPath with its API at sock until the test ends, and waits for the API
// to answer (failing the test if the service stops instead).
func runGatewayService(t *testing.T, cfgPath, sock string) (context.Context, gateway.Client) {
	t.Helper()
	spec := gateway.ServiceSpec()
	spec.Args = []string{"-config", cfgPath, "-socket", sock}
	spec.LogOutput = &testLogWriter{t: t}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- service.Run(ctx, spec) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(25 * time.Second):
			t.Error("the gateway service did not stop")
		}
	})
	api := gateway.NewClientPath(sock)
	var err error
	for i := 0; i < 200; i++ {
		select {
		case err := <-done:
			done <- err // for the cleanup
			t.Fatalf("the gateway service stopped: %v", err)
		default:
		}
		if _, err = api.Status(ctx); err == nil {
			return ctx, api
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("the gateway's API does not answer: %v", err)
	return nil, api
}

// TestReloadKeepsCalls runs the service as init does (its skeleton spec,
// reloaded by a real SIGHUP to this process) and changes the config under
// a call in progress.
func TestReloadKeepsCalls(t *testing.T) {
	uas := startSIPp(t, "uas_echo", 1)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.json")
	sock := filepath.Join(dir, "gateway.sock")
	full := config.Default()
	full.Gateway = testConfig(t, uas.addr())
	if err := config.Save(cfgPath, full); err != nil {
		t.Fatal(err)
	}
	ctx, api := runGatewayService(t, cfgPath, sock)
	hup := func() {
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	st, err := api.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Enabled {
		t.Fatalf("status %+v", st)
	}
	base := "http://" + full.Gateway.Portal.Listen
	res, err := clientAuthorizeAt(base, gateway.AuthorizeRequest{From: testFrom, Destination: "support", Context: testContext})
	if err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithTimeout(ctx, 60*time.Second)
	defer ccancel()
	c := dialWith(t, cctx, res)
	if _, err := c.WaitEvent(cctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	c.StartAudio(cctx, 0)
	waitEchoed(t, c, 10)

	// 1. a config the validator refuses: kept running, call untouched
	bad := strings.Replace(mustRead(t, cfgPath), `"token_ttl_sec": 60`, `"token_ttl_sec": 0`, 1)
	os.WriteFile(cfgPath, []byte(bad), 0o600)
	hup()
	// 2. changes that do not concern the call: keys, TTL, rate, codecs, PBX
	full.Gateway.Portal.TokenTTLSec = 30
	full.Gateway.Portal.APIKeys = append(full.Gateway.Portal.APIKeys, config.GatewayAPIKey{Name: "second", SHA256: gateway.HashAPIKey("second-key"), Destinations: []string{"support"}, FromDomains: []string{"example.com"}})
	full.Gateway.Media.Codecs = []string{"pcmu", "pcma"}
	full.Gateway.PBX.AllowedSources = []string{"127.0.0.1", "127.0.0.9"}
	if err := config.Save(cfgPath, full); err != nil {
		t.Fatal(err)
	}
	hup()
	// the new key works once the reload is through
	testenv.WaitFor(t, 10*time.Second, "new API key accepted after reload", func() (bool, error) {
		_, err := clientAuthorizeKey(base, "second-key", gateway.AuthorizeRequest{From: testFrom, Destination: "support"})
		return err == nil, err
	})
	before := c.Stats().Echoed
	waitEchoed(t, c, before+25)
	if calls, _ := api.Calls(cctx); len(calls) != 1 || calls[0].State != gateway.StateAnswered {
		t.Errorf("call after reload: %+v", calls)
	}
	c.Hangup(cctx)
	if ev, err := c.WaitEvent(cctx, gateway.EventEnded); err != nil || ev.SIPCode != 200 || ev.Reason != "client hung up" {
		t.Errorf("call end after reload: %+v %v", ev, err)
	}
	uas.wait(t, 10*time.Second)
}

func mustRead(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCallThroughBuiltinTURN sends the client's media only through the
// box's TURN server, with the credentials the portal handed out.
func TestCallThroughBuiltinTURN(t *testing.T) {
	t.Parallel()
	uas := startSIPp(t, "uas_echo", 1)
	cfg := testConfig(t, uas.addr())
	withLoopbackTURN(t, &cfg)
	svc := startGateway(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := clientAuthorize(svc, gateway.AuthorizeRequest{From: testFrom, Destination: "sip:agent@127.0.0.1", Context: testContext})
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(ctx, res.WebSocketURL, res.Token, client.Options{LoopbackOnly: true, RelayOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	c.StartAudio(ctx, 0)
	waitEchoed(t, c, 20)
	if typ := c.LocalCandidateType(); typ != "relay" {
		t.Errorf("media went over a %q candidate, want relay", typ)
	}
	// the box sees the relay's address as the browser's: the fast path
	// works through a TURN relay on the client's side
	requireFastPath(t, svc, svc.Snapshot(), 20)
	c.Hangup(ctx)
	c.WaitEvent(ctx, gateway.EventEnded)
	uas.wait(t, 10*time.Second)
}
