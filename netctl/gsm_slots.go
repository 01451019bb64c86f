package netctl

// The GSM API over several modems (issue 19 item 5): one hub per modem
// (the data modem's, and one per voice modem in network.modem.voice_modems),
// all adding to one event ring, so a client follows every SIM with one
// long-poll and tells them apart by the events' Slot. Requests name the
// modem by slot; none names the default one (the data modem, or the first
// voice modem when there is no data modem), so one-modem clients keep
// working.

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"edgebox/api/netapi"
)

// gsmRing keeps the last gsmRingSize events of every modem and wakes the
// long-polls.
type gsmRing struct {
	log  *slog.Logger
	mu   sync.Mutex
	seq  uint64
	ring []netapi.GSMEvent
	wake chan struct{} // closed when an event is added
}

func newGSMRing(log *slog.Logger) *gsmRing {
	return &gsmRing{log: log, wake: make(chan struct{})}
}

// add numbers ev, keeps it and wakes the long-polls.
func (r *gsmRing) add(ev netapi.GSMEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	ev.Seq = r.seq
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	if len(r.ring) == gsmRingSize {
		copy(r.ring, r.ring[1:])
		r.ring = r.ring[:gsmRingSize-1]
	}
	r.ring = append(r.ring, ev)
	close(r.wake)
	r.wake = make(chan struct{})
	r.log.Info("gsm event", "seq", ev.Seq, "slot", ev.Slot, "kind", ev.Kind, "call", ev.Call, "reason", ev.Reason, "ref", ev.Ref, "status", ev.Status)
}

func (r *gsmRing) last() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq
}

// eventsAfter returns the events with Seq > after, with a gap event first
// when some were dropped from the ring (or netctl restarted: after is
// ahead of the newest Seq), and a channel closed at the next event.
func (r *gsmRing) eventsAfter(after uint64) ([]netapi.GSMEvent, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if after > r.seq {
		return []netapi.GSMEvent{{Seq: r.seq, Time: time.Now(), Kind: netapi.GSMGap,
			Reason: fmt.Sprintf("event %d is newer than the newest (%d): netctl restarted, sequence numbers start again", after, r.seq)}}, r.wake
	}
	var out []netapi.GSMEvent
	if len(r.ring) > 0 && after+1 < r.ring[0].Seq {
		lost := r.ring[0].Seq - 1 - after
		out = append(out, netapi.GSMEvent{Seq: r.ring[0].Seq - 1, Time: time.Now(), Kind: netapi.GSMGap,
			Reason: fmt.Sprintf("%d events lost (only the last %d are kept)", lost, gsmRingSize)})
	}
	i := sort.Search(len(r.ring), func(i int) bool { return r.ring[i].Seq > after })
	out = append(out, r.ring[i:]...)
	return out, r.wake
}

// wait long-polls: events after `after`, waiting up to d for the first.
func (r *gsmRing) wait(ctx context.Context, after uint64, d time.Duration) []netapi.GSMEvent {
	evs, wake := r.eventsAfter(after)
	if len(evs) > 0 || d <= 0 {
		return evs
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-wake:
		evs, _ = r.eventsAfter(after)
	case <-t.C:
	case <-ctx.Done():
	}
	return evs
}

// gsmHubs are the hubs of every modem.
type gsmHubs struct {
	ring *gsmRing
	// data is the data modem's hub (network.modem).
	data *gsmHub
	// hasData says whether the data modem is enabled; nil: always.
	hasData func() bool
	// voiceSlots lists network.modem.voice_modems' slots in config order;
	// nil: none. newVoice makes the hub of one.
	voiceSlots func() []string
	newVoice   func(slot string) *gsmHub

	mu    sync.Mutex
	voice map[string]*gsmHub
}

// singleHub serves one hub alone (a box, or a test, with one modem).
func singleHub(h *gsmHub) *gsmHubs { return &gsmHubs{ring: h.events, data: h} }

// start starts every configured modem's hub (on first use of the API, as
// with one modem).
func (hs *gsmHubs) start() {
	hs.data.start()
	for _, h := range hs.voiceHubs() {
		h.start()
	}
}

func (hs *gsmHubs) dataEnabled() bool { return hs.hasData == nil || hs.hasData() }

// voiceHubs are the hubs of the configured voice modems, in config order;
// a hub is made for a slot the first time it is configured and kept (its
// driver says "no voice modem" when the slot is configured no more).
func (hs *gsmHubs) voiceHubs() []*gsmHub {
	if hs.voiceSlots == nil {
		return nil
	}
	slots := hs.voiceSlots()
	hs.mu.Lock()
	defer hs.mu.Unlock()
	var out []*gsmHub
	for _, sl := range slots {
		h := hs.voice[sl]
		if h == nil {
			if hs.voice == nil {
				hs.voice = map[string]*gsmHub{}
			}
			h = hs.newVoice(sl)
			h.events = hs.ring
			hs.voice[sl] = h
		}
		out = append(out, h)
	}
	return out
}

// pick is the hub a request's slot names: "" the default modem, else the
// modem whose slot it is.
func (hs *gsmHubs) pick(slot string) (*gsmHub, error) {
	voice := hs.voiceHubs()
	if slot == "" {
		if !hs.dataEnabled() && len(voice) > 0 {
			return voice[0], nil
		}
		return hs.data, nil
	}
	if hs.dataEnabled() && hs.data.slotName() == slot {
		return hs.data, nil
	}
	known := []string{}
	if s := hs.data.slotName(); s != "" && hs.dataEnabled() {
		known = append(known, s)
	}
	for _, h := range voice {
		if h.slotName() == slot {
			return h, nil
		}
		known = append(known, h.slotName())
	}
	if len(known) == 0 {
		return nil, gsmNotFound{fmt.Sprintf("no modem in slot %q: this box names no modem by slot (set network.modem.slot, or leave slot out for the modem)", slot)}
	}
	return nil, gsmNotFound{fmt.Sprintf("no modem in slot %q (modems: %s)", slot, strings.Join(known, ", "))}
}

// gsmNotFound marks a request for a slot without a modem (404).
type gsmNotFound struct{ msg string }

func (e gsmNotFound) Error() string { return e.msg }

// status is GET /v1/gsm/status: every modem's SIM, the default one at
// the top as well.
func (hs *gsmHubs) status(ctx context.Context) netapi.GSMStatus {
	var st netapi.GSMStatus
	def, _ := hs.pick("")
	hubs := hs.voiceHubs()
	if hs.dataEnabled() || len(hubs) == 0 {
		hubs = slices.Insert(hubs, 0, hs.data)
	}
	// each hub reads its card's +CLCC: at once, so a hung card (up to
	// the 5 s bound) does not hold up the others' status
	st.SIMs = make([]netapi.GSMSIMStatus, len(hubs))
	var wg sync.WaitGroup
	for i, h := range hubs {
		wg.Go(func() {
			st.SIMs[i] = h.statusOf(ctx)
			st.SIMs[i].Data = h == hs.data
		})
	}
	wg.Wait()
	for i, h := range hubs {
		if h == def {
			st.GSMSIMStatus = st.SIMs[i]
		}
	}
	st.Seq = hs.ring.last()
	return st
}
