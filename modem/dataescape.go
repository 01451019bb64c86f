package modem

// A PPP card left in data mode: pppd hangs up by dropping DTR, which a card
// that ignores DTR (or a serial line without it, as QEMU's) never sees.
// After pppd exits such a card still passes every byte to the network, and
// no AT is answered: without an escape, recovery would reopen the port,
// send a vendor reset into the data stream, then power-cycle the slot.

import (
	"bufio"
	"context"
	"fmt"
	"strings"
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

// EscapeDataPort does for a PPP data port of its own (an MC8775's ttyUSB0
// beside its AT port) what Resume does for a shared one, once pppd has
// exited and the port is nobody's: if it does not answer AT, "+++"
// between guard times, then ATH. Left in data mode, the next dial's chat
// would talk into the old call and fail until the card is reset.
// escaped says whether the card was found in data mode.
func EscapeDataPort(ctx context.Context, path string) (escaped bool, err error) {
	p, err := OpenSerial(path, 0)
	if err != nil {
		return false, err
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(p)
		sc.Split(scanCRLF)
		for sc.Scan() {
			select {
			case lines <- strings.TrimSpace(sc.Text()):
			default: // nobody reads any more: drop
			}
		}
	}()
	defer p.Close()
	ok := func(out string, wait time.Duration) bool {
		if _, err := p.Write([]byte(out)); err != nil {
			return false
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		for {
			select {
			case l, more := <-lines:
				if !more {
					return false
				}
				if l == "OK" {
					return true
				}
			case <-t.C:
				return false
			case <-ctx.Done():
				return false
			}
		}
	}
	if ok("AT\r", 1500*time.Millisecond) {
		return false, nil
	}
	sleepCtx(ctx, escapeGuard)
	if !ok("+++", escapeGuard+3*time.Second) {
		return false, fmt.Errorf("%s: no answer to AT nor to the +++ escape", path)
	}
	if !ok("ATH\r", 5*time.Second) {
		return true, fmt.Errorf("%s: ATH after +++ not answered", path)
	}
	return true, nil
}

// scanCRLF splits at CR or LF, as cards end lines either way.
func scanCRLF(data []byte, atEOF bool) (int, []byte, error) {
	for i, b := range data {
		if b == '\r' || b == '\n' {
			return i + 1, data[:i], nil
		}
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}
