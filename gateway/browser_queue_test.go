package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/config"
	"edgebox/internal/testenv"

	"github.com/chromedp/chromedp"
)

// postQueue sends POST /v1/queue with key and returns the status and body.
func postQueue(t *testing.T, svc *gateway.Service, key string, body any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, portalBase(svc)+"/v1/queue", bytes.NewReader(b))
	req.Header.Set("X-API-Key", key)
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(msg)
}

// TestBrowserQueuePosition: a customer waits in the demo page (the PBX
// queue answered); the portal pushes the place in the queue and the
// estimated wait, and the page shows them in words. Only the key that
// asked for the token may, bad fields are refused in words, and an ended
// call takes no updates.
func TestBrowserQueuePosition(t *testing.T) {
	t.Parallel()
	uas := startSIPp(t, "uas_echo", 1)
	cfg := demoConfig(t, uas.addr())
	const otherKey = "another-portal-key-9876543210"
	cfg.Portal.APIKeys = append(cfg.Portal.APIKeys, config.GatewayAPIKey{Name: "other", SHA256: gateway.HashAPIKey(otherKey), Destinations: []string{"*"}, FromDomains: []string{"*"}})
	svc := startGateway(t, cfg)
	tok, _ := authorize(t, svc, testFrom, "sip:agent@127.0.0.1", testContext)

	// Before the customer connected there is no call to update.
	if st, msg := postQueue(t, svc, testAPIKey, gateway.QueueRequest{Token: tok, Position: 3}); st != http.StatusNotFound {
		t.Errorf("update before the call: %d %s, want 404", st, msg)
	}

	ctx := callFromDemoPage(t, portalBase(svc)+"/demo/?token="+url.QueryEscape(tok))

	for _, c := range []struct {
		key  string
		body any
		want int
	}{
		{otherKey, gateway.QueueRequest{Token: tok, Position: 3}, http.StatusNotFound}, // not this key's call
		{"wrong", gateway.QueueRequest{Token: tok, Position: 3}, http.StatusUnauthorized},
		{testAPIKey, gateway.QueueRequest{Token: "not-the-token", Position: 3}, http.StatusNotFound},
		{testAPIKey, gateway.QueueRequest{Token: tok, Position: -1}, http.StatusBadRequest},
		{testAPIKey, gateway.QueueRequest{Token: tok}, http.StatusBadRequest},
		{testAPIKey, map[string]any{"token": tok, "position": 2, "colour": "red"}, http.StatusBadRequest},
	} {
		if st, msg := postQueue(t, svc, c.key, c.body); st != c.want {
			t.Errorf("POST /v1/queue %+v: %d %s, want %d", c.body, st, msg, c.want)
		}
	}

	if st, msg := postQueue(t, svc, testAPIKey, gateway.QueueRequest{Token: tok, Position: 3, WaitSec: 110}); st != http.StatusNoContent {
		t.Fatalf("queue update: %d %s", st, msg)
	}
	waitQueueText(t, ctx, "You are number 3 in the queue, about 2 minutes.")
	if st, msg := postQueue(t, svc, testAPIKey, gateway.QueueRequest{Token: tok, Position: 1}); st != http.StatusNoContent {
		t.Fatalf("queue update: %d %s", st, msg)
	}
	waitQueueText(t, ctx, "You are next.")

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("hangup"))); err != nil {
		t.Fatal(err)
	}
	waitDemoState(t, ctx, gateway.EventEnded, 10*time.Second)
	uas.wait(t, 10*time.Second)
	waitFor(t, 10*time.Second, "the call to leave the box", func() bool { return len(svc.Snapshot()) == 0 || svc.Snapshot()[0].State == gateway.StateEnded })
	if st, msg := postQueue(t, svc, testAPIKey, gateway.QueueRequest{Token: tok, Position: 1}); st != http.StatusNotFound {
		t.Errorf("update after the call ended: %d %s, want 404", st, msg)
	}
}

// waitQueueText polls the page's queue line until it says want.
func waitQueueText(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, fmt.Sprintf("queue line %q on the page", want), func() (bool, error) {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("queue").hidden ? "" : document.getElementById("queue").textContent`))
		if err != nil {
			t.Fatal(err)
		}
		return got == want, fmt.Errorf("the page says %q", got)
	})
}
