package modem

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/tpdu"
)

// The classic example PDU (GSM 03.40): "How are you?" from +31641600986.
const howAreYou = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"

func TestDecodeKnownDeliver(t *testing.T) {
	p, err := decodeDeliver(howAreYou)
	if err != nil {
		t.Fatal(err)
	}
	text, err := decodeText([]inPart{p})
	if err != nil || text != "How are you?" || p.From != "+31641600986" || p.Total != 1 {
		t.Fatalf("%q from %q (%d parts) %v", text, p.From, p.Total, err)
	}
	for _, bad := range []string{"", "0", "ZZ", "07911326040000F0", "00" + strings.Repeat("F", 10)} {
		if _, err := decodeDeliver(bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

// submitText decodes what Submit produced, as the network would.
func submitText(t *testing.T, pdus []OutPDU) (string, []*tpdu.TPDU) {
	t.Helper()
	var tps []*tpdu.TPDU
	for _, p := range pdus {
		if got := (len(p.Hex) - 2) / 2; got != p.TPDULen {
			t.Fatalf("TPDU length %d, hex says %d", p.TPDULen, got)
		}
		_, tp, err := DecodeSubmit(p.Hex)
		if err != nil {
			t.Fatal(err)
		}
		tps = append(tps, tp)
	}
	b, err := sms.Decode(tps)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), tps
}

func TestSubmitEncoding(t *testing.T) {
	enc := NewSMSEncoder(7)
	cases := []struct {
		text  string
		parts int
		alpha tpdu.Alphabet
	}{
		{"Hello from the box", 1, tpdu.Alpha7Bit},
		{"Preis: 5€ [ok]", 1, tpdu.Alpha7Bit}, // GSM extension table
		{strings.Repeat("a", 160), 1, tpdu.Alpha7Bit},
		{strings.Repeat("a", 161), 2, tpdu.Alpha7Bit},
		{strings.Repeat("b", 400), 3, tpdu.Alpha7Bit},
		{"Привет, коробка", 1, tpdu.AlphaUCS2},
		{strings.Repeat("я", 70), 1, tpdu.AlphaUCS2},
		{strings.Repeat("я", 71), 2, tpdu.AlphaUCS2},
		{"ok 😁", 1, tpdu.AlphaUCS2},
	}
	for _, c := range cases {
		pdus, err := enc.Submit("+491701234567", c.text)
		if err != nil {
			t.Fatal(err)
		}
		if len(pdus) != c.parts {
			t.Errorf("%q: %d parts, want %d", c.text, len(pdus), c.parts)
		}
		text, tps := submitText(t, pdus)
		if text != c.text {
			t.Errorf("round trip %q -> %q", c.text, text)
		}
		if a, _ := tps[0].Alphabet(); a != c.alpha {
			t.Errorf("%q: alphabet %v", c.text, a)
		}
		if tps[0].DA.Number() != "+491701234567" {
			t.Errorf("to %q", tps[0].DA.Number())
		}
	}
	for _, bad := range []string{"", "+", "12a4", "+1234567890123456789012"} {
		if _, err := enc.Submit(bad, "x"); err == nil {
			t.Errorf("number %q accepted", bad)
		}
	}
	if _, err := enc.Submit("123", "a\x1bb"); err == nil {
		t.Error("ESC accepted: it would turn into a GSM escape")
	}
	if _, err := enc.Submit("123", ""); err == nil {
		t.Error("empty text accepted")
	}
}

func TestSMSStore(t *testing.T) {
	dir := t.TempDir()
	st, err := openSMSStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.storePDU(howAreYou)
	if err != nil || m == nil || m.Text != "How are you?" {
		t.Fatalf("%+v %v", m, err)
	}
	// The same PDU again (crash between store and SIM delete): no duplicate.
	if m2, err := st.storePDU(howAreYou); err != nil || m2 != nil {
		t.Fatalf("duplicate: %+v %v", m2, err)
	}
	// Undecodable: kept raw, not an error (the SIM copy may go).
	if m3, err := st.storePDU("0791FFFF"); err != nil || m3 != nil {
		t.Fatalf("bad PDU: %+v %v", m3, err)
	}
	if bad, _ := filepath.Glob(filepath.Join(dir, "bad-*.pdu")); len(bad) != 1 {
		t.Fatalf("bad PDU not kept: %v", bad)
	}
	// Multipart, out of order, with a duplicate part.
	long := strings.Repeat("Teil eins und Teil zwei. ", 10)
	pdus, err := EncodeDeliver("+4930123456", long, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), 42)
	if err != nil || len(pdus) != 2 {
		t.Fatalf("%d parts %v", len(pdus), err)
	}
	if m, err := st.storePDU(pdus[1]); err != nil || m != nil {
		t.Fatalf("part 2: %+v %v", m, err)
	}
	if m, err := st.storePDU(pdus[1]); err != nil || m != nil {
		t.Fatalf("part 2 again: %+v %v", m, err)
	}
	m, err = st.storePDU(pdus[0])
	if err != nil || m == nil || m.Text != long || m.Parts != 2 || m.From != "+4930123456" {
		t.Fatalf("reassembled: %+v %v", m, err)
	}
	if parts, _ := filepath.Glob(filepath.Join(dir, "part-*")); len(parts) != 0 {
		t.Fatalf("parts left: %v", parts)
	}
	list, err := st.list()
	if err != nil || len(list) != 2 {
		t.Fatalf("list %+v %v", list, err)
	}
	// A corrupt file is reported and left in place; the rest still lists.
	os.WriteFile(filepath.Join(dir, "msg-00000000000000ff.json"), []byte("{"), 0o600)
	list, err = st.list()
	if err == nil || len(list) != 2 {
		t.Fatalf("corrupt file: %d %v", len(list), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "msg-00000000000000ff.json")); err != nil {
		t.Fatal("corrupt file removed")
	}
	if err := st.delete("../../etc/passwd"); err == nil {
		t.Fatal("bad id accepted")
	}
	if err := st.delete("0123456789abcdef"); err == nil {
		t.Fatal("deleting a missing message succeeded")
	}
	if err := st.delete(list[0].ID); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "msg-"+list[1].ID+".json"))
	var back SMS
	if json.Unmarshal(b, &back) != nil || back.ID != list[1].ID {
		t.Fatal("stored JSON does not round-trip")
	}
}

