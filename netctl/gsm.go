package netctl

// The GSM side of the SIP<->GSM gateway (issue 19): netctl owns the modem's
// AT port, so call control and the events the gateway needs (incoming
// call, ringback, connected, ended with a reason, DTMF, received SMS,
// delivery reports) come from here, as api/netapi/gsm.go describes. The
// events are taken from the engine's URCs (modem.ParseVoiceURC) and from
// +CLCC, which the hub polls while a call exists (Quectel cards say
// nothing when the far end answers).

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"edgebox/api/netapi"
	"edgebox/modem"
)

// gsmRingSize bounds the events kept for GET /v1/gsm/events.
const gsmRingSize = 256

// How the hub watches calls.
const (
	gsmCallPoll    = 500 * time.Millisecond // AT+CLCC while a call exists
	gsmSetupPoll   = 100 * time.Millisecond // ... and while a call we placed is set up
	gsmDriverPoll  = time.Second            // is there a (new) modem?
	gsmRingToCLIP  = 200 * time.Millisecond // RING: wait this long for +CLIP
	gsmEndHintLife = 3 * time.Second        // a BUSY/NO ANSWER/^CEND explains a call that vanishes within this
	gsmSMSScan     = 30 * time.Second       // received SMS stored without a URC we saw
	gsmSetupRetry  = 30 * time.Second       // voice set-up again after the card did not answer
)

// gsmDriver is what call control needs of a modem driver beyond
// ModemDriver; *modem.Modem (realModem) has it, test fakes may not.
type gsmDriver interface {
	ModemDriver
	Engine() *modem.Engine
	VoiceSetup(ctx context.Context) (modem.VoiceSupport, error)
	Calls(ctx context.Context) ([]modem.Call, error)
	Dial(ctx context.Context, number string) error
	Answer(ctx context.Context) error
	Hangup(ctx context.Context, call int) error
	SendDTMF(ctx context.Context, digits string) error
	CallConnected(ctx context.Context) error
	EndCause(ctx context.Context, def string) string
	SendSMSRefs(ctx context.Context, number, text string) (modem.SMS, []int, error)
	ReadStatusReport(ctx context.Context, index int) (modem.StatusReport, error)
}

var _ gsmDriver = realModem{}

// trackedCall is a call as the hub last saw it in +CLCC.
type trackedCall struct {
	netapi.GSMCall
	connected bool // was active at least once
	alerted   bool // "alerting" sent
}

// endHint is the last call-ending URC, used to explain a call that
// disappears from +CLCC.
type endHint struct {
	call   int // from Huawei ^CEND; 0 unknown
	reason string
	at     time.Time
}

// gsmHub keeps the events and the call table.
type gsmHub struct {
	driver func() (ModemDriver, error)
	status func() *ModemStatus // identity, registration, slot; nil in tests
	// audioPort is network.modem.audio_port ("" = from the card).
	audioPort func() string
	log       *slog.Logger

	started bool                   // guarded by mu
	ctx     func() context.Context // where the hub's goroutine lives; nil: not yet

	// slot names the hub's modem in its events and status
	// (GSMSIMStatus.Slot); nil: "".
	slot func() string
	// events is the ring all modems' hubs add to (gsm_slots.go).
	events *gsmRing

	mu      sync.Mutex
	voice   modem.VoiceSupport
	vErr    string
	calls   map[int]*trackedCall
	local   map[int]bool // calls we hung up (0: all)
	hint    endHint
	clip    *modem.VoiceEvent // last +CLIP, for the withheld reason
	smsIDs  map[string]bool   // received SMS already announced (or older than created)
	created time.Time         // netctl's start, roughly: older SMS are not news

	syncMu sync.Mutex // one +CLCC round at a time

	dialMu    sync.Mutex // one dial at a time
	dialStart time.Time  // calls we placed after this are the dial's
	dialEnded int        // index of the dial's call that already ended; 0 none
}

func newGSMHub(driver func() (ModemDriver, error), ctx func() context.Context, log *slog.Logger) *gsmHub {
	return &gsmHub{
		driver: driver, ctx: ctx, log: log, created: time.Now(), events: newGSMRing(log),
		calls: map[int]*trackedCall{}, local: map[int]bool{},
	}
}

// slotName is the slot the hub's events and status carry.
func (h *gsmHub) slotName() string {
	if h.slot == nil {
		return ""
	}
	return h.slot()
}

