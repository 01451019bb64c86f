package gateway_test

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/testenv"
)

// Third review: a webhook URL is a secret by its value (chat and CRM
// hooks carry their key in the path), and a failed delivery logged it
// whole; the gateway's log reaches read-scope tokens and remote syslog.
// Now the log names the host only.
func TestSecWebhookURLNotLogged(t *testing.T) {
	n := startNetctlGSM(t)
	hook := &webhookRecorder{secret: "webhook-secret-0123456789", fail: 1}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	cfg := smsConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	cfg.GSM.SIMs[0].SMS.MessageURI = ""
	cfg.GSM.SIMs[0].SMS.WebhookURL, cfg.GSM.SIMs[0].SMS.WebhookSecret = srv.URL+"/services/T0/B0/sEcReTpAtH", hook.secret
	var logs testenv.LogBuffer
	svc, err := gateway.New(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	n.receive("9", "+4915550009", "hallo", 1)
	waitFor(t, 15*time.Second, "webhook delivery after one failure", func() bool { return len(hook.received()) == 1 })
	if !logs.Contains("delivery failed") {
		t.Fatalf("no failed delivery logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "sEcReTpAtH") {
		t.Errorf("the webhook's secret path is in the log:\n%s", logs.String())
	}
}
