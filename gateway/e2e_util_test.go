package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"
	"edgebox/internal/config"

	"github.com/coder/websocket"
)

func asHTTPError(err error, he **client.HTTPError) bool { return errors.As(err, he) }

func wantRefused(t *testing.T, err error, code, what string) {
	t.Helper()
	var r *client.ErrRefused
	if !errors.As(err, &r) || r.Msg.Code != code {
		t.Errorf("%s: %v, want refusal %s", what, err, code)
	}
}

// rawAuth sends one raw first message and returns the box's error.
func rawAuth(ctx context.Context, url, raw string) error {
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return err
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte(raw)); err != nil {
		return err
	}
	_, data, err := ws.Read(ctx)
	if err != nil {
		return err
	}
	var m gateway.Message
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	if m.Type == gateway.MsgError {
		return fmt.Errorf("%s: %s", m.Code, m.Error)
	}
	return nil
}

func clientAuthorize(svc *gateway.Service, req gateway.AuthorizeRequest) (gateway.AuthorizeResponse, error) {
	return client.Authorize(context.Background(), httpClient, portalBase(svc), testAPIKey, req)
}

func clientAuthorizeAt(base string, req gateway.AuthorizeRequest) (gateway.AuthorizeResponse, error) {
	return client.Authorize(context.Background(), httpClient, base, testAPIKey, req)
}

func clientAuthorizeKey(base, key string, req gateway.AuthorizeRequest) (gateway.AuthorizeResponse, error) {
	return client.Authorize(context.Background(), httpClient, base, key, req)
}

func dialWith(t *testing.T, ctx context.Context, res gateway.AuthorizeResponse) *client.Call {
	t.Helper()
	c, err := client.Dial(ctx, res.WebSocketURL, res.Token, client.Options{LoopbackOnly: true})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// requireFastPath checks that every call's audio moved off pion's path and
// that the fast path carried at least min packets, none rejected.
func requireFastPath(t *testing.T, svc *gateway.Service, calls []gateway.CallInfo, min uint64) {
	t.Helper()
	requireStack(t, calls)
	for _, ci := range calls {
		if ci.MediaPath != gateway.PathFast {
			t.Errorf("call %s: audio on path %q, want %q", ci.ID, ci.MediaPath, gateway.PathFast)
		}
	}
	if st := svc.Status(); st.FastPackets < min || st.RejectedPackets != 0 {
		t.Errorf("fast path carried %d packets (want at least %d), rejected %d", st.FastPackets, min, st.RejectedPackets)
	}
}

// echoCall is one answered call through a gateway (cfg from testConfig,
// changed by tune) to SIPp echoing the audio.
type echoCall struct {
	uas *sipp
	svc *gateway.Service
	c   *client.Call
	ctx context.Context
}

func startEchoCall(t *testing.T, tune func(*config.Gateway)) *echoCall {
	t.Helper()
	uas := startSIPp(t, "uas_echo", 1)
	cfg := testConfig(t, uas.addr())
	if tune != nil {
		tune(&cfg)
	}
	svc := startGateway(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	return &echoCall{uas: uas, svc: svc, c: c, ctx: ctx}
}

// hangup ends the call and waits for the UAS to finish.
func (e *echoCall) hangup(t *testing.T) {
	t.Helper()
	e.c.Hangup(e.ctx)
	e.c.WaitEvent(e.ctx, gateway.EventEnded)
	e.uas.wait(t, 10*time.Second)
}
