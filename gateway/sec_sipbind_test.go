package gateway_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"edgebox/internal/config"
	"edgebox/internal/testenv"
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
	if err := testenv.DoIn(ns, func() (err error) { c, err = net.ListenUDP("udp4", nil); return err }); err != nil {
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

// sipIfRig is a box namespace with a LAN (10.78.1.1) and an uplink
// (10.78.2.1), a LAN host and an uplink neighbour that each route the
// box's other subnet through the box.
type sipIfRig struct{ box, lan, inet string }

func newSIPIfRig(t *testing.T, tag string) sipIfRig {
	rig := newNetnsRig(t, tag)
	r := sipIfRig{box: rig.ns("box"), lan: rig.ns("lan"), inet: rig.ns("inet")}
	rig.link(r.box, "lan0", "10.78.1.1/24", r.lan, "eth0", "10.78.1.2/24")
	rig.link(r.box, "wan", "10.78.2.1/24", r.inet, "eth0", "10.78.2.2/24")
	rig.ip("-n", r.inet, "route", "add", "10.78.1.0/24", "via", "10.78.2.1")
	rig.ip("-n", r.lan, "route", "add", "10.78.2.0/24", "via", "10.78.1.1")
	return r
}

// checkSIPAnswers sends OPTIONS from every probe: each of answered must
// get 200 from the address it wrote to, none of silent anything. The last
// answered probe's answer bounds the wait; the silent ones went first.
func checkSIPAnswers(t *testing.T, answered, silent []*sipProbe) {
	t.Helper()
	last := answered[len(answered)-1]
	for i := 0; ; i++ {
		for _, p := range silent {
			p.send(t)
		}
		for _, p := range answered {
			p.send(t)
		}
		if _, _, ok := last.answer(time.Second); ok {
			break
		}
		if i == 30 {
			t.Fatalf("%s got no answer to OPTIONS in 30 s", last.name)
		}
	}
	// a clean round, now that the gateway answers
	for _, p := range append(append([]*sipProbe{}, answered...), silent...) {
		for {
			if _, _, ok := p.answer(200 * time.Millisecond); !ok {
				break
			}
		}
	}
	for _, p := range silent {
		p.send(t)
	}
	for _, p := range answered {
		p.send(t)
		line, from, ok := p.answer(30 * time.Second)
		if !ok || line != "SIP/2.0 200 OK" || from.IP.String() != p.to.IP.String() {
			t.Errorf("%s: %q from %v, want 200 OK from %s", p.name, line, from, p.to.IP)
		}
	}
	for _, p := range silent {
		if line, from, ok := p.answer(500 * time.Millisecond); ok { // already queued if it came
			t.Errorf("%s: answered %q from %s", p.name, line, from)
		}
	}
}

// TestSIPAnswersOnlyOnItsInterface: SIP configured on the LAN interface
// answers the LAN at the LAN address, from that address. A neighbour on the
// uplink gets no answer, neither at the uplink's address nor at the LAN
// address routed over the uplink (Linux's weak host model delivers that),
// and a LAN host asking at the uplink's address gets none either.
func TestSIPAnswersOnlyOnItsInterface(t *testing.T) {
	t.Parallel()
	r := newSIPIfRig(t, "sipif")
	cfg := testConfig(t, "10.78.1.2:5060") // the PBX on the LAN
	cfg.SIP.Listen = []config.GatewaySIPListen{{Transport: "udp", Address: ":5060", Interface: "lan0"}}
	startGatewayIn(t, r.box, cfg)
	checkSIPAnswers(t,
		[]*sipProbe{newSIPProbe(t, r.lan, "a LAN host at the LAN address", "10.78.1.1:5060")},
		[]*sipProbe{
			newSIPProbe(t, r.inet, "an uplink neighbour at the uplink address", "10.78.2.1:5060"),
			newSIPProbe(t, r.inet, "an uplink neighbour at the LAN address, over the uplink", "10.78.1.1:5060"),
			newSIPProbe(t, r.lan, "a LAN host at the uplink address", "10.78.2.1:5060"),
		})
}

// TestSIPWildcardAnswersAsAStrongHost: the default listener (0.0.0.0)
// answers each interface's neighbours at that interface's address, from
// that address, and nobody at another interface's address.
func TestSIPWildcardAnswersAsAStrongHost(t *testing.T) {
	t.Parallel()
	r := newSIPIfRig(t, "sipwc")
	cfg := testConfig(t, "10.78.1.2:5060")
	cfg.SIP.Listen = []config.GatewaySIPListen{{Transport: "udp", Address: "0.0.0.0:5060"}}
	startGatewayIn(t, r.box, cfg)
	checkSIPAnswers(t,
		[]*sipProbe{
			newSIPProbe(t, r.inet, "an uplink neighbour at the uplink address", "10.78.2.1:5060"),
			newSIPProbe(t, r.lan, "a LAN host at the LAN address", "10.78.1.1:5060"),
		},
		[]*sipProbe{
			newSIPProbe(t, r.inet, "an uplink neighbour at the LAN address, over the uplink", "10.78.1.1:5060"),
			newSIPProbe(t, r.lan, "a LAN host at the uplink address", "10.78.2.1:5060"),
		})
}
