package gateway

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"edgebox/internal/config"
)

// The ICE candidate rule case by case; TestSecICECandidatesNotIntoTheBox
// shows it end to end.
func TestSecICECandidatePolicy(t *testing.T) {
	own := []netip.Prefix{
		netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("192.168.1.1/32"), netip.MustParsePrefix("192.168.1.0/24"), // LAN
		netip.MustParsePrefix("10.8.0.6/32"), netip.MustParsePrefix("10.8.0.0/24"), // VPN
		netip.MustParsePrefix("100.70.3.9/32"), netip.MustParsePrefix("100.70.3.8/30"), // LTE (CGNAT)
	}
	internet := netip.MustParseAddr("198.51.100.7")
	lanCaller := netip.MustParseAddr("192.168.1.50")
	vpnCaller := netip.MustParseAddr("10.8.0.9")
	host := func(addr string, port int) string {
		return fmt.Sprintf("candidate:1 1 udp 2122260223 %s %d typ host generation 0", addr, port)
	}
	for _, c := range []struct {
		cand   string
		caller netip.Addr
		lanOK  bool
		ok     bool
	}{
		{host("203.0.113.5", 50000), internet, false, true},
		{host("2001:db8::5", 50000), internet, false, true},
		{"candidate:2 1 udp 1686052607 203.0.113.5 61000 typ srflx raddr 192.168.0.5 rport 50000", internet, false, true},
		{host("127.0.0.1", 5353), internet, false, false},
		{host("127.0.0.1", 5353), netip.MustParseAddr("127.0.0.1"), true, false}, // not even from the box itself
		{host("127.9.9.9", 53), internet, false, false},
		{host("::1", 53), internet, false, false},
		{host("::ffff:127.0.0.1", 53), internet, false, false},
		{host("192.168.1.1", 53), lanCaller, true, false}, // the box's LAN address
		{host("10.8.0.6", 1194), vpnCaller, true, false},  // the box's VPN address
		{host("169.254.1.1", 50000), internet, false, false},
		{host("fe80::1", 50000), internet, false, false},
		{host("224.0.0.251", 5353), internet, false, false},
		{host("ff02::fb", 5353), internet, false, false},
		{host("255.255.255.255", 9), internet, false, false},
		{host("192.168.1.255", 9), lanCaller, true, false}, // the LAN's broadcast
		{host("0.0.0.0", 9), internet, false, false},
		{host("203.0.113.5", 0), internet, false, false},
		{host("3f1c7d2a-8b4e-4c1d-9e55-0a1b2c3d4e5f.local", 50000), internet, false, false},
		{host("3f1c7d2a-8b4e-4c1d-9e55-0a1b2c3d4e5f.local", 50000), lanCaller, true, false},
		{host("pbx.example.com", 5060), internet, false, false},
		{"candidate:garbage", internet, false, false},
		// the networks the box sits in and private ranges: off by default
		{host("192.168.1.50", 50000), lanCaller, false, false},
		{host("192.168.1.50", 50000), lanCaller, true, true}, // a LAN caller's own host candidate
		{host("192.168.1.77", 161), lanCaller, true, true},   // its network: it reaches that host itself
		{host("192.168.1.77", 161), internet, true, false},   // an internet caller may not aim into the LAN
		{host("192.168.1.77", 161), vpnCaller, true, false},  // nor a VPN caller
		{host("10.8.0.1", 53), lanCaller, true, false},
		{host("10.8.0.9", 50000), vpnCaller, true, true},
		{host("100.70.3.10", 50000), internet, true, false},  // the LTE link's network
		{host("192.168.0.5", 50000), internet, false, false}, // a home network's host candidate
		{host("192.168.0.5", 50000), internet, true, false},
		{host("172.16.5.5", 50000), netip.MustParseAddr("172.16.5.5"), true, true}, // a routed LAN segment: the caller's own address
		{host("172.16.5.6", 50000), netip.MustParseAddr("172.16.5.5"), true, false},
		{host("100.64.1.1", 50000), internet, false, false}, // CGNAT
		{host("fd00::5", 50000), internet, false, false},    // ULA
	} {
		why, _ := candidateRefused(c.cand, c.caller, c.lanOK, own)
		if (why == "") != c.ok {
			t.Errorf("%s from a caller at %s (lan_candidates %v): refused %q, want allowed %v", c.cand, c.caller, c.lanOK, why, c.ok)
		}
	}
}

