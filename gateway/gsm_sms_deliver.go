package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"edgebox/internal/config"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// maxRetryWait caps the doubling wait between delivery attempts.
const maxRetryWait = 10 * time.Minute

// deliverLoop delivers stored items whose time has come, oldest first,
// and sleeps until the next one is due or a new one arrives.
func (b *smsBridge) deliverLoop() {
	for {
		items, next := b.store.due(time.Now())
		for _, it := range items {
			if b.ctx.Err() != nil {
				return
			}
			b.deliver(it)
		}
		if len(items) > 0 {
			continue // their next tries are set now
		}
		wait := time.Minute
		if !next.IsZero() {
			wait = min(max(time.Until(next), 10*time.Millisecond), time.Minute)
		}
		select {
		case <-b.ctx.Done():
			return
		case <-b.wake:
		case <-time.After(wait):
		}
	}
}

// deliver tries each target the item still lacks; it is removed when
// all took it, else tried again after a doubling wait.
func (b *smsBridge) deliver(it smsItem) {
	sim := b.cfg.GSM.SIMs[it.SIM]
	var errs []error
	if !it.SIPDone {
		if err := b.deliverSIP(it); err != nil {
			errs = append(errs, err)
		} else {
			it.SIPDone = true
		}
	}
	if !it.HookDone {
		if sim.SMS.WebhookURL == "" {
			it.HookDone = true
		} else if err := b.deliverHook(it, sim.SMS); err != nil {
			errs = append(errs, err)
		} else {
			it.HookDone = true
		}
	}
	if len(errs) == 0 {
		if err := b.store.remove(it.Key); err != nil {
			b.log.Error("SMS bridge: delivered item not removed", "key", it.Key, "err", err)
		}
		b.log.Info("SMS bridge: delivered", "kind", it.Kind, "from", it.From, "attempts", it.Attempts+1)
		return
	}
	it.Attempts++
	first := time.Duration(b.cfg.GSM.RetrySec) * time.Second
	if first <= 0 {
		first = 10 * time.Second
	}
	wait := min(first<<min(it.Attempts-1, 16), maxRetryWait)
	it.NextTry = time.Now().Add(wait)
	it.LastErr = errors.Join(errs...).Error()
	if err := b.store.update(&it); err != nil {
		b.log.Error("SMS bridge: item not updated", "key", it.Key, "err", err)
	}
	b.log.Warn("SMS bridge: delivery failed, will retry", "kind", it.Kind, "from", it.From, "attempt", it.Attempts, "next_in", wait.String(), "err", it.LastErr)
}

// deliverSIP sends the item to the PBX as a SIP MESSAGE (RFC 3428):
// a received SMS to the SIM's message_uri, From the sender at the box's
// domain, To the SIM's identity; a delivery report back to whoever sent
// the MESSAGE it reports on.
func (b *smsBridge) deliverSIP(it smsItem) error {
	b.svc.mu.Lock()
	st := b.svc.sip
	b.svc.mu.Unlock()
	if st == nil {
		return errors.New("SIP is not running")
	}
	sim := b.cfg.GSM.SIMs[it.SIM]
	cli, contact, err := st.endpoint(b.cfg.PBX.Transport)
	if err != nil {
		return err
	}
	domain := b.cfg.GSM.Domain
	if domain == "" {
		domain = contact.Address.Host
	}
	pbxDomain := b.cfg.PBX.Domain
	if pbxDomain == "" {
		pbxDomain, _, _ = net.SplitHostPort(b.cfg.PBX.HostPort())
	}
	var ruri, to sip.Uri
	var body string
	hdrs := map[string]string{}
	switch it.Kind {
	case "sms":
		if sim.SMS.MessageURI == "" {
			return nil // no MESSAGE wanted: the webhook alone
		}
		if err := sip.ParseUri(sim.SMS.MessageURI, &ruri); err != nil {
			return fmt.Errorf("gateway.gsm message_uri: %w", err)
		}
		to = sip.Uri{Scheme: "sip", User: sipUser(b.identity(it.SIM)), Host: pbxDomain}
		body = it.Text
		hdrs["X-GSM-Slot"] = sim.Slot
		if it.Parts > 1 {
			hdrs["X-SMS-Parts"] = strconv.Itoa(it.Parts)
		}
	default:
		target := it.ReplyTo
		if target == "" {
			target = sim.SMS.MessageURI
		}
		if target == "" {
			return nil
		}
		if err := sip.ParseUri(target, &ruri); err != nil {
			return fmt.Errorf("report target %q: %w", target, err)
		}
		to = ruri
		body = fmt.Sprintf("SMS to %s: %s", it.From, it.Status)
		if it.Reason != "" && it.Status != "delivered" {
			body += " (" + it.Reason + ")"
		}
		hdrs["X-SMS-Status"] = it.Status
		hdrs["X-GSM-Slot"] = sim.Slot
	}
	from := sip.Uri{Scheme: "sip", User: sipUser(it.From), Host: domain}
	if from.User == "" {
		from.User = "anonymous"
	}
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	code, err := st.sendMessage(ctx, cli, b.cfg, ruri, from, to, []byte(body), hdrs)
	if err != nil {
		return fmt.Errorf("MESSAGE to %s: %w", ruri.String(), err)
	}
	if code < 200 || code > 299 {
		return fmt.Errorf("MESSAGE to %s: the PBX answered %d", ruri.String(), code)
	}
	return nil
}

