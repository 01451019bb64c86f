package modem

import (
	"time"

	"github.com/warthog618/sms/encoding/tpdu"
)

// Delivery report statuses (3GPP 23.040 9.2.3.15 TP-Status, grouped).
const (
	ReportDelivered = "delivered" // 0x00-0x1F: the message reached the phone
	ReportPending   = "pending"   // 0x20-0x3F: the SMSC is still trying
	ReportFailed    = "failed"    // 0x40-0x7F: the SMSC gave up
)

// StatusReport is one SMS-STATUS-REPORT: the answer to a part sent with
// TP-SRR set.
type StatusReport struct {
	Ref       int       // TP-MR of the part it reports on (+CMGS: <mr>)
	Recipient string    // TP-RA
	Status    string    // ReportDelivered, ReportPending or ReportFailed
	TPStatus  byte      // TP-ST as received
	Submitted time.Time // TP-SCTS: when the SMSC took the part
	Done      time.Time // TP-DT: when it was delivered or given up
}

// reportStatus groups a TP-Status byte. Reserved values 0x80 and above
// count as failed: the SMSC does not deliver anything more.
func reportStatus(st byte) string {
	switch {
	case st < 0x20:
		return ReportDelivered
	case st < 0x40:
		return ReportPending
	default:
		return ReportFailed
	}
}

// decodeStatusReport parses the PDU line after "+CDS: <length>" (or of
// AT+CMGR for a report stored after +CDSI), SMSC address first.
func decodeStatusReport(h string) (StatusReport, error) {
	t, err := decodePDU(h, "status report", tpdu.SmsStatusReport, "a status report")
	if err != nil {
		return StatusReport{}, err
	}
	return StatusReport{
		Ref: int(t.MR), Recipient: t.RA.Number(), Status: reportStatus(t.ST), TPStatus: t.ST,
		Submitted: t.SCTS.Time, Done: t.DT.Time,
	}, nil
}

// EncodeStatusReport builds the PDU-mode hex (with an SMSC address) of a
// status report for part ref sent to recipient, as the network sends it;
// the simulator uses it. It returns the hex and its TPDU length (the
// <length> of +CDS).
func EncodeStatusReport(ref int, recipient string, st byte, submitted, done time.Time) (string, int, error) {
	t := tpdu.TPDU{}
	t.SetSmsType(tpdu.SmsStatusReport)
	t.MR = byte(ref)
	t.RA = tpdu.NewAddress(tpdu.FromNumber(recipient))
	t.SCTS = tpdu.Timestamp{Time: submitted.Truncate(time.Second)}
	t.DT = tpdu.Timestamp{Time: done.Truncate(time.Second)}
	t.ST = st
	return networkPDUHex(&t)
}
