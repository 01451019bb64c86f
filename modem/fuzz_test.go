package modem

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/tpdu"
)

var lineSeeds = []string{
	"OK", "ERROR", "+CME ERROR: 10", "+CME ERROR: SIM not inserted", "+CMS ERROR: 321", "COMMAND NOT SUPPORT",
	`+CREG: 2,1,"00C3","0000A13F",7`, "+CREG: 1", `+CEREG: 5,"D20A","0A3C8B01",7`, `+COPS: 0,0,"Telekom.de",7`,
	"+CSQ: 20,99", `^HCSQ: "LTE",49,50,147,28`, `^HCSQ: "WCDMA",30,30,58`, "+CESQ: 99,99,255,255,20,45",
	`+QCSQ: "LTE",-52,-81,195,-10`, `^SYSINFOEX: 2,3,0,1,,3,"WCDMA",41,"WCDMA"`, `^NDISSTAT: 1,,,"IPV4"`,
	`^NDISSTATQRY: 1,,,"IPV4",0,,,"IPV6"`, "^DHCP: CCDB080A,F8FFFFFF,C9DB080A,C9DB080A,0E18820A,00000000,236800000,236800000",
	"*ENAP: 1", "*E2NAP: 2", `*E2IPCFG: (1,"10.155.68.129")(2,"10.155.68.131")(3,"80.251.192.244")`, "*EMRDY: 1",
	`+CMTI: "SM",3`, "+CMGL: 0,1,,23", "+CMGR: 0,,23", "+CPIN: SIM PIN", "^CPIN: SIM PIN,3,10,3,10,3",
	`+QPINC: "SC",3,10`, "*EPIN: 3,10,3,10", "+CPINR: SIM PIN,3,3", "+CCID: 89014103211118510720", "RING",
	`+QNWINFO: "FDD LTE","26201","LTE BAND 3",1300`, "^HFREQINFO: 0,6,3,1300,18150,15000,19300,17200,15000", `+CNUM: "","+491701234567",145`,
	"", ",,,", `"`, "+CREG: ,", "^DHCP: ,,,,,,", "*E2IPCFG: ((", "^HCSQ: \"LTE\",-1,999",
}

// FuzzResponseParsers feeds any line to every parser: no panics, and the
// final-result classification is consistent.
func FuzzResponseParsers(f *testing.F) {
	for _, s := range lineSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		final, err := FinalResult(line)
		if !final && err != nil {
			t.Fatalf("%q: error without final", line)
		}
		rest := afterColon(line)
		ParseCREGLine(line)
		parseCREG(rest, true)
		parseCREG(rest, false)
		ParseCOPS(rest)
		ParseCSQ(rest)
		ParseCPIN(rest)
		parseCPINR(rest)
		parseHuaweiCPIN(rest)
		parseQPINC(rest)
		parseEPIN(rest)
		parseHCSQ(rest)
		parseCESQ(rest)
		ParseQCSQ(rest)
		parseQNWINFO(rest)
		parseHFREQINFO(rest)
		parseCNUM(rest)
		parseSYSINFOEX(rest)
		parseNDISSTAT(rest)
		if c, err := parseDHCP(rest); err == nil && !c.Address.Addr().Is4() {
			t.Fatalf("^DHCP gave %v", c.Address)
		}
		parseENAP(rest)
		parseE2IPCFG(rest)
		parseEMRDY(rest)
		parseCMTI(rest)
		parseCCID(line)
		parseIMEI(line)
		parseCMGL([]string{line, line})
		parseCMGR([]string{line, line})
		for _, c := range []string{"AT+CREG?", "AT+CSQ", "AT^NDISSTATQRY?", "AT+CMGL=4", line} {
			isUnsolicited(line, ownedPrefixes(c))
		}
	})
}

// FuzzLineReader checks the byte stream splitter: lines never contain
// CR/LF and nothing is invented.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n"))
	f.Add([]byte("\r\n> "))
	f.Add([]byte("\xff\xfe\x00garbage\r\n^RSSI: 3\r\n"))
	f.Add([]byte(strings.Repeat("A", 5000)))
	f.Fuzz(func(t *testing.T, data []byte) {
		ch := make(chan readEvent, len(data)+8)
		readLines(bytes.NewReader(data), 1, ch, nil)
		close(ch)
		total := 0
		for ev := range ch {
			if strings.ContainsAny(ev.line, "\r\n") {
				t.Fatalf("line with CR/LF: %q", ev.line)
			}
			total += len(ev.line)
		}
		if total > len(data) {
			t.Fatalf("%d bytes of lines from %d bytes", total, len(data))
		}
	})
}

// FuzzDecodeDeliver: any hex from the modem decodes or errors, never panics.
func FuzzDecodeDeliver(f *testing.F) {
	f.Add(howAreYou)
	pdus, _ := EncodeDeliver("+491701234567", strings.Repeat("Ü long ", 40), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), 3)
	for _, p := range pdus {
		f.Add(p)
	}
	f.Add("0791")
	f.Add("00")
	f.Fuzz(func(t *testing.T, h string) {
		p, err := decodeDeliver(h)
		if err != nil {
			return
		}
		if p.Seq < 1 || p.Seq > p.Total {
			t.Fatalf("part %d of %d", p.Seq, p.Total)
		}
		decodeText([]inPart{p})
	})
}

// FuzzSubmitRoundTrip: every text the box sends comes back identical
// after encoding (GSM 7-bit or UCS-2, split into parts) and decoding.
func FuzzSubmitRoundTrip(f *testing.F) {
	for _, s := range []string{"hello", "5€ [x]", "Привет", "ok 😁", strings.Repeat("z", 200), strings.Repeat("щ", 90)} {
		f.Add(s)
	}
	enc := NewSMSEncoder(1)
	f.Fuzz(func(t *testing.T, text string) {
		if text == "" || !utf8.ValidString(text) || len(text) > 2000 || strings.ContainsRune(text, utf8.RuneError) {
			return
		}
		pdus, err := enc.Submit("+491701234567", text)
		if err != nil {
			return // too long
		}
		var tps []*tpdu.TPDU
		for _, p := range pdus {
			_, tp, err := DecodeSubmit(p.Hex)
			if err != nil {
				t.Fatalf("own PDU does not decode: %v", err)
			}
			tps = append(tps, tp)
		}
		b, err := sms.Decode(tps)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != text {
			t.Fatalf("round trip %q -> %q", text, b)
		}
	})
}
