package modem

import (
	"context"
	"strings"
	"time"
)

// handleURCs turns unsolicited lines into Events, fetches announced SMS
// and re-initialises the modem after it rebooted. It ends when the engine
// stops (the subscription closes).
func (m *Modem) handleURCs(urcs <-chan URC) {
	for u := range urcs {
		if u.Engine != "" {
			m.engineEvent(u)
			continue
		}
		m.urc(u)
	}
}

func (m *Modem) engineEvent(u URC) {
	if u.Engine == "faulty" {
		msg := "modem faulty"
		if u.Err != nil {
			msg = u.Err.Error()
		}
		m.emit(Event{Kind: EventFaulty, Err: msg, Time: u.Time})
		return
	}
	if u.Engine == "removed" {
		// Nothing to set up on a card that is not there; "replugged"
		// (below) sets up the one that comes back.
		m.emit(Event{Kind: EventRemoved, Err: ErrRemoved.Error(), Time: u.Time})
		return
	}
	// The port was reopened or the modem reset: settings are gone.
	m.reinitAfter(u.Engine)
}

func (m *Modem) reinit() { m.reinitAfter("") }

// reinitAfter initialises the modem again (settings, radio on) after
// recovery (how: "reopened", "reset", "slot-reset") or a restart ("").
func (m *Modem) reinitAfter(how string) {
	ctx, cancel := context.WithTimeout(m.ctx, 60*time.Second)
	defer cancel()
	if how != "reopened" {
		// The modem restarted: its SIM asks for the PIN again.
		m.stMu.Lock()
		m.pinAcceptedAt = time.Time{}
		m.stMu.Unlock()
	}
	err := m.init(ctx)
	ev := Event{Kind: EventReset, Recovery: how}
	if err != nil {
		ev.Err = err.Error()
		m.log.Warn("modem re-init after reset failed", "err", err)
	}
	m.emit(ev)
}

func (m *Modem) urc(u URC) {
	line := u.Line
	name := urcName(line)
	if ls, ok := m.prof.LinkURC(line); ok {
		m.linkMu.Lock()
		for _, ch := range m.linkWatch {
			select {
			case ch <- ls:
			default:
			}
		}
		m.linkMu.Unlock()
		m.emit(Event{Kind: EventLink, Link: &ls, Time: u.Time})
		return
	}
	switch name {
	case "+CREG", "+CGREG", "+CEREG":
		ri, err := parseCREG(afterColon(line), false)
		if err != nil {
			m.log.Debug("bad registration URC", "line", line, "err", err)
			return
		}
		reg := Registration{State: regStateOf(ri.Stat), LAC: ri.LAC, CellID: ri.CellID}
		if ri.AcT >= 0 {
			reg.Tech = techOfAcT(ri.AcT)
		}
		m.noteReg(reg, u.Time)
	case "+CPIN":
		st, err := ParseCPIN(afterColon(line))
		if err != nil {
			return
		}
		m.simEvent(SIMStatus{State: st, PINAttempts: -1, PUKAttempts: -1}, u.Time)
	case "^SIMST":
		// ^SIMST: 1 valid, 255 absent, others invalid/locked.
		v := strings.TrimSpace(afterColon(line))
		st := SIMError
		switch v {
		case "1":
			st = SIMReady
		case "255":
			st = SIMAbsent
		}
		m.simEvent(SIMStatus{State: st, PINAttempts: -1, PUKAttempts: -1}, u.Time)
	case "+QUSIM":
		if strings.TrimSpace(afterColon(line)) == "0" {
			m.simEvent(SIMStatus{State: SIMAbsent, PINAttempts: -1, PUKAttempts: -1}, u.Time)
		}
	case "^RSSI":
		if dbm, ok, err := parseRSSIURC(afterColon(line)); err == nil && ok {
			m.emit(Event{Kind: EventSignal, Signal: &Signal{RSSI: &dbm}, Time: u.Time})
		}
	case "^HCSQ":
		if s, err := parseHCSQ(afterColon(line)); err == nil {
			m.emit(Event{Kind: EventSignal, Signal: &s, Time: u.Time})
		}
	case "+CMTI":
		_, idx, err := parseCMTI(afterColon(line))
		if err != nil {
			m.log.Warn("bad +CMTI", "line", line, "err", err)
			return
		}
		m.fetchOne(idx)
	case "+CMT":
		if u.PDU != "" {
			m.storeDirect(u.PDU)
		}
	case "RING", "+CRING":
		m.emit(Event{Kind: EventRing, Time: u.Time})
	case "^SYSSTART", "*EMRDY", "RDY":
		if name == "*EMRDY" && strings.TrimSpace(afterColon(line)) != "1" {
			return
		}
		// The modem rebooted by itself (or after our reset command).
		m.spawn(m.reinit)
	default:
		m.log.Debug("unsolicited", "line", line)
	}
}

func (m *Modem) simEvent(st SIMStatus, t time.Time) {
	if m.noteSIM(st, t) && st.State == SIMReady {
		m.spawn(func() {
			ctx, cancel := context.WithTimeout(m.ctx, 60*time.Second)
			defer cancel()
			m.smsSetup(ctx)
			m.FetchSMS(ctx)
		})
	}
}
