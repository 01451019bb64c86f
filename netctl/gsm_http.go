package netctl

// The GSM API (api/netapi/gsm.go): status, events long-poll, answer, dial,
// hangup, DTMF; and POST /v1/sms answering with the message references.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"edgebox/api/netapi"
	"edgebox/internal/localapi"
	"edgebox/modem"
)

// gsmRoutes mounts the GSM API on m (one line in routes()).
func (s *Service) gsmRoutes(m *http.ServeMux) {
	ctx := func() context.Context {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.ctx // nil until Run
	}
	h := newGSMHub(s.modemDriver, ctx, s.log)
	h.status = func() *ModemStatus { return s.Status().Modem }
	h.slot = func() string { return gsmSlotOf(s.Status().Modem) }
	h.audioPort = func() string {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.cfg.Modem.AudioPort
	}
	hs := singleHub(h)
	hs.hasData = func() bool {
		_, err := s.modemManager()
		return err == nil
	}
	hs.voiceSlots = func() []string {
		s.mu.Lock()
		defer s.mu.Unlock()
		var out []string
		for _, v := range s.cfg.Modem.VoiceModems {
			out = append(out, v.Slot)
		}
		return out
	}
	hs.newVoice = func(slot string) *gsmHub {
		vh := newGSMHub(func() (ModemDriver, error) {
			m, err := s.voiceModem(slot)
			if err != nil {
				return nil, err
			}
			return m.driver()
		}, ctx, s.log.With("slot", slot))
		vh.slot = func() string { return slot }
		vh.status = func() *ModemStatus {
			for _, ms := range s.Status().VoiceModems {
				if ms.Slot != nil && gsmSlotOf(&ms) == slot {
					return &ms
				}
			}
			return nil
		}
		vh.audioPort = func() string {
			s.mu.Lock()
			defer s.mu.Unlock()
			for _, v := range s.cfg.Modem.VoiceModems {
				if v.Slot == slot {
					return v.AudioPort
				}
			}
			return ""
		}
		return vh
	}
	hs.mount(m)
}

// gsmSlotOf is a modem's slot as the GSM API names it: the slot's
// config spelling ("mpcie1"), "" when unknown.
func gsmSlotOf(ms *ModemStatus) string {
	if ms == nil || ms.Slot == nil || ms.Slot.Source == "" {
		return ""
	}
	return slotKey(ms.Slot.Name)
}

// errGSMConflict marks refusals that depend on the call state (409).
var errGSMConflict = errors.New("conflict")

type gsmConflict struct{ msg string }

func (e gsmConflict) Error() string        { return e.msg }
func (e gsmConflict) Is(target error) bool { return target == errGSMConflict }

// mount serves h alone (tests with one modem).
func (h *gsmHub) mount(m *http.ServeMux) { singleHub(h).mount(m) }

// mount registers the GSM routes.
func (hs *gsmHubs) mount(m *http.ServeMux) {
	m.HandleFunc("GET /v1/gsm/status", func(w http.ResponseWriter, r *http.Request) {
		hs.start()
		localapi.WriteJSON(w, http.StatusOK, hs.status(r.Context()))
	})
	m.HandleFunc("GET /v1/gsm/events", func(w http.ResponseWriter, r *http.Request) {
		hs.start()
		q := r.URL.Query()
		var after uint64
		if v := q.Get("after"); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				localapi.WriteError(w, http.StatusBadRequest, fmt.Errorf("after=%q: want the Seq of the last event seen (0 for all)", v))
				return
			}
			after = n
		}
		var wait time.Duration
		if v := q.Get("wait"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				localapi.WriteError(w, http.StatusBadRequest, fmt.Errorf("wait=%q: want a duration such as 25s (at most %s)", v, netapi.GSMMaxWait))
				return
			}
			wait = min(d, netapi.GSMMaxWait)
		}
		evs := hs.ring.wait(r.Context(), after, wait)
		if evs == nil {
			evs = []netapi.GSMEvent{}
		}
		localapi.WriteJSON(w, http.StatusOK, evs)
	})
	callSlot := func(req netapi.GSMCallRequest) string { return req.Slot }
	m.HandleFunc("POST /v1/gsm/answer", gsmRequest(hs, 30*time.Second, checkCall, callSlot, writeGSMError, func(ctx context.Context, h *gsmHub, gd gsmDriver, req netapi.GSMCallRequest) (any, error) {
		return struct{}{}, h.answer(ctx, gd, req.Call)
	}))
	m.HandleFunc("POST /v1/gsm/hangup", gsmRequest(hs, 30*time.Second, checkCall, callSlot, writeGSMError, func(ctx context.Context, h *gsmHub, gd gsmDriver, req netapi.GSMCallRequest) (any, error) {
		return struct{}{}, h.hangup(ctx, gd, req.Call)
	}))
	// A failed dial is always 502: the number was checked, the network said no.
	dialErr := func(w http.ResponseWriter, err error) { localapi.WriteError(w, http.StatusBadGateway, err) }
	m.HandleFunc("POST /v1/gsm/dial", gsmRequest(hs, 40*time.Second, func(req netapi.GSMDialRequest) error { return modem.CheckDialNumber(req.Number) },
		func(req netapi.GSMDialRequest) string { return req.Slot }, dialErr,
		func(ctx context.Context, h *gsmHub, gd gsmDriver, req netapi.GSMDialRequest) (any, error) {
			return h.dial(ctx, gd, req.Number)
		}))
	m.HandleFunc("POST /v1/gsm/dtmf", gsmRequest(hs, 30*time.Second, func(req netapi.GSMDTMFRequest) error { return modem.CheckDTMF(req.Digits) },
		func(req netapi.GSMDTMFRequest) string { return req.Slot }, writeGSMError,
		func(ctx context.Context, h *gsmHub, gd gsmDriver, req netapi.GSMDTMFRequest) (any, error) {
			return struct{}{}, h.dtmf(ctx, gd, req.Digits)
		}))
}

