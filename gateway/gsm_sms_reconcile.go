package gateway

import (
	"sort"
	"time"

	"edgebox/api/netapi"
)

// netctl keeps every received SMS in its store; its events are only the
// news. An SMS whose event was lost (netctl's ring overflowed while the
// gateway was down, or netctl took a new modem driver as the SMS came)
// would never reach the PBX. So the bridge also reads netctl's store: at
// start, after a gap, and every reconcileEvery, it takes any received
// SMS it has not taken yet and that came after the bridge first ran
// (older ones were there before the box was a GSM gateway).

// reconcileEvery is how often netctl's store is read besides the events.
const reconcileEvery = 2 * time.Minute

// maxTaken bounds the ids of taken SMS kept; when the oldest are
// forgotten, Since moves past them so they are not taken again.
const maxTaken = 2000

// taken says whether the SMS with id was taken already (under b.mu).
func (b *smsBridge) takenLocked(id string) bool {
	_, ok := b.state.Taken[id]
	return ok
}

// markTakenLocked records id (received at t) as taken (under b.mu).
func (b *smsBridge) markTakenLocked(id string, t time.Time) {
	if b.state.Taken == nil {
		b.state.Taken = map[string]time.Time{}
	}
	b.state.Taken[id] = t
	if len(b.state.Taken) <= maxTaken {
		return
	}
	type kv struct {
		id string
		t  time.Time
	}
	all := make([]kv, 0, len(b.state.Taken))
	for k, v := range b.state.Taken {
		all = append(all, kv{k, v})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].t.Before(all[j].t) })
	for _, x := range all[:len(all)-maxTaken] {
		delete(b.state.Taken, x.id)
		if x.t.After(b.state.Since) {
			b.state.Since = x.t
		}
	}
}

// reconcile takes the received SMS in the stores of netctl's modems
// that no event brought.
func (b *smsBridge) reconcile() {
	b.mu.Lock()
	st := b.ident
	b.mu.Unlock()
	// the default modem ("" asks for it; its events name its slot),
	// then every other
	b.reconcileSlot("", st.Slot)
	for _, m := range st.SIMs {
		if m.Slot != "" && m.Slot != st.Slot {
			b.reconcileSlot(m.Slot, m.Slot)
		}
	}
}

// reconcileSlot is reconcile for the modem that ask names in requests
// and slot in events.
func (b *smsBridge) reconcileSlot(ask, slot string) {
	list, err := b.api.ListSMSOn(b.ctx, ask)
	if err != nil {
		return
	}
	sim := b.simForSlot(slot)
	sort.Slice(list, func(i, j int) bool { return list[i].Received.Before(list[j].Received) })
	for _, m := range list {
		b.mu.Lock()
		skip := m.Outgoing || !m.Received.After(b.state.Since) || b.takenLocked(simSMSID(sim, m.ID))
		b.mu.Unlock()
		if skip {
			continue
		}
		msg := m
		if err := b.take(netapi.GSMEvent{Kind: netapi.GSMSMSReceived, Slot: slot, Time: m.Received, Number: m.From, SMS: &msg}); err != nil {
			b.noteFull(err)
			return
		}
		b.log.Info("SMS bridge: took an SMS from netctl's store (no event brought it yet)", "from", m.From, "id", m.ID)
		b.mu.Lock()
		err := b.store.saveState(b.state)
		b.mu.Unlock()
		if err != nil {
			b.log.Error("SMS bridge: state not saved", "err", err)
		}
	}
}