// start runs the hub's goroutine once, on first use of the API (the
// gateway polls events from its start), in the Service's context: none
// before Service.Run.
func (h *gsmHub) start() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started {
		return
	}
	if ctx := h.ctx(); ctx != nil {
		h.started = true
		go h.run(ctx)
	}
}

// emit adds an event to the ring and wakes the long-polls.
func (h *gsmHub) emit(ev netapi.GSMEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.emitLocked(ev)
}

func (h *gsmHub) emitLocked(ev netapi.GSMEvent) {
	ev.Slot = h.slotName()
	h.events.add(ev)
}

// run follows the current modem driver: subscribes to its URCs, sets up
// voice, polls +CLCC while calls exist, scans for received SMS.
func (h *gsmHub) run(ctx context.Context) {
	var (
		cur    ModemDriver
		urcs   <-chan modem.URC
		unsub  = func() {}
		setup  <-chan time.Time // voice set-up due
		ringTO <-chan time.Time // RING without +CLIP yet
	)
	defer func() { unsub() }()
	tick := time.NewTicker(gsmSetupPoll)
	defer tick.Stop()
	lastDriverCheck, lastSync := time.Time{}, time.Time{}
	lastSMSScan := time.Time{}
	for {
		if time.Since(lastDriverCheck) >= gsmDriverPoll {
			lastDriverCheck = time.Now()
			d, err := h.driver()
			if err != nil {
				d = nil
			}
			if d != cur {
				unsub()
				unsub, urcs, cur = func() {}, nil, d
				h.setVoice(modem.VoiceSupport{AudioInterface: -1}, "no modem")
				if err != nil {
					h.setVoice(modem.VoiceSupport{AudioInterface: -1}, err.Error())
				}
				if gd, ok := d.(gsmDriver); ok {
					urcs, unsub = gd.Engine().Subscribe(256)
					setup = time.After(0)
					h.knownSMS(gd)
				} else if d != nil {
					h.setVoice(modem.VoiceSupport{AudioInterface: -1}, "this modem driver has no call control")
				}
			}
		}
		gd, _ := cur.(gsmDriver)
		select {
		case <-ctx.Done():
			return
		case <-setup:
			setup = nil
			if gd != nil && !h.voiceSetup(ctx, gd) {
				setup = time.After(gsmSetupRetry) // the card did not answer: try again
			}
		case <-ringTO:
			ringTO = nil
			h.sync(ctx, gd)
		case u, ok := <-urcs:
			if !ok {
				urcs = nil
				continue
			}
			if (u.Engine != "" && u.Engine != "faulty") || isBootURC(u.Line) {
				// Reopened, reset or rebooted by itself: the card lost
				// its voice settings once the modem's own re-init ran.
				setup = time.After(2 * time.Second)
				continue
			}
			if gd == nil {
				continue
			}
			if h.urc(ctx, gd, u) {
				ringTO = time.After(gsmRingToCLIP)
			}
		case <-tick.C:
			h.mu.Lock()
			busy, settingUp := len(h.calls) > 0, false
			for _, c := range h.calls {
				settingUp = settingUp || c.State == netapi.GSMCallDialing || c.State == netapi.GSMCallAlerting
			}
			h.mu.Unlock()
			// Every tick while a call we placed is being set up (the
			// ringback must not be missed), else every gsmCallPoll.
			if gd != nil && (settingUp || (busy && time.Since(lastSync) >= gsmCallPoll)) {
				lastSync = time.Now()
				h.sync(ctx, gd)
			}
			if gd != nil && time.Since(lastSMSScan) >= gsmSMSScan {
				lastSMSScan = time.Now()
				h.knownSMS(gd)
			}
		}
	}
}

func (h *gsmHub) setVoice(vs modem.VoiceSupport, why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.voice, h.vErr = vs, why
}

// voiceSetup sets the card's voice up; false when it did not answer.
func (h *gsmHub) voiceSetup(ctx context.Context, gd gsmDriver) bool {
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	vs, err := gd.VoiceSetup(c)
	why := vs.Why
	if err != nil {
		why = "voice set-up failed: " + err.Error()
		h.log.Warn("gsm voice set-up", "err", err)
	}
	if vs.Capable && vs.AudioPort == "" {
		why = vs.Why + "; the voice tty (USB interface " + fmt.Sprint(vs.AudioInterface) + ") was not found among the modem's ports: set network.modem.audio_port"
	}
	h.setVoice(vs, why)
	return err == nil
}

