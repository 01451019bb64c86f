package modemsim

import (
	"strings"
	"testing"
)

// FuzzCommandLine: any line a client sends gets a final result or the
// SMS prompt, never a panic.
func FuzzCommandLine(f *testing.F) {
	for _, s := range []string{"AT", "ATZ", "ATE0V1", `AT^NDISDUP=1,1,"internet"`, "AT+CREG=2;+CGREG?", "AT+CMGS=23",
		"AT+CPIN=\"1234\"", "AT*ENAP=1,1", `AT+QCFG="usbnet",1`, "ATD*99***1#", "AT+CMGR=", "AT+CGDCONT=0", "AT&F0S0=0", "AT+CMGD=1,4", "AT^"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if !strings.HasPrefix(strings.ToUpper(line), "AT") {
			return
		}
		for _, p := range []string{"huawei-me909s", "ericsson-f5521gw", "quectel-ec25", "sierra-mc8775"} {
			s, err := New(Config{Profile: p, PIN: "1234"})
			if err != nil {
				t.Fatal(err)
			}
			s.mu.Lock()
			r := s.exec(line)
			s.mu.Unlock()
			s.Close()
			if !r.prompt && r.final == "" {
				t.Fatalf("%s %q: no final result", p, line)
			}
		}
	})
}

// FuzzControl: any control line is executed or refused with an error.
func FuzzControl(f *testing.F) {
	for _, s := range []string{"hang on", "garbage 10", "sim remove", "pin require 1234", "reg denied", "sms +491234 hi there", "smslong +49 300", "urc +CREG: 1", "state", "garbage -1", "reg x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		s, err := New(Config{Profile: "generic"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.Control(line)
	})
}
