package testenv

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

func TestKamailioConfig(t *testing.T) {
	cfg := KamailioConfig(KamailioOptions{Host: "10.0.0.1", Port: 5062, Realm: "r1", MaxExpires: 30,
		Users: map[string]string{"trunk": "pw1", "agent": "pw2"}, Static: map[string]string{"agent": "10.0.0.1:5070"}})
	for _, want := range []string{
		"listen=udp:10.0.0.1:5062", `modparam("registrar", "max_expires", 30)`,
		`if ($au == "trunk") { $var(pw) = "pw1"; }`, `if ($au == "agent") { $var(pw) = "pw2"; }`,
		`if ($rU == "agent") { $du = "sip:10.0.0.1:5070"; t_relay(); exit; }`,
		`www_challenge("r1", "0")`, `proxy_challenge("r1", "0")`,
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %s", want)
		}
	}
	if strings.Contains(cfg, "%!") {
		t.Errorf("config has a formatting error:\n%s", cfg)
	}
}

// TestKamailioAnswers runs the real Kamailio on loopback and asks it for
// OPTIONS (answered 200 without authentication).
func TestKamailioAnswers(t *testing.T) {
	RequireRoot(t)
	k := Kamailio(t, nil, KamailioOptions{Users: map[string]string{"u": "p"}})
	c, err := net.Dial("udp", k.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := c.LocalAddr().String()
	fmt.Fprintf(c, "OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKtestenv1\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:%s>\r\nCall-ID: testenv-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", k.Addr(), local, k.Addr())
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no answer from kamailio: %v\n%s", err, k.Log())
	}
	if !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") {
		t.Fatalf("kamailio answered %q", buf[:n])
	}
}
