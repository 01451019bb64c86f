package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"

	"edgebox/api/gatewayapi"
	"edgebox/api/netapi"
	"edgebox/internal/config"

	"github.com/emiago/sipgo/sip"
)

// The voice half of the GSM bridge (issue 19). netctl owns the modem: the
// box learns of calls from its GSM events and acts through its API
// (answer, dial, hangup, dtmf); only the card's PCM port is opened here.
// Each SIM (each modem slot, gateway.gsm.sims) carries one call at a
// time, so the bridge has at most one call per SIM: a GSM call ringing on
// a SIM becomes an INVITE to that SIM's inbound destination
// (gsm_voice_in.go); an INVITE from the PBX to sip:+NUMBER@box dials out
// on the first SIM whose allow-list lets it, that is free and under its
// daily bound (gsm_voice_out.go). gsm_sims.go maps SIMs to netctl's
// modems.

// gsmVoiceAPI is the part of netctl's API the voice bridge uses
// (netapi.Client; the unit tests fill it with a fake).
type gsmVoiceAPI interface {
	GSMStatus(ctx context.Context) (netapi.GSMStatus, error)
	GSMEvents(ctx context.Context, after uint64, wait time.Duration) ([]netapi.GSMEvent, error)
	GSMAnswerOn(ctx context.Context, slot string, call int) error
	GSMDialOn(ctx context.Context, slot, number string) (netapi.GSMDialResult, error)
	GSMHangupOn(ctx context.Context, slot string, call int) error
	GSMDTMFOn(ctx context.Context, slot, digits string) error
}

// newGSMVoiceAPI is how the voice bridge reaches netctl.
var newGSMVoiceAPI = func() gsmVoiceAPI { return netapi.NewClient() }

// gsmAPITimeout bounds one API request to netctl (AT commands included).
const gsmAPITimeout = 10 * time.Second

type gsmVoice struct {
	log     *slog.Logger
	svc     *Service
	api     gsmVoiceAPI
	cfg     config.Gateway
	metrics *gsmMetrics

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	status   netapi.GSMStatus      // last read: identity, audio port of each SIM
	simCalls map[int]*gsmVoiceCall // each SIM's one call, by index in gsm.sims
	bySIP    map[string]*gsmVoiceCall
	recent   []gatewayapi.GSMCall
	day      string      // local date of dialled
	dialled  map[int]int // calls the PBX placed today, per SIM
	nextID   int
}

// gsmVoices maps a Service to its voice bridge (kept apart from the
// Service struct, which other parts edit).
var gsmVoices sync.Map // *Service -> *gsmVoice

func (s *Service) gsmVoice() *gsmVoice {
	v, _ := gsmVoices.Load(s)
	g, _ := v.(*gsmVoice)
	return g
}

// startGSMVoice starts the voice bridge when gateway.gsm is enabled.
func (s *Service) startGSMVoice(cfg config.Gateway) {
	if !cfg.Enabled || !cfg.GSM.Enabled {
		return
	}
	v := &gsmVoice{log: s.log.With("part", "gsm-voice"), svc: s, api: newGSMVoiceAPI(), cfg: cfg, metrics: s.gsmMetrics(),
		bySIP: map[string]*gsmVoiceCall{}, simCalls: map[int]*gsmVoiceCall{}, dialled: map[int]int{}}
	v.ctx, v.cancel = context.WithCancel(context.Background())
	gsmVoices.Store(s, v)
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		v.followEvents()
	}()
}

// gsmActiveCalls counts the GSM call in progress among the gateway's
// active calls (its status, the drain's wait).
func (s *Service) gsmActiveCalls() int {
	v := s.gsmVoice()
	if v == nil {
		return 0
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.simCalls)
}

// stopGSMVoice ends the call in progress (both sides) and the bridge.
func (s *Service) stopGSMVoice() {
	v := s.gsmVoice()
	if v == nil {
		return
	}
	gsmVoices.Delete(s)
	v.cancel()
	v.wg.Wait()
}

// applyGSMVoice restarts the bridge when its config or the PBX changed
// (a call in progress ends).
func (s *Service) applyGSMVoice(old, cfg config.Gateway) {
	if s.gsmVoice() != nil && reflect.DeepEqual(old.GSM, cfg.GSM) && reflect.DeepEqual(old.PBX, cfg.PBX) && reflect.DeepEqual(old.Trunk, cfg.Trunk) && old.Enabled == cfg.Enabled {
		return
	}
	s.stopGSMVoice()
	s.startGSMVoice(cfg)
}