// urc handles one URC; it returns true for a RING that should be followed
// by a +CLCC round unless +CLIP comes first.
func (h *gsmHub) urc(ctx context.Context, gd gsmDriver, u modem.URC) (ringWait bool) {
	ev, ok := modem.ParseVoiceURC(u)
	if !ok {
		switch {
		case strings.HasPrefix(strings.ToUpper(u.Line), "+CMTI:"), strings.HasPrefix(strings.ToUpper(u.Line), "+CMT:"):
			// The modem stores it in its own goroutine: look for it a few
			// times.
			go func() {
				for _, d := range []time.Duration{300 * time.Millisecond, time.Second, 3 * time.Second} {
					select {
					case <-ctx.Done():
						return
					case <-time.After(d):
					}
					if h.knownSMS(gd) > 0 {
						return
					}
				}
			}()
		}
		return false
	}
	switch ev.Kind {
	case modem.VoiceRing:
		h.mu.Lock()
		ringing := false
		for _, c := range h.calls {
			ringing = ringing || (c.Incoming && !c.connected)
		}
		h.mu.Unlock()
		return !ringing // a RING of a call already announced: nothing new
	case modem.VoiceCLIP:
		h.mu.Lock()
		h.clip = &ev
		h.mu.Unlock()
		h.sync(ctx, gd)
	case modem.VoiceEnded:
		h.mu.Lock()
		// Huawei's ^CEND (call index, cause) comes just before NO
		// CARRIER / BUSY: the final result then adds nothing.
		switch {
		case ev.Call != 0:
			h.hint = endHint{call: ev.Call, reason: ev.Reason, at: time.Now()}
		case h.hint.call != 0 && time.Since(h.hint.at) < time.Second:
			if h.hint.reason == "" {
				h.hint.reason = ev.Reason
			}
		default:
			h.hint = endHint{reason: ev.Reason, at: time.Now()}
		}
		h.mu.Unlock()
		h.sync(ctx, gd)
	case modem.VoiceDialing, modem.VoiceAlerting, modem.VoiceConnected:
		h.sync(ctx, gd)
	case modem.VoiceDTMF:
		h.mu.Lock()
		call := 0
		for _, c := range h.calls {
			if c.State == netapi.GSMCallActive {
				call = c.Call
			}
		}
		h.emitLocked(netapi.GSMEvent{Kind: netapi.GSMDTMF, Call: call, Number: ev.Digit, Time: ev.Time})
		h.mu.Unlock()
	case modem.VoiceReport:
		h.report(*ev.Report, ev.Time)
	case modem.VoiceReportAt:
		c, cancel := context.WithTimeout(ctx, 20*time.Second)
		rep, err := gd.ReadStatusReport(c, ev.Index)
		cancel()
		if err != nil {
			h.log.Warn("gsm: stored status report", "index", ev.Index, "err", err)
			return false
		}
		h.report(rep, ev.Time)
	}
	return false
}

func (h *gsmHub) report(r modem.StatusReport, t time.Time) {
	h.emit(netapi.GSMEvent{Kind: netapi.GSMSMSStatus, Ref: r.Ref, Number: r.Recipient, Status: r.Status,
		Reason: fmt.Sprintf("%02X", r.TPStatus), Time: t})
}

