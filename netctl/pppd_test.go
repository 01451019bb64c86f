package netctl

import (
	"bytes"
	"io"
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
	got := strings.Join(redactArgv(in), " ")
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

func TestParsePPPDLine(t *testing.T) {
	for _, c := range []struct{ line, key, addr string }{
		{"local  IP address 10.66.0.2", "local", "10.66.0.2"},
		{"remote IP address 10.66.0.1", "remote", "10.66.0.1"},
		{"primary   DNS address 10.66.0.53", "primary", "10.66.0.53"},
		{"secondary DNS address 10.66.0.54\r", "secondary", "10.66.0.54"},
		{"Nov 25 20:00:01 box pppd[412]: primary   DNS address 10.66.0.53", "primary", "10.66.0.53"},
		{"primary DNS address 10.66.0.300", "", ""},
		{"primary DNS address ::1", "", ""},
		{"primary DNS address 10.66.0.53 extra", "", ""},
		{"Connect: ppp0 <--> /dev/ttyUSB0", "", ""},
		{"local IP address", "", ""},
		{"", "", ""},
	} {
		k, a, ok := parsePPPDLine(c.line)
		if ok != (c.key != "") || k != c.key || (ok && a.String() != c.addr) {
			t.Errorf("%q: %q %v %v", c.line, k, a, ok)
		}
	}
}

func TestPPPDOutputDNS(t *testing.T) {
	var pass bytes.Buffer
	o := &pppdOutput{w: &pass}
	in := "Connect: ppp0 <--> /dev/ttyUSB0\nlocal  IP address 10.66.0.2\nremote IP address 10.66.0.1\nprim"
	o.Write([]byte(in))
	if d := o.dns(); len(d) != 0 {
		t.Fatalf("dns before the notice: %v", d)
	}
	o.Write([]byte("ary   DNS address 10.66.0.53\nsecondary DNS address 10.66.0.54\n"))
	if d := o.dns(); len(d) != 2 || d[0].String() != "10.66.0.53" || d[1].String() != "10.66.0.54" {
		t.Errorf("dns %v", d)
	}
	if o.local.String() != "10.66.0.2" || o.remote.String() != "10.66.0.1" {
		t.Errorf("local %v remote %v", o.local, o.remote)
	}
	if !strings.HasPrefix(pass.String(), "Connect: ppp0") || !strings.HasSuffix(pass.String(), "10.66.0.54\n") {
		t.Errorf("messages not passed on: %q", pass.String())
	}
}

func FuzzParsePPPDLine(f *testing.F) {
	for _, s := range []string{"local  IP address 10.66.0.2", "primary   DNS address 10.66.0.53", "secondary DNS address 1.2.3", "x primary DNS address"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		k, a, ok := parsePPPDLine(line)
		if ok && (k == "" || !a.Is4() || !strings.Contains(line, a.String())) {
			t.Fatalf("%q: %q %v", line, k, a)
		}
		o := &pppdOutput{w: io.Discard}
		o.Write([]byte(line + "\n"))
		if len(o.dns()) > 2 {
			t.Fatal("more than two DNS servers")
		}
	})
}
