package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"edgebox/api/modemapi"
	"edgebox/api/netapi"
	"edgebox/internal/localapi"
)

// netctlGSM serves netctl's GSM and SMS API (api/netapi/gsm.go) on the
// socket the gateway dials (EDGEBOX_RUN_DIR/netctl.sock) for the SMS
// tests: events in a ring with long-poll, SMS sent recorded with message
// references. It stands where netctl's own server with an embedded
// modemsim goes once that is in the tree; the gateway sees the same
// HTTP API either way.
type netctlGSM struct {
	mu     sync.Mutex
	events []netapi.GSMEvent
	seq    uint64
	sent   []netapi.SendSMSRequest
	stored []modemapi.SMS // netctl's SMS store
	ref    int
	// sendErr, when set, is netctl's refusal of every SMS to send
	sendErr string
	// hold, when set, keeps every send waiting until the caller gives up
	hold   bool
	notify chan struct{}
}

func startNetctlGSM(t *testing.T) *netctlGSM {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("EDGEBOX_RUN_DIR", dir)
	n := &netctlGSM{notify: make(chan struct{})}
	l, err := localapi.ListenPath(filepath.Join(dir, "netctl.sock"))
	if err != nil {
		t.Fatal(err)
	}
	m := http.NewServeMux()
	m.HandleFunc("GET /v1/gsm/status", func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		defer n.mu.Unlock()
		localapi.WriteJSON(w, 200, netapi.GSMStatus{GSMSIMStatus: netapi.GSMSIMStatus{Slot: "1", IMSI: "262019999999999", Registered: true, Calls: []netapi.GSMCall{}}, Seq: n.seq})
	})
	m.HandleFunc("GET /v1/gsm/events", func(w http.ResponseWriter, r *http.Request) {
		after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
		wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
		end := time.After(wait)
		for {
			n.mu.Lock()
			var out []netapi.GSMEvent
			for _, ev := range n.events {
				if ev.Seq > after {
					out = append(out, ev)
				}
			}
			ch := n.notify
			n.mu.Unlock()
			if len(out) > 0 {
				localapi.WriteJSON(w, 200, out)
				return
			}
			select {
			case <-ch:
			case <-end:
				localapi.WriteJSON(w, 200, []netapi.GSMEvent{})
				return
			case <-r.Context().Done():
				return
			}
		}
	})
	m.HandleFunc("GET /v1/sms", func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		defer n.mu.Unlock()
		localapi.WriteJSON(w, 200, append([]modemapi.SMS{}, n.stored...))
	})
	m.HandleFunc("POST /v1/sms", func(w http.ResponseWriter, r *http.Request) {
		var req netapi.SendSMSRequest
		if err := localapi.ReadJSON(r, &req); err != nil {
			localapi.WriteError(w, 400, err)
			return
		}
		n.mu.Lock()
		if n.hold {
			n.mu.Unlock()
			<-r.Context().Done()
			return
		}
		if n.sendErr != "" {
			n.mu.Unlock()
			localapi.WriteError(w, http.StatusServiceUnavailable, errors.New(n.sendErr))
			return
		}
		n.sent = append(n.sent, req)
		n.ref++
		ref := n.ref
		n.mu.Unlock()
		localapi.WriteJSON(w, 200, netapi.SendSMSResult{SMS: modemapi.SMS{ID: fmt.Sprintf("out-%d", ref), To: req.To, Text: req.Text, Outgoing: true, Parts: 1}, Refs: []int{ref}})
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { localapi.Serve(ctx, l, m); close(done) }()
	t.Cleanup(func() { cancel(); l.Close(); <-done })
	return n
}

func (n *netctlGSM) emit(ev netapi.GSMEvent) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.seq++
	ev.Seq, ev.Time = n.seq, time.Now()
	n.events = append(n.events, ev)
	close(n.notify)
	n.notify = make(chan struct{})
}

// receive plays an SMS arriving at the SIM: stored, then announced.
func (n *netctlGSM) receive(id, from, text string, parts int) {
	m := n.storeOnly(id, from, text, parts)
	n.emit(netapi.GSMEvent{Kind: netapi.GSMSMSReceived, SMS: &m})
}

// storeOnly plays an SMS netctl stored without an event reaching the
// gateway (its ring lost it).
func (n *netctlGSM) storeOnly(id, from, text string, parts int) modemapi.SMS {
	m := modemapi.SMS{ID: id, From: from, Text: text, Parts: parts, Time: time.Now(), Received: time.Now()}
	n.mu.Lock()
	n.stored = append(n.stored, m)
	n.mu.Unlock()
	return m
}

// report plays the SMSC's delivery report for ref.
func (n *netctlGSM) report(ref int, number, status string) {
	n.emit(netapi.GSMEvent{Kind: netapi.GSMSMSStatus, Ref: ref, Number: number, Status: status, Reason: "00"})
}

func (n *netctlGSM) sentSMS() []netapi.SendSMSRequest {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]netapi.SendSMSRequest(nil), n.sent...)
}