// knownSMS announces received messages not announced yet. Messages
// stored before the hub was made (by an earlier netctl) are recorded
// without an event; those stored since, also while netctl was still
// opening the modem and fetching what waited on the SIM, are announced.
func (h *gsmHub) knownSMS(gd gsmDriver) int {
	list, err := gd.ListSMS()
	if err != nil {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.smsIDs == nil {
		h.smsIDs = map[string]bool{}
	}
	n := 0
	for _, m := range list {
		if h.smsIDs[m.ID] {
			continue
		}
		h.smsIDs[m.ID] = true
		if m.Outgoing || m.Received.Before(h.created) {
			continue
		}
		msg := m
		h.emitLocked(netapi.GSMEvent{Kind: netapi.GSMSMSReceived, Number: m.From, SMS: &msg})
		n++
	}
	return n
}

// sync reads +CLCC and turns the differences with the last round into
// events: a new ringing call, ringback, connected, ended.
func (h *gsmHub) sync(ctx context.Context, gd gsmDriver) []netapi.GSMCall {
	if gd == nil {
		return nil
	}
	h.syncMu.Lock()
	defer h.syncMu.Unlock()
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	calls, err := gd.Calls(c)
	if err != nil {
		h.log.Debug("gsm: +CLCC", "err", err)
		return h.callList()
	}
	var connectedMO []int
	h.mu.Lock()
	seen := map[int]bool{}
	for _, mc := range calls {
		if mc.Mode != 0 {
			continue // data or fax
		}
		seen[mc.Index] = true
		tc := h.calls[mc.Index]
		if tc == nil || tc.Incoming != mc.Incoming || (tc.Number != "" && mc.Number != "" && tc.Number != mc.Number) {
			if tc != nil {
				h.endLocked(tc, "")
			}
			tc = &trackedCall{GSMCall: netapi.GSMCall{Call: mc.Index, Incoming: mc.Incoming, Number: mc.Number, Since: time.Now()}}
			h.calls[mc.Index] = tc
			if mc.Incoming {
				withheld, reason := mc.Number == "", ""
				if withheld {
					reason = "withheld"
				}
				if h.clip != nil && time.Since(h.clip.Time) < 10*time.Second {
					if h.clip.Withheld {
						withheld, reason = true, h.clip.Reason
					}
				}
				tc.Withheld = withheld
				h.emitLocked(netapi.GSMEvent{Kind: netapi.GSMIncoming, Call: mc.Index, Number: mc.Number, Withheld: withheld, Reason: reason})
				h.clip = nil
			}
		}
		tc.State = mc.State
		if mc.Number != "" {
			tc.Number = mc.Number
		}
		switch mc.State {
		case modem.CallAlerting:
			if !tc.Incoming && !tc.alerted {
				tc.alerted = true
				h.emitLocked(netapi.GSMEvent{Kind: netapi.GSMAlerting, Call: mc.Index, Number: tc.Number})
			}
		case modem.CallActive:
			if !tc.connected {
				tc.connected = true
				h.emitLocked(netapi.GSMEvent{Kind: netapi.GSMConnected, Call: mc.Index, Number: tc.Number, Withheld: tc.Withheld})
				if !tc.Incoming {
					connectedMO = append(connectedMO, mc.Index)
				}
			}
		}
	}
	var gone []*trackedCall
	for idx, tc := range h.calls {
		if !seen[idx] {
			gone = append(gone, tc)
		}
	}
	h.mu.Unlock()
	for _, tc := range gone {
		reason := h.endReason(ctx, gd, tc)
		h.mu.Lock()
		h.endLocked(tc, reason)
		h.mu.Unlock()
	}
	if len(connectedMO) > 0 {
		// Huawei: ^DDSETEX=2 starts the PCM stream of a call we placed.
		if err := gd.CallConnected(c); err != nil {
			h.log.Warn("gsm: call audio", "err", err)
		}
	}
	return h.callList()
}

// endReason explains why tc vanished from +CLCC.
func (h *gsmHub) endReason(ctx context.Context, gd gsmDriver, tc *trackedCall) string {
	h.mu.Lock()
	local := h.local[tc.Call] || h.local[0]
	hint := h.hint
	h.hint = endHint{} // one end explains one call
	h.mu.Unlock()
	switch {
	case local:
		return netapi.GSMEndLocalHangup
	case time.Since(hint.at) < gsmEndHintLife && (hint.call == 0 || hint.call == tc.Call) && hint.reason != "" && hint.reason != modem.EndNoCarrier:
		return hint.reason
	case tc.connected || tc.Incoming:
		// Up, or ringing here: the far end hung up (or gave up).
		return netapi.GSMEndRemoteHangup
	}
	// A call we placed failed with NO CARRIER: the card may know why.
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return gd.EndCause(c, netapi.GSMEndNoCarrier)
}

func (h *gsmHub) endLocked(tc *trackedCall, reason string) {
	if h.calls[tc.Call] != tc {
		return
	}
	delete(h.calls, tc.Call)
	delete(h.local, tc.Call)
	if len(h.calls) == 0 {
		delete(h.local, 0)
	}
	if reason == "" {
		reason = netapi.GSMEndError
	}
	if !tc.Incoming && !h.dialStart.IsZero() && !tc.Since.Before(h.dialStart) && h.dialEnded == 0 {
		h.dialEnded = tc.Call
	}
	h.emitLocked(netapi.GSMEvent{Kind: netapi.GSMEnded, Call: tc.Call, Number: tc.Number, Withheld: tc.Withheld, Reason: reason})
}

func (h *gsmHub) callList() []netapi.GSMCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []netapi.GSMCall{}
	for _, c := range h.calls {
		out = append(out, c.GSMCall)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Call < out[j].Call })
	return out
}

// isBootURC: the card restarted by itself (the modem package re-inits it).
func isBootURC(line string) bool {
	switch strings.TrimSpace(line) {
	case "^SYSSTART", "RDY", "*EMRDY: 1":
		return true
	}
	return false
}
