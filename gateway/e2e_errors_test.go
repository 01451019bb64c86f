package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"edgebox/gateway"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
)

// docClose is what docs/gateway-protocol.md says happens to the socket.
type docClose struct {
	open   bool // "stays open"
	code   int
	reason string
}

func (d docClose) String() string {
	if d.open {
		return "stays open"
	}
	return fmt.Sprintf("%d %q", d.code, d.reason)
}

var (
	docErrorRow = regexp.MustCompile("^\\| `([a-z_]+)` \\| .* \\| (.*) \\|$")
	docCloseRow = regexp.MustCompile("^\\| (\\d{4}) \\| `([^`]+)` \\|")
	docCloseIn  = regexp.MustCompile("(\\d{4}) `([^`]+)`")
)

// protocolDoc reads the error table (code -> what happens to the socket)
// and the close table of docs/gateway-protocol.md.
func protocolDoc(t *testing.T) (map[string]docClose, map[docClose]bool) {
	t.Helper()
	b, err := os.ReadFile("../docs/gateway-protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	errs, closes := map[string]docClose{}, map[docClose]bool{}
	table := ""
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "| code | when | then |"):
			table = "errors"
		case strings.HasPrefix(line, "| code | reason | when |"):
			table = "closes"
		case !strings.HasPrefix(line, "|"):
			table = ""
		case table == "errors":
			if m := docErrorRow.FindStringSubmatch(line); m != nil {
				d := docClose{open: strings.HasPrefix(m[2], "stays open")}
				if c := docCloseIn.FindStringSubmatch(m[2]); c != nil && !d.open {
					d.code, _ = strconv.Atoi(c[1])
					d.reason = c[2]
				}
				errs[m[1]] = d
			}
		case table == "closes":
			if m := docCloseRow.FindStringSubmatch(line); m != nil {
				code, _ := strconv.Atoi(m[1])
				closes[docClose{code: code, reason: m[2]}] = true
			}
		}
	}
	if len(errs) < 5 || len(closes) < 3 {
		t.Fatalf("docs/gateway-protocol.md: found %d error rows and %d close rows: did the tables move?", len(errs), len(closes))
	}
	return errs, closes
}

// wsProbe is a raw signaling socket.
type wsProbe struct {
	t   *testing.T
	ctx context.Context
	ws  *websocket.Conn
}

func openProbe(t *testing.T, ctx context.Context, url string) *wsProbe {
	t.Helper()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return &wsProbe{t: t, ctx: ctx, ws: ws}
}

func (p *wsProbe) send(raw string) {
	p.t.Helper()
	if err := p.ws.Write(p.ctx, websocket.MessageText, []byte(raw)); err != nil {
		p.t.Fatalf("send %s: %v", raw, err)
	}
}

func (p *wsProbe) sendMsg(m gateway.Message) {
	p.t.Helper()
	b, _ := json.Marshal(m)
	p.send(string(b))
}

// next returns the next message of type typ, skipping others; a closed
// socket is an error that says its close code and reason.
func (p *wsProbe) next(typ string) (gateway.Message, error) {
	for {
		_, data, err := p.ws.Read(p.ctx)
		if err != nil {
			return gateway.Message{}, err
		}
		var m gateway.Message
		if err := json.Unmarshal(data, &m); err != nil {
			return m, err
		}
		if m.Type == typ {
			return m, nil
		}
	}
}

// errorCode waits for the box's error message.
func (p *wsProbe) errorCode() string {
	p.t.Helper()
	m, err := p.next(gateway.MsgError)
	if err != nil {
		p.t.Fatalf("waiting for an error message: %v", err)
	}
	p.t.Logf("error %s: %s", m.Code, m.Error)
	return m.Code
}

// after says what the box did with the socket after an error: closed it
// (code, reason), or kept it open (it still answers a malformed message).
func (p *wsProbe) after(wantOpen bool) docClose {
	p.t.Helper()
	if wantOpen {
		p.send(`{"type":"nonsense"}`)
	}
	m, err := p.next(gateway.MsgError)
	if err == nil {
		if wantOpen && m.Code == gateway.CodeBadMessage {
			return docClose{open: true}
		}
		p.t.Fatalf("unexpected error message %+v", m)
	}
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		p.t.Fatalf("socket ended without a close frame: %v", err)
	}
	return docClose{code: int(ce.Code), reason: ce.Reason}
}

