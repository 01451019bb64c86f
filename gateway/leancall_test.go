package gateway

import (
	"log/slog"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"edgebox/internal/config"

	"github.com/pion/stun/v3"
)

// A new offer during a lean call with new ICE credentials (the browser's
// network changed) gets an answer with new credentials of the box's,
// which the shared port then answers checks for, while the old ones go
// unanswered; the DTLS session and the codec must stay.
func TestLeanReofferRestartsICE(t *testing.T) {
	h, err := newWebRTCHost(config.GatewayMedia{ICEAddress: "127.0.0.1", PublicAddress: "127.0.0.1"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	cert := []byte("browser certificate")
	first := leanTestOffer(cert)
	o, err := parseLeanOffer(first)
	if err != nil {
		t.Fatal(err)
	}
	sig := &sentMessages{}
	c := &call{log: slog.New(slog.DiscardHandler), web: h, sig: sig}
	l := &leanLeg{c: c, host: h, offer: o, ssrc: 1, remoteUfrag: o.ufrag}
	c.lean = l
	l.desc = leanDesc{ufrag: "oldufragoldufrag", pwd: "oldpasswordoldpasswordoldpasswor", fingerprint: "sha-256 AA",
		cand: h.fast.LocalAddr().(*net.UDPAddr).AddrPort(), ssrc: 1, direction: "sendrecv",
		plan: &bridgePlan{Browser: codec{Name: "pcmu", PT: 0, Clock: 8000, Channels: 1}}}
	h.leanICE.Add(l.desc.ufrag, l.desc.pwd, o.ufrag, l.onCheck)

	// the same credentials: answered as they are
	ans, err := l.reoffer(first)
	if err != nil || !strings.Contains(ans, "a=ice-ufrag:oldufragoldufrag\r\n") || l.restarts != 0 {
		t.Fatalf("same offer again: %v, restarts %d\n%s", err, l.restarts, ans)
	}
	restart := strings.ReplaceAll(strings.ReplaceAll(first, "ice-ufrag:abcd", "ice-ufrag:efgh"),
		"ice-pwd:aaaaaaaaaaaaaaaaaaaaaaaa", "ice-pwd:bbbbbbbbbbbbbbbbbbbbbbbb")
	// through the call, as the client's message arrives
	if !c.leanReoffer(restart) || len(sig.m) != 1 || sig.m[0].Type != MsgAnswer {
		t.Fatalf("the call sent %+v", sig.m)
	}
	ans = sig.m[0].SDP
	ufrag := regexp.MustCompile(`a=ice-ufrag:(\S+)`).FindStringSubmatch(ans)
	pwd := regexp.MustCompile(`a=ice-pwd:(\S+)`).FindStringSubmatch(ans)
	if ufrag == nil || pwd == nil || ufrag[1] == "oldufragoldufrag" || l.restarts != 1 {
		t.Fatalf("restart answered without new credentials (restarts %d):\n%s", l.restarts, ans)
	}
	if !checkAnswered(t, h, ufrag[1]+":efgh", pwd[1]) {
		t.Error("a check with the new credentials went unanswered")
	}
	if checkAnswered(t, h, "oldufragoldufrag:abcd", "oldpasswordoldpasswordoldpasswor") {
		t.Error("a check with the old credentials was answered")
	}
	for name, bad := range map[string]string{
		"another certificate": leanTestOffer([]byte("another certificate")),
		"codec gone":          strings.Replace(restart, "SAVPF 111 0 126", "SAVPF 111 126", 1),
	} {
		if _, err := l.reoffer(bad); err == nil {
			t.Errorf("%s: taken", name)
		}
	}
}

// checkAnswered sends one connectivity check to the host's port.
func checkAnswered(t *testing.T, h *webrtcHost, user, pwd string) bool {
	t.Helper()
	u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	req, err := stun.Build(stun.BindingRequest, stun.TransactionID, stun.NewUsername(user),
		stun.NewShortTermIntegrity(pwd), stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.WriteTo(req.Raw, h.fast.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	u.SetReadDeadline(time.Now().Add(time.Second))
	b := make([]byte, 1500)
	n, err := u.Read(b)
	if err != nil {
		return false
	}
	res := &stun.Message{Raw: b[:n]}
	return res.Decode() == nil && res.Type == stun.BindingSuccess &&
		stun.NewShortTermIntegrity(pwd).Check(res) == nil
}

// sentMessages is a signaler that keeps what the call sends.
type sentMessages struct{ m []Message }

func (s *sentMessages) send(m Message) error {
	s.m = append(s.m, m)
	return nil
}