// followEvents reads netctl's GSM events from now on and hands them to
// the call (or starts one for "incoming") until the bridge stops.
func (v *gsmVoice) followEvents() {
	var after uint64
	wait := time.Second
	for v.ctx.Err() == nil {
		st, err := v.readStatus()
		if err == nil {
			after = st.Seq
			// a call ringing already (the gateway restarted while the
			// SIM rang) is taken as if its event came now
			sims := st.SIMs
			if len(sims) == 0 {
				sims = []netapi.GSMSIMStatus{st.GSMSIMStatus}
			}
			for _, m := range sims {
				for _, c := range m.Calls {
					if c.Incoming && c.State == netapi.GSMCallIncoming {
						v.dispatch(netapi.GSMEvent{Kind: netapi.GSMIncoming, Slot: m.Slot, Call: c.Call, Number: c.Number, Withheld: c.Withheld})
					}
				}
			}
			break
		}
		v.log.Warn("GSM voice: netctl's GSM status not readable; trying again", "err", err)
		v.sleep(wait)
		wait = min(2*wait, 30*time.Second)
	}
	wait = time.Second
	for v.ctx.Err() == nil {
		evs, err := v.api.GSMEvents(v.ctx, after, netapi.GSMMaxWait)
		if err != nil {
			if v.ctx.Err() == nil {
				v.log.Warn("GSM voice: netctl's events not readable; trying again", "err", err)
				v.sleep(wait)
				wait = min(2*wait, 30*time.Second)
			}
			continue
		}
		wait = time.Second
		for _, ev := range evs {
			after = max(after, ev.Seq)
			v.dispatch(ev)
		}
	}
}

func (v *gsmVoice) sleep(d time.Duration) {
	select {
	case <-v.ctx.Done():
	case <-time.After(d):
	}
}

func (v *gsmVoice) readStatus() (netapi.GSMStatus, error) {
	ctx, cancel := context.WithTimeout(v.ctx, gsmAPITimeout)
	defer cancel()
	st, err := v.api.GSMStatus(ctx)
	if err == nil {
		v.mu.Lock()
		v.status = st
		v.mu.Unlock()
	}
	return st, err
}

// dispatch routes one event.
func (v *gsmVoice) dispatch(ev netapi.GSMEvent) {
	switch ev.Kind {
	case netapi.GSMIncoming:
		v.incoming(ev)
	case netapi.GSMAlerting, netapi.GSMConnected, netapi.GSMEnded, netapi.GSMDTMF:
		v.mu.Lock()
		c := v.simCalls[simOfSlot(v.cfg.GSM, v.status, ev.Slot)]
		v.mu.Unlock()
		if c != nil && c.owns(ev.Call) {
			c.gsmEvent(ev)
		}
	case netapi.GSMGap:
		// events were lost: a call netctl no longer lists has ended
		st, err := v.readStatus()
		if err != nil {
			return
		}
		v.mu.Lock()
		calls := make(map[int]*gsmVoiceCall, len(v.simCalls))
		maps.Copy(calls, v.simCalls)
		v.mu.Unlock()
		for i, c := range calls {
			idx := c.index()
			m, _ := simModem(v.cfg.GSM, st, i)
			if idx == 0 || slices.ContainsFunc(m.Calls, func(k netapi.GSMCall) bool { return k.Call == idx }) {
				continue
			}
			c.gsmEvent(netapi.GSMEvent{Kind: netapi.GSMEnded, Slot: m.Slot, Call: idx, Reason: netapi.GSMEndError})
		}
	}
}

// sim is config SIM i and netctl's status of its modem (zero when netctl
// has none for it).
func (v *gsmVoice) sim(i int) (config.GSMSIM, netapi.GSMSIMStatus) {
	v.mu.Lock()
	st := v.status
	v.mu.Unlock()
	m, _ := simModem(v.cfg.GSM, st, i)
	return v.cfg.GSM.SIMs[i], m
}

// simOfSlot is the config SIM of netctl's slot, as last read.
func (v *gsmVoice) simOfSlot(slot string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return simOfSlot(v.cfg.GSM, v.status, slot)
}

// identity is the SIM's number for To (in) and From (out): the
// configured one, else what the SIM stores, else its IMSI.
func simIdentity(s config.GSMSIM, st netapi.GSMSIMStatus) string {
	switch {
	case s.Number != "":
		return s.Number
	case st.Number != "":
		return st.Number
	case st.IMSI != "":
		return st.IMSI
	}
	return "gsm"
}