func TestPINGuardPersists(t *testing.T) {
	dir := t.TempDir()
	g := newPINGuard(dir)
	g.reject("8949", "1111")
	g2 := newPINGuard(dir)
	if !g2.rejected("8949", "1111") || g2.rejected("8949", "2222") || g2.rejected("8950", "1111") {
		t.Fatal("rejection record not persisted per ICCID and PIN")
	}
	b, _ := os.ReadFile(filepath.Join(dir, pinGuardFile))
	if strings.Contains(string(b), "1111") {
		t.Fatal("PIN stored in clear")
	}
	g2.accepted("8949", "2222")
	if newPINGuard(dir).anyRejected("8949") {
		t.Fatal("accepted PIN did not clear the record")
	}
	if g3 := newPINGuard(dir); !g3.knownGood("8949", "2222") || g3.knownGood("8949", "1111") || g3.knownGood("8950", "2222") {
		t.Fatal("accepted PIN not remembered per ICCID and PIN")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, pinGuardFile)); strings.Contains(string(b), "2222") {
		t.Fatal("accepted PIN stored in clear")
	}
}

func TestPPPDArgs(t *testing.T) {
	args := PPPDArgs(PPPParams{Port: "/dev/ttyUSB0", DialString: "ATD*99***1#", Init: []string{"ATZ", `AT+CGDCONT=1,"IP","inter'net"`}, APN: APN{Name: "internet", User: "u", Password: "p", Auth: AuthPAP}})
	joined := strings.Join(args, " ")
	for _, want := range []string{"/dev/ttyUSB0", "connect", `'ATD*99***1#' CONNECT`, `'AT+CGDCONT=1,"IP","inter'\''net"' OK`, "user u", "password p", "refuse-chap", "nodetach"} {
		if !strings.Contains(joined, want) {
			t.Errorf("pppd args lack %q: %s", want, joined)
		}
	}
}

func BenchmarkSubmitLongUCS2(b *testing.B) {
	enc := NewSMSEncoder(1)
	text := strings.Repeat("Привет, коробка! ", 20)
	for i := 0; i < b.N; i++ {
		if _, err := enc.Submit("+491701234567", text); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreMultipart(b *testing.B) {
	st, err := openSMSStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		pdus, err := EncodeDeliver("+4930123456", strings.Repeat("x", 300)+fmt.Sprint(i), time.Unix(int64(i), 0), i)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range pdus {
			if _, err := st.storePDU(p); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// A concatenated message missing a part is stored anyway after the wait,
// with a marker where the part is missing.
func TestSMSStoreIncompleteMessage(t *testing.T) {
	st, err := openSMSStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pdus, err := EncodeDeliver("+4930123456", strings.Repeat("abcdefghij", 40), time.Now(), 9)
	if err != nil || len(pdus) != 3 {
		t.Fatalf("%d parts %v", len(pdus), err)
	}
	st.storePDU(pdus[0])
	st.storePDU(pdus[2])
	if l, err := st.list(); err != nil || len(l) != 0 {
		t.Fatalf("incomplete message listed early: %+v %v", l, err)
	}
	st.partsMaxAge = 0
	l, err := st.list()
	if err != nil || len(l) != 1 || !strings.Contains(l[0].Text, "[part 2 of 3 missing]") || !strings.HasPrefix(l[0].Text, "abcdefghij") || l[0].Parts != 3 {
		t.Fatalf("stale parts: %+v %v", l, err)
	}
	if parts, _ := filepath.Glob(filepath.Join(st.dir, "part-*")); len(parts) != 0 {
		t.Fatalf("parts left: %v", parts)
	}
}
