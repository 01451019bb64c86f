package gateway_test

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"

	"golang.org/x/net/dns/dnsmessage"
)

// TestTrunkTriesThePBXsOtherAddress: the PBX address is a name with two
// A records, the first where nothing answers (127.0.0.9: UDP, no
// answer), the second a SIPp registrar. Before, the SIP stack took the
// first address and the trunk never registered; now it moves on to the
// second, registers there, says which address it uses and which did not
// answer, takes new requests from both, and unregisters where it
// registered.
func TestTrunkTriesThePBXsOtherAddress(t *testing.T) {
	pbx := startSIPp(t, "uas_register_ok", 1)
	dead := "127.0.0.9"
	dns := startTestDNS(t, "pbx.test.", []string{dead, pbx.ip})
	defer gateway.SetPBXResolver(&net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", dns)
	}}, time.Second)()
	port := strconv.Itoa(pbx.port)
	cfg := testConfig(t, "pbx.test:"+port)
	cfg.Trunk.Register, cfg.Trunk.Username = true, "trunkuser"
	svc := startGateway(t, cfg)
	if got := waitRegistration(t, localStatus(svc)); got != "registered" {
		t.Fatalf("registration %q, want registered at the second address\n%s", got, pbx.traces())
	}
	st := svc.Status()
	if want := net.JoinHostPort(pbx.ip, port); st.PBXAddressInUse != want {
		t.Errorf("address in use %q, want %q", st.PBXAddressInUse, want)
	}
	if len(st.PBXAddressesFailed) != 1 || !strings.HasPrefix(st.PBXAddressesFailed[0], net.JoinHostPort(dead, port)+": no answer") {
		t.Errorf("addresses that failed %q, want %s:%s with why", st.PBXAddressesFailed, dead, port)
	}
	for _, ip := range []string{dead, pbx.ip} {
		if !gateway.PBXSourceAllowed(svc, netip.MustParseAddr(ip)) {
			t.Errorf("new requests from %s, an address of the PBX's name, are not taken", ip)
		}
	}
	svc.Close() // removes the binding where it was made: the scenario's last step
	pbx.wait(t, 15*time.Second)
}

// startTestDNS answers A queries for name with addrs, in that order
// always (dnsmasq rotates them), and AAAA with none; it returns its
// address.
func startTestDNS(t *testing.T, name string, addrs []string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
			b.EnableCompression()
			b.StartQuestions()
			b.Question(q)
			b.StartAnswers()
			if !strings.EqualFold(q.Name.String(), name) {
				b = dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, RCode: dnsmessage.RCodeNameError})
				b.StartQuestions()
				b.Question(q)
			} else if q.Type == dnsmessage.TypeA {
				for _, a := range addrs {
					ip := netip.MustParseAddr(a).As4()
					b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 1}, dnsmessage.AResource{A: ip})
				}
			}
			out, err := b.Finish()
			if err == nil {
				pc.WriteTo(out, from)
			}
		}
	}()
	if !slices.ContainsFunc(addrs, func(a string) bool { return netip.MustParseAddr(a).Is4() }) {
		t.Fatal("startTestDNS answers A records only")
	}
	return pc.LocalAddr().String()
}