// pionOffer is a real browser-like offer (opus, PCMU, PCMA; DTLS).
func pionOffer(t *testing.T) string {
	t.Helper()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return offer.SDP
}

// noCodecOffer is valid SDP with DTLS whose only audio codec the box does
// not bridge.
func noCodecOffer(t *testing.T) string {
	sdp := pionOffer(t)
	var out []string
	for _, l := range strings.Split(strings.TrimRight(sdp, "\r\n"), "\r\n") {
		switch {
		case strings.HasPrefix(l, "m=audio "):
			f := strings.Fields(l)
			out = append(out, strings.Join(append(f[:3], "99"), " "))
		case strings.HasPrefix(l, "a=rtpmap:"), strings.HasPrefix(l, "a=fmtp:"), strings.HasPrefix(l, "a=rtcp-fb:"):
		default:
			out = append(out, l)
			if strings.HasPrefix(l, "a=mid:") {
				out = append(out, "a=rtpmap:99 speex/8000")
			}
		}
	}
	return strings.Join(out, "\r\n") + "\r\n"
}

// TestEveryDocumentedErrorIsSent walks the error table of
// docs/gateway-protocol.md: each code is provoked against a real gateway
// over its WebSocket, and the socket then does what the table says (close
// code and reason, or stays open). A documented code without a way to
// provoke it here fails, and so does a documented close reason never seen.
func TestEveryDocumentedErrorIsSent(t *testing.T) {
	t.Parallel()
	docErrs, docCloses := protocolDoc(t)
	noPBX := func() string { return fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)) }

	// The main box: its PBX-side RTP ports are all taken, so a call that
	// gets as far as dialling fails inside the box.
	mainCfg := testConfig(t, noPBX())
	main := startGateway(t, mainCfg)
	for port := mainCfg.Media.RTPPortMin; port <= mainCfg.Media.RTPPortMax; port++ {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			t.Fatalf("taking RTP port %d: %v", port, err)
		}
		t.Cleanup(func() { c.Close() })
	}
	// A box for one call, a box with a strict rate limit, a box that
	// will drain.
	oneCfg := testConfig(t, noPBX())
	oneCfg.MaxCalls = 1
	one := startGateway(t, oneCfg)
	limCfg := testConfig(t, noPBX())
	limCfg.Portal.RatePerMinute = 3
	limited := startGateway(t, limCfg)
	draining := startGateway(t, testConfig(t, noPBX()))

	url := func(svc *gateway.Service) string { return "ws://" + svc.PortalAddr() + "/v1/signal" }
	authed := func(t *testing.T, ctx context.Context, svc *gateway.Service) *wsProbe {
		tok, wsURL := authorize(t, svc, testFrom, "support", nil)
		p := openProbe(t, ctx, wsURL)
		p.sendMsg(gateway.Message{Type: gateway.MsgAuth, Token: tok})
		if _, err := p.next(gateway.MsgAuthorized); err != nil {
			t.Fatalf("auth: %v", err)
		}
		return p
	}

	// Each provocation returns the probe right after the error came.
	provoke := map[string]func(t *testing.T, ctx context.Context) (string, *wsProbe){
		gateway.CodeBadMessage: func(t *testing.T, ctx context.Context) (string, *wsProbe) {
			p := openProbe(t, ctx, url(main))
			p.send("{")
			return p.errorCode(), p
		},
		gateway.CodeBadToken: func(t *testing.T, ctx context.Context) (string, *wsProbe) {
			p := openProbe(t, ctx, url(main))
			p.sendMsg(gateway.Message{Type: gateway.MsgAuth, Token: "not-a-token-the-box-issued"})
			return p.errorCode(), p
		},
		gateway.CodeAuthTimeout: func(t *testing.T, ctx context.Context) (string, *wsProbe) {
			p := openProbe(t, ctx, url(main))
			return p.errorCode(), p // nothing sent: the box must speak first
		},
		gateway.CodeRateLimited: func(t *testing.T, ctx context.Context) (string, *wsProbe) {
			for i := 0; i < 20; i++ {
				p := openProbe(t, ctx, url(limited))
				p.sendMsg(gateway.Message{Type: gateway.MsgAuth, Token: "guess-" + strconv.Itoa(i)})
				if code := p.errorCode(); code != gateway.CodeBadToken {
					return code, p
				}
			}
			t.Fatal("20 refused tokens from one address were never rate limited")
			return "", nil
		},
		gateway.CodeBusy: func(t *testing.T, ctx context.Context) (string, *wsProbe) {
			authed(t, ctx, one) // the one call the box may carry, waiting for its offer
			tok, wsURL := authorize(t, one, testFrom, "support", nil)
			p := openProbe(t, ctx, wsURL)
			p.sendMsg(gateway.Message{Type: gateway.MsgAuth, Token: tok})
			return p.errorCode(), p
		},
		gateway.CodeUnavailable: func(t *testing.T, ctx context.Context) (string, *wsProbe) {
			tok, wsURL := authorize(t, draining, testFrom, "support", nil)
			p := openProbe(t, ctx, wsURL)
			draining.Drain()
			p.sendMsg(gateway.Message{Type: gateway.MsgAuth, Token: tok})
			return p.errorCode(), p
		},
		gateway.CodeState: func(t *testing.T, ctx context.Context) (string, *wsProbe) {
			p := authed(t, ctx, main)
			p.sendMsg(gateway.Message{Type: gateway.MsgDTMF, Digits: "1"})
			return p.errorCode(), p
		},
		gateway.CodeBadSDP: func(t *testing.T, ctx context.Context) (string, *wsProbe) {
			p := authed(t, ctx, main)
			p.sendMsg(gateway.Message{Type: gateway.MsgOffer, SDP: "v=0\r\nthis is not sdp"})
			return p.errorCode(), p
		},
		gateway.CodeNoCodec: func(t *testing.T, ctx context.Context) (string, *wsProbe) {
			p := authed(t, ctx, main)
			p.sendMsg(gateway.Message{Type: gateway.MsgOffer, SDP: noCodecOffer(t)})
			return p.errorCode(), p
		},
		gateway.CodeOfferTimeout: func(t *testing.T, ctx context.Context) (string, *wsProbe) {
			p := authed(t, ctx, main)
			return p.errorCode(), p
		},
		gateway.CodeInternal: func(t *testing.T, ctx context.Context) (string, *wsProbe) {
			p := authed(t, ctx, main)
			p.sendMsg(gateway.Message{Type: gateway.MsgOffer, SDP: pionOffer(t)})
			return p.errorCode(), p
		},
	}

	var mu sync.Mutex
	seen := map[docClose]bool{}
	t.Run("codes", func(t *testing.T) {
		for code, want := range docErrs {
			t.Run(code, func(t *testing.T) {
				t.Parallel()
				ctx := subtestContext(t)
				f, ok := provoke[code]
				if !ok {
					t.Fatalf("docs/gateway-protocol.md documents error %q, but this test cannot provoke it: add a way", code)
				}
				got, p := f(t, ctx)
				if got != code {
					t.Fatalf("provoking %s: the box sent %q", code, got)
				}
				after := p.after(want.open)
				if after != want {
					t.Errorf("after %s the socket: %v, docs say %v", code, after, want)
				}
				mu.Lock()
				seen[after] = true
				mu.Unlock()
			})
		}
		// The 20th malformed message on a call closes it as documented,
		// not as a normal end.
		t.Run("malformed_limit", func(t *testing.T) {
			t.Parallel()
			p := authed(t, subtestContext(t), main)
			for i := 0; i < 20; i++ {
				p.send("{")
				if code := p.errorCode(); code != gateway.CodeBadMessage {
					t.Fatalf("malformed message %d: %s", i+1, code)
				}
			}
			after := p.after(false)
			if after.code != 1008 || after.reason != gateway.CloseMalformed {
				t.Errorf("after 20 malformed messages: %v, want 1008 %q", after, gateway.CloseMalformed)
			}
			mu.Lock()
			seen[after] = true
			mu.Unlock()
		})
	})
	for c := range docCloses {
		if !seen[c] {
			t.Errorf("documented close %v never happened in this walk", c)
		}
	}
	for c := range seen {
		if !c.open && !docCloses[c] {
			t.Errorf("the box closed with %v, which the close table does not list", c)
		}
	}
}

// subtestContext bounds one parallel subtest from the moment it runs: a
// deadline taken before its t.Parallel also counted the time it queued
// for a slot behind the package's other parallel tests (over three
// minutes in a make test running four packages at once), and every
// provocation then failed at its first dial.
func subtestContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
