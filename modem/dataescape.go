package modem

// A PPP card left in data mode: pppd hangs up by dropping DTR, which a card
// that ignores DTR (or a serial line without it, as QEMU's) never sees.
// After pppd exits such a card still passes every byte to the network, and
// no AT is answered: without an escape, recovery would reopen the port,
// send a vendor reset into the data stream, then power-cycle the slot.

import (
	"context"
	"fmt"
	"time"
)

// escapeGuard is the silence a card wants around "+++" (S12, default 1 s),
// with a margin.
const escapeGuard = 1100 * time.Millisecond

// EscapeData sends the "+++" escape with a guard time of silence before
// and waits for the card's OK (online command mode). It skips the
// resynchronisation a timed-out command starts: the sync's AT would go
// into the data stream too.
func (e *Engine) EscapeData(ctx context.Context) error {
	if e.Suspended() {
		return fmt.Errorf("+++: %w", ErrSuspended)
	}
	req := &request{ctx: ctx, cmd: "+++", escape: true, internal: true, timeout: 2*escapeGuard + 3*time.Second, resp: make(chan result, 1)}
	select {
	case e.reqs <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-e.running:
		return ErrClosed
	}
	select {
	case res := <-req.resp:
		return res.err
	case <-e.running:
		return ErrClosed
	}
}

// leaveDataMode checks that the port answers AT after pppd; if it does
// not, the card is taken for one still in data mode: "+++", then ATH.
func (m *Modem) leaveDataMode(ctx context.Context) {
	probe := m.opts.ProbeTimeout
	if probe <= 0 {
		probe = 2 * time.Second
	}
	if _, err := m.eng.Command(ctx, "AT", probe); err == nil || isModemAnswer(err) {
		return
	}
	m.log.Warn("modem silent after pppd: still in data mode (DTR ignored?); escaping with +++")
	if err := m.eng.EscapeData(ctx); err != nil {
		m.log.Warn("modem +++ escape not answered", "err", err)
		return
	}
	if _, err := m.eng.Command(ctx, "ATH", 5*time.Second); err != nil {
		m.log.Warn("modem ATH after +++", "err", err)
		return
	}
	m.log.Info("modem left data mode: +++ and ATH")
}