func writeGSMError(w http.ResponseWriter, err error) {
	if errors.Is(err, errGSMConflict) {
		localapi.WriteError(w, http.StatusConflict, err)
		return
	}
	localapi.WriteError(w, http.StatusBadGateway, err)
}

// gsmDriver returns the current driver with call control of the modem
// slot names, or writes 404 (no such modem) or 409.
func (hs *gsmHubs) gsmDriver(w http.ResponseWriter, slot string) (*gsmHub, gsmDriver, bool) {
	hs.start()
	h, err := hs.pick(slot)
	if err != nil {
		localapi.WriteError(w, http.StatusNotFound, err)
		return nil, nil, false
	}
	d, err := h.driver()
	if err != nil {
		localapi.WriteError(w, http.StatusConflict, err)
		return nil, nil, false
	}
	gd, ok := d.(gsmDriver)
	if !ok {
		localapi.WriteError(w, http.StatusConflict, errors.New("this modem driver has no call control"))
		return nil, nil, false
	}
	return h, gd, true
}

// checkCall refuses a call number outside 0..7 (+CLCC numbers calls 1 to 7).
func checkCall(req netapi.GSMCallRequest) error {
	if req.Call < 0 || req.Call > 7 {
		return fmt.Errorf("call %d: calls are numbered 1 to 7 (0: the ringing one, for hangup: all)", req.Call)
	}
	return nil
}

// gsmRequest is the frame every call-control request shares: read the
// JSON body and check it (400), take the hub of the slot it names (404)
// and its driver (409), run do within timeout and answer its result, or
// its error through writeErr.
func gsmRequest[Req any](hs *gsmHubs, timeout time.Duration, check func(Req) error, slotOf func(Req) string, writeErr func(http.ResponseWriter, error), do func(context.Context, *gsmHub, gsmDriver, Req) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req Req
		if err := localapi.ReadJSON(r, &req); err != nil {
			localapi.WriteError(w, http.StatusBadRequest, err)
			return
		}
		if err := check(req); err != nil {
			localapi.WriteError(w, http.StatusBadRequest, err)
			return
		}
		h, gd, ok := hs.gsmDriver(w, slotOf(req))
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		out, err := do(ctx, h, gd, req)
		if err != nil {
			writeErr(w, err)
			return
		}
		localapi.WriteJSON(w, http.StatusOK, out)
	}
}

// statusOf is the hub's modem's part of GET /v1/gsm/status.
func (h *gsmHub) statusOf(ctx context.Context) netapi.GSMSIMStatus {
	st := netapi.GSMSIMStatus{Calls: []netapi.GSMCall{}, Slot: h.slotName()}
	d, err := h.driver()
	if gd, ok := d.(gsmDriver); ok && err == nil {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		st.Calls = h.sync(c, gd)
		cancel()
	}
	h.mu.Lock()
	st.VoiceWhy, st.AudioPort = h.vErr, h.voice.AudioPort
	capable := h.voice.Capable
	h.mu.Unlock()
	if h.audioPort != nil {
		if p := h.audioPort(); p != "" {
			st.AudioPort = p
			if !strings.Contains(p, "/") {
				st.AudioPort = "/dev/" + p
			}
		}
	}
	st.Voice = capable && st.AudioPort != ""
	if !st.Voice {
		st.AudioPort = ""
	}
	if st.Voice {
		st.AudioFormat = netapi.GSMAudioFormat
		st.VoiceWhy = ""
	} else if st.VoiceWhy == "" {
		st.VoiceWhy = "voice not set up yet"
	}
	if err != nil {
		st.VoiceWhy = err.Error()
	}
	if h.status != nil {
		if ms := h.status(); ms != nil {
			st.Modem = ms.State
			if ms.Identity != nil {
				st.Number, st.IMSI = ms.Identity.Number, ms.Identity.IMSI
			}
			if ms.Registration != nil {
				st.Registered = ms.Registration.State == modem.RegHome || ms.Registration.State == modem.RegRoaming
			}
		}
	}
	return st
}

