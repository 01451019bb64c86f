package netctl

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/modem"
)

// TestStartPPPDKeepsPasswordSecret runs startPPPD with a stand-in pppd that
// records its argv and the options files it is given: the APN password is
// in neither the log nor the argv, only in a 0600 file that is removed when
// pppd exits.
func TestStartPPPDKeepsPasswordSecret(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "argv")
	script := filepath.Join(dir, "pppd")
	os.WriteFile(script, []byte(`#!/bin/sh
echo "$@" > `+out+`.tmp
while [ $# -gt 0 ]; do
  if [ "$1" = file ]; then stat -c %a "$2" >> `+out+`.tmp; cat "$2" >> `+out+`.tmp; fi
  shift
done
mv `+out+`.tmp `+out+`
`), 0o755)
	old := pppdBinary
	pppdBinary = script
	t.Cleanup(func() { pppdBinary = old })

	const password = `s3cr"e\t-Pw`
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	p := modem.PPPParams{Port: "/dev/ttyUSB0", DialString: "ATD*99***1#",
		Init: []string{"ATZ", `AT+CPIN="1234"`},
		APN:  modem.APN{Name: "internet", User: "web", Password: password, Auth: modem.AuthCHAP}}
	secretDir := filepath.Join(dir, "run", "ppp")
	cmd, err := startPPPD(p, secretDir, log)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	for i := 0; i < 100; i++ {
		if got, err = os.ReadFile(out); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("stand-in pppd never ran: %v", err)
	}
	lines := strings.SplitN(string(got), "\n", 3)
	if len(lines) < 3 {
		t.Fatalf("stand-in output %q", got)
	}
	argv, mode, file := lines[0], lines[1], lines[2]
	for what, s := range map[string]string{"log": logs.String(), "argv": argv} {
		if strings.Contains(s, "s3cr") {
			t.Errorf("password in %s: %s", what, s)
		}
	}
	if strings.Contains(logs.String(), "1234") || !strings.Contains(logs.String(), `AT+CPIN=***`) {
		t.Errorf("PIN not redacted in the log: %s", logs.String())
	}
	if !strings.Contains(logs.String(), "pppd started") || !strings.Contains(logs.String(), "user web") {
		t.Errorf("command line not logged: %s", logs.String())
	}
	if mode != "600" {
		t.Errorf("options file mode %s, want 600", mode)
	}
	if want := `password "s3cr\"e\\t-Pw"` + "\n"; file != want {
		t.Errorf("options file %q, want %q", file, want)
	}
	// The file goes when pppd exits.
	for i := 0; i < 100; i++ {
		if ents, _ := os.ReadDir(secretDir); len(ents) == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ents, _ := os.ReadDir(secretDir); len(ents) != 0 {
		t.Errorf("options file left behind: %v", ents)
	}
	_ = cmd
}

func TestRedactArgv(t *testing.T) {
	in := []string{"/dev/ttyUSB0", "connect", `/usr/sbin/chat -v 'AT+CPIN="4711"' OK 'AT+clck="SC",0,"0000"' OK`,
		"user", "u", "password", "hunter2", "--pin", "9999", "PASSWORD", "x"}
	got := strings.Join(RedactArgv(in), " ")
	for _, secret := range []string{"4711", "0000", "hunter2", "9999", " x"} {
		if strings.Contains(got, secret) {
			t.Errorf("%q left in %s", secret, got)
		}
	}
	if !strings.Contains(got, "user u") || !strings.Contains(got, "password ***") {
		t.Errorf("redacted too much or too little: %s", got)
	}
	if in[6] != "hunter2" {
		t.Error("RedactArgv changed its input")
	}
}
