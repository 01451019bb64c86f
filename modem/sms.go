package modem

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// errNoSMSStore is returned when Options.SMSDir was not set.
var errNoSMSStore = errors.New("SMS storage is not configured")

// SendSMS sends text to number, split into concatenated parts when long.
func (m *Modem) SendSMS(ctx context.Context, number, text string) (SMS, error) {
	msg, _, err := m.SendSMSRefs(ctx, number, text)
	return msg, err
}

// SendSMSRefs is SendSMS that also returns the TP message reference of
// each part (+CMGS: <mr>), which the parts' status reports carry.
func (m *Modem) SendSMSRefs(ctx context.Context, number, text string) (_ SMS, refs []int, _ error) {
	pdus, err := m.enc.Submit(number, text)
	if err != nil {
		return SMS{}, nil, err
	}
	m.smsMu.Lock()
	defer m.smsMu.Unlock()
	if _, err := m.eng.Command(ctx, "AT+CMGF=0", 0); err != nil {
		return SMS{}, refs, m.wrap("send SMS", err)
	}
	for i, p := range pdus {
		r, err := m.eng.CommandPDU(ctx, fmt.Sprintf("AT+CMGS=%d", p.TPDULen), p.Hex, 60*time.Second)
		if err != nil {
			return SMS{}, refs, m.wrap(fmt.Sprintf("send SMS part %d of %d", i+1, len(pdus)), err)
		}
		v, ok := r.Line("+CMGS:")
		if !ok {
			return SMS{}, refs, m.wrap("send SMS", fmt.Errorf("no +CMGS reference in %q", r.Lines))
		}
		// "+CMGS: <mr>[,<scts>]"
		mr, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(v, ",", 2)[0]))
		if err != nil {
			return SMS{}, refs, m.wrap("send SMS", fmt.Errorf("bad +CMGS reference %q", v))
		}
		refs = append(refs, mr)
	}
	now := time.Now().UTC()
	msg := SMS{ID: shortHash(number, text, now.String()), To: number, Text: text, Time: now, Received: now, Outgoing: true, Parts: len(pdus)}
	if m.sms != nil {
		if err := m.sms.storeSent(msg); err != nil {
			return msg, refs, m.wrap("SMS sent but not stored", err)
		}
	}
	return msg, refs, nil
}

// ListSMS returns the stored messages, oldest first.
func (m *Modem) ListSMS() ([]SMS, error) {
	if m.sms == nil {
		return nil, errNoSMSStore
	}
	return m.sms.list()
}

// DeleteSMS removes a stored message.
func (m *Modem) DeleteSMS(id string) error {
	if m.sms == nil {
		return errNoSMSStore
	}
	return m.sms.delete(id)
}

// FetchSMS reads every message waiting on the SIM, stores it durably and
// only then deletes it from the SIM. It returns the newly completed
// messages.
func (m *Modem) FetchSMS(ctx context.Context) ([]SMS, error) {
	if m.sms == nil {
		return nil, errNoSMSStore
	}
	m.smsMu.Lock()
	defer m.smsMu.Unlock()
	if _, err := m.eng.Command(ctx, "AT+CMGF=0", 0); err != nil {
		return nil, m.wrap("fetch SMS", err)
	}
	r, err := m.eng.Command(ctx, "AT+CMGL=4", 30*time.Second)
	if err != nil {
		return nil, m.wrap("list SIM messages", err)
	}
	list, perr := parseCMGL(r.Lines)
	var out []SMS
	var errs []error
	if perr != nil {
		errs = append(errs, perr)
	}
	for _, sp := range list {
		msg, err := m.storeAndDelete(ctx, sp.Index, sp.PDU)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if msg != nil {
			out = append(out, *msg)
		}
	}
	return out, errors.Join(errs...)
}

// storeAndDelete is the only way a message leaves the SIM: after it is
// on disk.
func (m *Modem) storeAndDelete(ctx context.Context, index int, pdu string) (*SMS, error) {
	msg, err := m.sms.storePDU(pdu)
	if err != nil {
		return nil, fmt.Errorf("SIM message %d kept on the SIM: %w", index, err)
	}
	if _, err := m.eng.Command(ctx, fmt.Sprintf("AT+CMGD=%d", index), 10*time.Second); err != nil {
		return msg, m.wrap(fmt.Sprintf("delete SIM message %d (stored)", index), err)
	}
	if msg != nil {
		m.emit(Event{Kind: EventSMS, SMS: msg})
	}
	return msg, nil
}

// fetchOne handles +CMTI for one index.
func (m *Modem) fetchOne(index int) {
	if m.sms == nil {
		m.log.Info("SMS arrived but storage is not configured; left on the SIM", "index", index)
		return
	}
	ctx, cancel := context.WithTimeout(m.ctx, 30*time.Second)
	defer cancel()
	m.smsMu.Lock()
	defer m.smsMu.Unlock()
	r, err := m.eng.Command(ctx, fmt.Sprintf("AT+CMGR=%d", index), 10*time.Second)
	if err != nil {
		m.log.Warn("read SMS", "index", index, "err", err)
		return
	}
	sp, found, err := parseCMGR(r.Lines)
	if err != nil || !found {
		m.log.Warn("read SMS", "index", index, "found", found, "err", err)
		return
	}
	if _, err := m.storeAndDelete(ctx, index, sp.PDU); err != nil {
		m.log.Warn("store SMS", "index", index, "err", err)
	}
}

// storeDirect stores a +CMT message (not kept on the SIM by the modem).
func (m *Modem) storeDirect(pdu string) {
	if m.sms == nil {
		m.log.Warn("SMS delivered directly but storage is not configured: lost", "pdu_len", len(pdu))
		return
	}
	msg, err := m.sms.storePDU(strings.TrimSpace(pdu))
	if err != nil {
		m.log.Error("store SMS", "err", err)
		return
	}
	if msg != nil {
		m.emit(Event{Kind: EventSMS, SMS: msg})
	}
}