// answer answers call (0: the ringing one).
func (h *gsmHub) answer(ctx context.Context, gd gsmDriver, call int) error {
	calls := h.sync(ctx, gd)
	ringing := 0
	for _, c := range calls {
		if c.Incoming && (c.State == netapi.GSMCallIncoming || c.State == netapi.GSMCallWaiting) && (call == 0 || c.Call == call) {
			ringing = c.Call
		}
	}
	if ringing == 0 {
		if call == 0 {
			return gsmConflict{"no call is ringing"}
		}
		return gsmConflict{fmt.Sprintf("call %d is not ringing (calls: %s)", call, describeCalls(calls))}
	}
	if err := gd.Answer(ctx); err != nil {
		return err
	}
	h.sync(ctx, gd)
	return nil
}

// hangup ends call (0: all); the ended event says local_hangup.
func (h *gsmHub) hangup(ctx context.Context, gd gsmDriver, call int) error {
	calls := h.sync(ctx, gd)
	if call != 0 {
		found := false
		for _, c := range calls {
			found = found || c.Call == call
		}
		if !found {
			return gsmConflict{fmt.Sprintf("no call %d (calls: %s)", call, describeCalls(calls))}
		}
	}
	h.mu.Lock()
	h.local[call] = true
	h.mu.Unlock()
	if err := gd.Hangup(ctx, call); err != nil {
		h.mu.Lock()
		delete(h.local, call)
		h.mu.Unlock()
		return err
	}
	h.sync(ctx, gd)
	return nil
}

// dial places a call and finds its index in +CLCC.
func (h *gsmHub) dial(ctx context.Context, gd gsmDriver, number string) (netapi.GSMDialResult, error) {
	h.dialMu.Lock()
	defer h.dialMu.Unlock()
	before := map[int]bool{}
	for _, c := range h.sync(ctx, gd) {
		before[c.Call] = true
	}
	h.mu.Lock()
	h.dialStart, h.dialEnded, h.hint = time.Now(), 0, endHint{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.dialStart = time.Time{}
		h.mu.Unlock()
	}()
	err := gd.Dial(ctx, number)
	var ce *modem.CallEndError
	if errors.As(err, &ce) {
		h.log.Info("gsm dial refused", "reason", ce.Reason, "err", ce.Err)
		return netapi.GSMDialResult{Ended: ce.Reason}, nil
	}
	if err != nil {
		return netapi.GSMDialResult{}, err
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		for _, c := range h.sync(ctx, gd) {
			if !c.Incoming && !before[c.Call] {
				return netapi.GSMDialResult{Call: c.Call}, nil
			}
		}
		h.mu.Lock()
		ended, hint, start := h.dialEnded, h.hint, h.dialStart
		h.mu.Unlock()
		if ended != 0 {
			return netapi.GSMDialResult{Call: ended}, nil
		}
		// BUSY / NO CARRIER came before +CLCC ever listed the call.
		endedEarly := hint.at.After(start)
		if endedEarly || time.Now().After(deadline) {
			reason := ""
			if endedEarly {
				reason = hint.reason
			}
			if reason == "" || reason == netapi.GSMEndNoCarrier {
				reason = gd.EndCause(ctx, netapi.GSMEndNoCarrier)
			}
			return netapi.GSMDialResult{Ended: reason}, nil
		}
		select {
		case <-ctx.Done():
			return netapi.GSMDialResult{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// dtmf sends digits on the active call.
func (h *gsmHub) dtmf(ctx context.Context, gd gsmDriver, digits string) error {
	active := false
	for _, c := range h.sync(ctx, gd) {
		active = active || c.State == netapi.GSMCallActive
	}
	if !active {
		return gsmConflict{"no active call to send DTMF on"}
	}
	return gd.SendDTMF(ctx, digits)
}

func describeCalls(calls []netapi.GSMCall) string {
	if len(calls) == 0 {
		return "none"
	}
	s := ""
	for i, c := range calls {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%d %s", c.Call, c.State)
	}
	return s
}

// sendSMSHandler is POST /v1/sms: it sends, with status reports requested,
// and answers the stored message with the message reference of each part.
func sendSMSHandler(driver func(slot string) (ModemDriver, error), log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req netapi.SendSMSRequest
		if err := localapi.ReadJSON(r, &req); err != nil {
			localapi.WriteError(w, http.StatusBadRequest, err)
			return
		}
		if err := validSMS(req); err != nil {
			localapi.WriteError(w, http.StatusBadRequest, err)
			return
		}
		drv, err := driver(req.Slot)
		if err != nil {
			localapi.WriteError(w, http.StatusConflict, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
		defer cancel()
		var res netapi.SendSMSResult
		if gd, ok := drv.(interface {
			SendSMSRefs(ctx context.Context, number, text string) (modem.SMS, []int, error)
		}); ok {
			res.SMS, res.Refs, err = gd.SendSMSRefs(ctx, req.To, req.Text)
		} else {
			res.SMS, err = drv.SendSMS(ctx, req.To, req.Text)
		}
		if err != nil {
			localapi.WriteError(w, http.StatusBadGateway, err)
			return
		}
		log.Info("SMS sent", "slot", req.Slot, "to", req.To, "parts", res.Parts, "refs", res.Refs)
		localapi.WriteJSON(w, http.StatusOK, res)
	}
}