// domain is the host part of the URIs the box makes up for GSM parties.
func (v *gsmVoice) domain() string {
	if v.cfg.GSM.Domain != "" {
		return v.cfg.GSM.Domain
	}
	return localIPToward(v.cfg.PBX.HostPort())
}

// claim makes c its SIM's call; false when the SIM carries one.
func (v *gsmVoice) claim(c *gsmVoiceCall) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.simCalls[c.simIdx] != nil || v.ctx.Err() != nil {
		return false
	}
	v.nextID++
	c.id = fmt.Sprintf("gsm-%d", v.nextID)
	v.simCalls[c.simIdx] = c
	v.wg.Add(1) // done in released: stopping waits for the call
	return true
}

func (v *gsmVoice) bindSIP(callID string, c *gsmVoiceCall) {
	v.mu.Lock()
	v.bySIP[callID] = c
	v.mu.Unlock()
}

// released is called by a call when it is over.
func (v *gsmVoice) released(c *gsmVoiceCall) {
	info := c.snapshot()
	v.mu.Lock()
	if v.simCalls[c.simIdx] == c {
		delete(v.simCalls, c.simIdx)
	}
	for k, x := range v.bySIP {
		if x == c {
			delete(v.bySIP, k)
		}
	}
	v.metrics.ended(info)
	v.recent = append(v.recent, info)
	if len(v.recent) > 20 {
		v.recent = v.recent[len(v.recent)-20:]
	}
	v.mu.Unlock()
	v.wg.Done()
	v.log.Info("GSM call ended", "call", info.ID, "direction", info.Direction, "number", info.Number, "withheld", info.Withheld,
		"sip_code", info.SIPCode, "reason", info.Reason, "talk_sec", fmt.Sprintf("%.1f", info.DurationSec))
}

// countDial counts a call the PBX places on SIM sim; false when the
// SIM's bound for today is reached.
func (v *gsmVoice) countDial(sim, limit int) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	today := time.Now().Format("2006-01-02")
	if v.day != today {
		v.day, v.dialled = today, map[int]int{}
	}
	if limit > 0 && v.dialled[sim] >= limit {
		return false
	}
	v.dialled[sim]++
	return true
}

func (v *gsmVoice) calls() gatewayapi.GSMCalls {
	v.mu.Lock()
	active := slices.Collect(maps.Keys(v.simCalls))
	slices.Sort(active)
	cs := make([]*gsmVoiceCall, 0, len(active))
	for _, i := range active {
		cs = append(cs, v.simCalls[i])
	}
	out := gatewayapi.GSMCalls{Voice: true, Active: []gatewayapi.GSMCall{}, Recent: make([]gatewayapi.GSMCall, 0, len(v.recent))}
	for i := len(v.recent) - 1; i >= 0; i-- {
		out.Recent = append(out.Recent, v.recent[i])
	}
	today := v.day == time.Now().Format("2006-01-02")
	st := v.status
	for i, s := range v.cfg.GSM.SIMs {
		m, ok := simModem(v.cfg.GSM, st, i)
		info := gatewayapi.GSMSIM{Slot: s.Slot, Identity: simIdentity(s, m), Voice: ok && m.Voice, Registered: m.Registered, Busy: v.simCalls[i] != nil}
		switch {
		case !ok:
			info.Why = "netctl has no modem in this slot (network.modem.slot, voice_modems)"
		case !m.Voice:
			info.Why = m.VoiceWhy
		}
		if today {
			info.CallsToday = v.dialled[i]
			out.CallsToday += v.dialled[i]
		}
		out.SIMs = append(out.SIMs, info)
	}
	if len(out.SIMs) > 0 && !out.SIMs[0].Voice && out.SIMs[0].Why != "" && len(out.SIMs) == 1 {
		out.Why = "the card: " + out.SIMs[0].Why
	}
	v.mu.Unlock()
	for _, c := range cs {
		out.Active = append(out.Active, c.snapshot())
	}
	return out
}

// inDialog routes a request of a GSM call's dialog (ACK, BYE) to it; false
// when the request belongs to no GSM call.
func (v *gsmVoice) inDialog(req *sip.Request, tx sip.ServerTransaction) bool {
	id := req.CallID()
	if id == nil {
		return false
	}
	v.mu.Lock()
	c := v.bySIP[id.Value()]
	v.mu.Unlock()
	if c == nil {
		return false
	}
	c.sipRequest(req, tx)
	return true
}