// sipUser escapes an SMS sender for the user part of a SIP URI (RFC
// 3261 25.1): banks and carriers send from names ("DHL Paket"), not
// numbers, and a space or '@' would break the From header.
func sipUser(s string) string {
	const ok = "-_.!~*'()&=+$,;?/"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(ok, c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// sendMessage sends one MESSAGE through the PBX, answering a digest
// challenge with the trunk's account, and returns the final answer code.
func (s *sipStack) sendMessage(ctx context.Context, cli *sipgo.Client, cfg config.Gateway, ruri, from, to sip.Uri, body []byte, hdrs map[string]string) (int, error) {
	req := sip.NewRequest(sip.MESSAGE, ruri)
	req.SetTransport(strings.ToUpper(cfg.PBX.Transport))
	req.SetDestination(s.pbxDest(cfg.PBX))
	fh := &sip.FromHeader{Address: from, Params: sip.NewParams()}
	fh.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(fh)
	req.AppendHeader(&sip.ToHeader{Address: to, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("User-Agent", userAgentName))
	for _, k := range []string{"X-GSM-Slot", "X-SMS-Parts", "X-SMS-Status"} {
		if v, ok := hdrs[k]; ok {
			req.AppendHeader(sip.NewHeader(k, v))
		}
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "text/plain;charset=UTF-8"))
	req.SetBody(body)
	return doAsTrunk(ctx, cli, req, cfg)
}

// smsWebhook is the JSON body the webhook receives (docs/gsm-gateway.md).
type smsWebhook struct {
	Type   string    `json:"type"` // "sms" or "sms_status"
	Slot   string    `json:"slot"`
	SIM    string    `json:"sim"`            // the SIM's identity
	From   string    `json:"from,omitempty"` // sms: the sender
	To     string    `json:"to,omitempty"`   // sms_status: the number sent to
	Text   string    `json:"text,omitempty"`
	Parts  int       `json:"parts,omitempty"`
	Status string    `json:"status,omitempty"`
	Reason string    `json:"reason,omitempty"`
	Refs   []int     `json:"refs,omitempty"`
	Time   time.Time `json:"time"`
	ID     string    `json:"id"`
}

// Webhook signature headers: the signature is HMAC-SHA256 over the
// timestamp, a dot and the body, keyed with webhook_secret, in hex.
const (
	WebhookTimestampHeader = "X-Edgebox-Timestamp"
	WebhookSignatureHeader = "X-Edgebox-Signature"
)

// WebhookSignature is the value of WebhookSignatureHeader for body sent
// at unix time ts: "sha256=" and the hex HMAC-SHA256 of "ts.body".
func WebhookSignature(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

var webhookClient = &http.Client{Timeout: 15 * time.Second}

func (b *smsBridge) deliverHook(it smsItem, s config.GSMSMS) error {
	sim := b.cfg.GSM.SIMs[it.SIM]
	w := smsWebhook{Type: it.Kind, Slot: sim.Slot, SIM: b.identity(it.SIM), Text: it.Text, Parts: it.Parts,
		Status: it.Status, Reason: it.Reason, Refs: it.Refs, Time: it.Time, ID: it.Key}
	if it.Kind == "sms" {
		w.From = it.From
	} else {
		w.To, w.Text = it.From, ""
	}
	body, err := json.Marshal(w)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgentName)
	req.Header.Set(WebhookTimestampHeader, strconv.FormatInt(ts, 10))
	req.Header.Set(WebhookSignatureHeader, WebhookSignature(s.WebhookSecret, ts, body))
	res, err := webhookClient.Do(req)
	if err != nil {
		// Only the host: the URL's path or user part is often the hook's
		// key, and this error reaches the logs (read scope, syslog).
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("webhook at %s: %w", req.URL.Host, err)
	}
	res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("webhook at %s answered %s", req.URL.Host, res.Status)
	}
	return nil
}