// iceSafeSDP drops the refused candidate lines, at session and media
// level, and leaves an SDP without any unchanged.
func TestICESafeSDP(t *testing.T) {
	c := &call{log: slog.New(slog.DiscardHandler), cfg: new(config.DefaultGateway())}
	c.caller.set(netip.MustParseAddr("198.51.100.7"))
	offer := strings.Join([]string{
		"v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0",
		"a=candidate:9 1 udp 1 127.0.0.1 9999 typ host",
		"m=audio 9 UDP/TLS/RTP/SAVPF 0", "c=IN IP4 0.0.0.0",
		"a=ice-ufrag:abcd", "a=ice-pwd:abcdefghijklmnopqrstuvwx", "a=mid:0",
		"a=candidate:1 1 udp 2122260223 127.0.0.1 40991 typ host",
		"a=candidate:2 1 udp 2122260223 203.0.113.5 50000 typ host",
		"a=candidate:3 1 udp 2122260223 224.0.0.251 5353 typ host",
		"a=candidate:4 1 udp 2122260223 x.local 5353 typ host",
		"a=rtpmap:0 PCMU/8000", "",
	}, "\r\n")
	got := c.iceSafeSDP(offer)
	for _, gone := range []string{"127.0.0.1 9999", "127.0.0.1 40991", "224.0.0.251", "x.local"} {
		if strings.Contains(got, gone) {
			t.Errorf("%s still in the SDP pion gets:\n%s", gone, got)
		}
	}
	for _, kept := range []string{"203.0.113.5 50000", "a=ice-ufrag:abcd", "a=rtpmap:0 PCMU/8000", "a=mid:0"} {
		if !strings.Contains(got, kept) {
			t.Errorf("%s lost:\n%s", kept, got)
		}
	}
	var lines []string
	for _, l := range strings.Split(offer, "\r\n") {
		if !strings.HasPrefix(l, "a=candidate:") || strings.Contains(l, "203.0.113.5") {
			lines = append(lines, l)
		}
	}
	plain := strings.Join(lines, "\r\n")
	if got := c.iceSafeSDP(plain); got != plain {
		t.Errorf("an SDP without refused candidates changed:\n%s", got)
	}
}

// BenchmarkICESafeSDP is the filter's cost per pion-stack call set-up: a
// browser's offer with an mDNS host candidate, a private host candidate
// and a public server-reflexive one (two of them dropped).
func BenchmarkICESafeSDP(b *testing.B) {
	c := &call{log: slog.New(slog.DiscardHandler), cfg: new(config.DefaultGateway())}
	c.caller.set(netip.MustParseAddr("198.51.100.7"))
	offer := strings.Join([]string{
		"v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1", "s=-", "t=0 0",
		"a=group:BUNDLE 0", "a=extmap-allow-mixed", "a=msid-semantic: WMS",
		"m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126", "c=IN IP4 0.0.0.0", "a=rtcp:9 IN IP4 0.0.0.0",
		"a=candidate:1 1 udp 2122260223 3f1c7d2a-8b4e-4c1d-9e55-0a1b2c3d4e5f.local 54321 typ host generation 0",
		"a=candidate:2 1 udp 2122194687 192.168.0.23 54322 typ host generation 0",
		"a=candidate:3 1 udp 1686052607 198.51.100.7 61000 typ srflx raddr 192.168.0.23 rport 54322 generation 0",
		"a=ice-ufrag:abcd", "a=ice-pwd:abcdefghijklmnopqrstuvwx", "a=ice-options:trickle",
		"a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
		"a=setup:actpass", "a=mid:0", "a=sendrecv", "a=rtcp-mux",
		"a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10;useinbandfec=1",
		"a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=rtpmap:126 telephone-event/8000",
		"a=ssrc:1001 cname:abcdefgh", "",
	}, "\r\n")
	b.ReportAllocs()
	for b.Loop() {
		c.iceSafeSDP(offer)
	}
}

// Every way a caller's candidates reach pion goes through the filter:
// a SetRemoteDescription elsewhere, or an AddICECandidate outside the
// two functions that take filtered candidates, would open the hole again.
func TestEveryRemoteCandidatePathFiltered(t *testing.T) {
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	addOK := map[string]bool{"addCandidate": true, "takeBrowserOffer": true} // c.cands were filtered by addCandidate
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				pos := fset.Position(call.Pos())
				switch sel.Sel.Name {
				case "SetRemoteDescription":
					var b strings.Builder
					ast.Inspect(call, func(m ast.Node) bool {
						if id, ok := m.(*ast.Ident); ok {
							b.WriteString(id.Name + " ")
						}
						return true
					})
					if !strings.Contains(b.String(), "iceSafeSDP") && !strings.Contains(b.String(), "SDPTypeRollback") {
						t.Errorf("%s: SetRemoteDescription without iceSafeSDP (icefilter.go)", pos)
					}
				case "AddICECandidate":
					if !addOK[fn.Name.Name] {
						t.Errorf("%s: AddICECandidate in %s, not through addCandidate's filter (icefilter.go)", pos, fn.Name.Name)
					}
				}
				return true
			})
		}
	}
}
