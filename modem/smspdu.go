package modem

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"
)

// OutPDU is one SMS-SUBMIT ready for AT+CMGS=<TPDULen> in PDU mode.
type OutPDU struct {
	Hex     string // SMSC "00" (use the SIM's) followed by the TPDU
	TPDULen int    // octets of the TPDU, without the SMSC part
}

// SMSEncoder builds SMS-SUBMIT PDUs, keeping the message and
// concatenation references across messages.
type SMSEncoder struct{ enc *sms.Encoder }

// NewSMSEncoder starts the concatenation reference at ref so two boxes
// (or restarts) do not reuse the same reference right away.
func NewSMSEncoder(ref int) *SMSEncoder {
	e := sms.NewEncoder(sms.AsSubmit)
	for i := 0; i < ref%256; i++ {
		e.ConcatRef.Count()
	}
	return &SMSEncoder{enc: e}
}

// Submit encodes text to number: GSM 7-bit when every character has a
// GSM code, else UCS-2; long texts become concatenated parts.
func (e *SMSEncoder) Submit(number, text string) ([]OutPDU, error) {
	if err := checkNumber(number); err != nil {
		return nil, err
	}
	if text == "" {
		return nil, errors.New("SMS: empty text")
	}
	for _, r := range text {
		// ESC would become the GSM escape to the extension table and
		// change the text; other controls have no meaning in an SMS.
		if (r < 0x20 && r != '\n' && r != '\r' && r != '\t') || r == 0x7f {
			return nil, fmt.Errorf("SMS: text contains control character %U", r)
		}
	}
	tps, err := e.enc.Encode([]byte(text), sms.To(number))
	if err != nil {
		return nil, fmt.Errorf("SMS encode: %w", err)
	}
	if len(tps) > 255 {
		return nil, fmt.Errorf("SMS: text too long (%d parts)", len(tps))
	}
	out := make([]OutPDU, 0, len(tps))
	for _, t := range tps {
		// TP-SRR: ask the SMSC for a status report per part; the gateway
		// turns them into delivery reports (issue 19).
		t.FirstOctet |= tpdu.FoSRR
		b, err := t.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("SMS encode: %w", err)
		}
		out = append(out, OutPDU{Hex: "00" + strings.ToUpper(hex.EncodeToString(b)), TPDULen: len(b)})
	}
	return out, nil
}

func checkNumber(n string) error {
	s := strings.TrimPrefix(n, "+")
	if s == "" || len(s) > 20 {
		return fmt.Errorf("SMS: bad phone number %q", n)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return fmt.Errorf("SMS: bad phone number %q: digits only, optional leading +", n)
		}
	}
	return nil
}

// EncodeDeliver builds PDU-mode SMS-DELIVER strings (with an SMSC
// address) as a network would deliver them; the simulator and tests use it.
func EncodeDeliver(from, text string, at time.Time, concatRef int) ([]string, error) {
	e := sms.NewEncoder(sms.AsDeliver, sms.From(from))
	for i := 0; i < concatRef%256; i++ {
		e.ConcatRef.Count()
	}
	tps, err := e.Encode([]byte(text))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range tps {
		t.SCTS = tpdu.Timestamp{Time: at.Truncate(time.Second)}
		h, _, err := networkPDUHex(&t)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// networkPDUHex is t in PDU-mode hex as a network sends it (with an SMSC
// address, upper case) and the TPDU's length (the <length> of +CMT/+CDS).
func networkPDUHex(t *tpdu.TPDU) (string, int, error) {
	b, err := t.MarshalBinary()
	if err != nil {
		return "", 0, err
	}
	p := pdumode.PDU{SMSC: pdumode.SMSCAddress{Address: tpdu.NewAddress(tpdu.FromNumber("+447785016005"))}, TPDU: b}
	h, err := p.MarshalHexString()
	if err != nil {
		return "", 0, err
	}
	return strings.ToUpper(h), len(b), nil
}

// inPart is one received SMS-DELIVER segment.
type inPart struct {
	From  string
	Time  time.Time
	Ref   int // concatenation reference; 0 for single messages
	Total int // segments; 1 for single messages
	Seq   int // 1-based
	TPDU  *tpdu.TPDU
}

// decodePDU parses PDU-mode hex (SMSC address first) whose TPDU must be
// of type want; what and noun name it in the errors.
func decodePDU(h, what string, want tpdu.SmsType, noun string) (*tpdu.TPDU, error) {
	p, err := pdumode.UnmarshalHexString(strings.TrimSpace(h))
	if err != nil {
		return nil, fmt.Errorf("%s PDU: %w", what, err)
	}
	t, err := sms.Unmarshal(p.TPDU)
	if err != nil {
		return nil, fmt.Errorf("%s TPDU: %w", what, err)
	}
	if t.SmsType() != want {
		return nil, fmt.Errorf("%s TPDU: type %v, not %s", what, t.SmsType(), noun)
	}
	return t, nil
}

// decodeDeliver parses a PDU-mode hex string from +CMGR/+CMGL/+CMT.
func decodeDeliver(h string) (inPart, error) {
	t, err := decodePDU(h, "SMS", tpdu.SmsDeliver, "a delivered message")
	if err != nil {
		return inPart{}, err
	}
	part := inPart{From: t.OA.Number(), Time: t.SCTS.Time, Total: 1, Seq: 1, TPDU: t}
	if segs, seq, ref, ok := t.ConcatInfo(); ok && segs > 1 {
		if seq < 1 || seq > segs {
			return inPart{}, fmt.Errorf("SMS: part %d of %d", seq, segs)
		}
		part.Total, part.Seq, part.Ref = segs, seq, ref
	}
	return part, nil
}

// decodeText returns the text of the segments (in order).
func decodeText(parts []inPart) (string, error) {
	tps := make([]*tpdu.TPDU, len(parts))
	for i, p := range parts {
		tps[i] = p.TPDU
	}
	if len(tps) > 1 && !sms.IsCompleteMessage(tps) {
		return "", errors.New("SMS: incomplete concatenated message")
	}
	b, err := sms.Decode(tps)
	if err != nil {
		return "", fmt.Errorf("SMS decode: %w", err)
	}
	return string(b), nil
}

// DecodeSubmit parses a PDU-mode SMS-SUBMIT (what the box sends); the
// simulator uses it to check and store outgoing messages.
func DecodeSubmit(h string) (to string, t *tpdu.TPDU, err error) {
	p, err := pdumode.UnmarshalHexString(strings.TrimSpace(h))
	if err != nil {
		return "", nil, fmt.Errorf("SMS PDU: %w", err)
	}
	t, err = sms.Unmarshal(p.TPDU, sms.AsMO)
	if err != nil {
		return "", nil, fmt.Errorf("SMS TPDU: %w", err)
	}
	if t.SmsType() != tpdu.SmsSubmit {
		return "", nil, fmt.Errorf("SMS TPDU: type %v, not a submit", t.SmsType())
	}
	return t.DA.Number(), t, nil
}
