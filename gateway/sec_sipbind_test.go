package gateway_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"edgebox/internal/config"
)

// sipProbe is a UDP socket in a namespace that sends OPTIONS (answered to
// anyone, the PBX or a stranger) and reads what comes back.
type sipProbe struct {
	name string
	conn *net.UDPConn
	to   *net.UDPAddr
}

func newSIPProbe(t *testing.T, ns, name, to string) *sipProbe {
	t.Helper()
	var c *net.UDPConn
	if err := inNetns(ns, func() (err error) { c, err = net.ListenUDP("udp4", nil); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ua, _ := net.ResolveUDPAddr("udp4", to)
	return &sipProbe{name: name, conn: c, to: ua}
}

func (p *sipProbe) send(t *testing.T) {
	t.Helper()
	la := p.conn.LocalAddr().(*net.UDPAddr)
	msg := fmt.Sprintf("OPTIONS sip:edgebox@%s SIP/2.0\r\nVia: SIP/2.0/UDP 0.0.0.0:%d;branch=z9hG4bK-%d\r\nMax-Forwards: 70\r\n"+
		"From: <sip:probe@example.com>;tag=p%d\r\nTo: <sip:edgebox@%s>\r\nCall-ID: probe-%d\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
		p.to, la.Port, time.Now().UnixNano(), la.Port, p.to, time.Now().UnixNano())
	if _, err := p.conn.WriteToUDP([]byte(msg), p.to); err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
}

// answer reads one datagram, waiting at most d.
func (p *sipProbe) answer(d time.Duration) (string, *net.UDPAddr, bool) {
	buf := make([]byte, 4096)
	p.conn.SetReadDeadline(time.Now().Add(d))
	n, from, err := p.conn.ReadFromUDP(buf)
	if err != nil {
		return "", nil, false
	}
	line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
	return line, from, true
}

// TestSIPAnswersOnlyOnItsInterface: SIP configured on the LAN interface
// answers the LAN at the LAN address, from that address. A neighbour on the
// uplink gets no answer, neither at the uplink's address nor at the LAN
// address routed over the uplink (Linux's weak host model delivers that),
// and a LAN host asking at the uplink's address gets none either.
func TestSIPAnswersOnlyOnItsInterface(t *testing.T) {
	rig := newNetnsRig(t, "sipif")
	box, lan, inet := rig.ns("box"), rig.ns("lan"), rig.ns("inet")
	rig.link(box, "lan0", "10.78.1.1/24", lan, "eth0", "10.78.1.2/24")
	rig.link(box, "wan", "10.78.2.1/24", inet, "eth0", "10.78.2.2/24")
	rig.ip("-n", inet, "route", "add", "10.78.1.0/24", "via", "10.78.2.1")
	rig.ip("-n", lan, "route", "add", "10.78.2.0/24", "via", "10.78.1.1")

	cfg := testConfig(t, "10.78.1.2:5060") // the PBX on the LAN
	cfg.SIP.Listen = []config.GatewaySIPListen{{Transport: "udp", Address: ":5060", Interface: "lan0"}}
	startGatewayIn(t, box, cfg)

	good := newSIPProbe(t, lan, "a LAN host at the LAN address", "10.78.1.1:5060")
	bad := []*sipProbe{
		newSIPProbe(t, inet, "an uplink neighbour at the uplink address", "10.78.2.1:5060"),
		newSIPProbe(t, inet, "an uplink neighbour at the LAN address, over the uplink", "10.78.1.1:5060"),
		newSIPProbe(t, lan, "a LAN host at the uplink address", "10.78.2.1:5060"),
	}
	// The LAN's answer bounds the wait: the others' probes went first.
	var line string
	var from *net.UDPAddr
	for i := 0; ; i++ {
		for _, p := range bad {
			p.send(t)
		}
		good.send(t)
		var ok bool
		if line, from, ok = good.answer(time.Second); ok {
			break
		}
		if i == 30 {
			t.Fatal("the LAN host got no answer to OPTIONS in 30 s")
		}
	}
	if line != "SIP/2.0 200 OK" || from.IP.String() != "10.78.1.1" {
		t.Errorf("LAN host: %q from %s, want 200 OK from 10.78.1.1", line, from)
	}
	for _, p := range bad {
		p.send(t)
	}
	good.send(t)
	good.answer(30 * time.Second)
	for _, p := range bad {
		if line, from, ok := p.answer(500 * time.Millisecond); ok { // already queued if it came
			t.Errorf("%s: answered %q from %s", p.name, line, from)
		}
	}
}
