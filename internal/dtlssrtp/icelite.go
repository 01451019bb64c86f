package dtlssrtp

import (
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/pion/stun/v3"
)

// ICE-lite on the shared port (RFC 8445 section 2.5): where the box has an
// address the browser reaches directly, it only answers the browser's
// connectivity checks, with no ICE agent (and no goroutines) per call. A
// check is answered when its USERNAME starts with a ufrag registered
// with Lite; checks for other ufrags stay with pion's ICE mux, so calls
// on the PeerConnection path share the port with lean ones.

// LiteCheck is a connectivity check that was answered.
type LiteCheck struct {
	From      netip.AddrPort
	Nominated bool // USE-CANDIDATE: the browser picked this address
}

type liteCred struct {
	pwd    string
	remote string // the browser's ufrag: USERNAME is "local:remote"
	integ  stun.MessageIntegrity
	on     func(LiteCheck)
}

// Lite answers connectivity checks for registered ufrags.
type Lite struct {
	mu    sync.Mutex
	creds map[string]*liteCred // by the box's ufrag
}

// SetLite makes c answer checks for the credentials registered with l.
func (c *Conn) SetLite(l *Lite) { c.lite.Store(l) }

// Add registers one call's credentials: localUfrag/localPwd from the box's
// answer, remoteUfrag from the browser's offer. on runs on the socket's
// reader goroutine for every answered check and must not block.
func (l *Lite) Add(localUfrag, localPwd, remoteUfrag string, on func(LiteCheck)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.creds == nil {
		l.creds = map[string]*liteCred{}
	}
	l.creds[localUfrag] = &liteCred{pwd: localPwd, remote: remoteUfrag,
		integ: stun.NewShortTermIntegrity(localPwd), on: on}
}

// Remove forgets a call's credentials: its checks go unanswered.
func (l *Lite) Remove(localUfrag string) {
	l.mu.Lock()
	delete(l.creds, localUfrag)
	l.mu.Unlock()
}

// answer handles pkt if it is a binding request for a registered ufrag;
// false leaves it to pion. A request that names a registered ufrag but
// fails the integrity check is claimed and dropped (RFC 8445 section
// 7.3: answered with nothing that helps an attacker).
func (l *Lite) answer(c *Conn, pkt []byte, from netip.AddrPort) bool {
	if l == nil || !stun.IsMessage(pkt) {
		return false
	}
	m := &stun.Message{Raw: append([]byte(nil), pkt...)}
	if err := m.Decode(); err != nil || m.Type != stun.BindingRequest {
		return false
	}
	var user stun.Username
	if err := user.GetFrom(m); err != nil {
		return false
	}
	local, remote, ok := strings.Cut(user.String(), ":")
	if !ok {
		return false
	}
	l.mu.Lock()
	cr := l.creds[local]
	l.mu.Unlock()
	if cr == nil {
		return false
	}
	if remote != cr.remote || stun.Fingerprint.Check(m) != nil || cr.integ.Check(m) != nil {
		c.Rejected.Add(1)
		return true
	}
	res, err := stun.Build(stun.BindingSuccess, stun.NewTransactionIDSetter(m.TransactionID),
		&stun.XORMappedAddress{IP: net.IP(from.Addr().Unmap().AsSlice()), Port: int(from.Port())},
		cr.integ, stun.Fingerprint)
	if err != nil {
		return true
	}
	// before the answer: the browser's DTLS follows it at once (Expect)
	cr.on(LiteCheck{From: unmap(from), Nominated: m.Contains(stun.AttrUseCandidate)})
	c.out.WriteToUDPAddrPort(res.Raw, from)
	return true
}
