package gateway

import (
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/pion/ice/v4"
	"github.com/pion/sdp/v3"
)

// A caller's ICE candidates say where the box sends STUN connectivity
// checks. On the pion stack (full ICE: a box without a public address, and
// calls with video) pion checks every remote candidate it is given, so a
// crafted page could make the box send STUN Binding requests (whose ICE
// user fragment the page chooses) to 127.0.0.1's services, the box's own
// addresses, link-local hosts, multicast and broadcast, and hosts on the
// LAN, the VPN and the uplinks' networks. Every remote candidate is
// therefore checked before pion sees it: in the offer's SDP, in trickled
// candidates, in an ICE restart's new offer and in the answer to a
// renegotiation (SIP-over-WebSocket apps send theirs in the SDP only: the
// same paths). Dropped always: loopback and the box's own addresses,
// link-local, multicast and broadcast, the unspecified address, port 0,
// and names (a .local mDNS name or any other: the box resolves none of a
// caller's names, so no name can be turned into an internal address).
// Dropped unless gateway.media.lan_candidates is on and the caller's
// signaling connection comes from that same network: the networks the box
// sits in and the other private and CGNAT ranges (classifyPeer).
//
// A caller whose candidates were dropped still connects: its browser's
// own checks reach the box, and pion answers them and checks back to
// their source (a peer-reflexive candidate). That address sent a packet
// with the call's ICE credentials; the kernel refuses loopback, the box's
// own and martian sources from outside, and the firewall's strict reverse
// path refuses forged LAN and VPN sources. The lean stack works that way
// only: it answers checks and sends to their source, and reads no
// candidate at all (dtlssrtp.Lite, leancall.go); pion in ICE-lite (a
// public address with video) sends no checks either.

// callerAddr is the address a call's signaling connection comes from: the
// one that authorised it, then the one that resumed it (resume.go).
type callerAddr struct{ p atomic.Pointer[netip.Addr] }

func (a *callerAddr) set(ip netip.Addr) { ip = ip.Unmap(); a.p.Store(&ip) }

func (a *callerAddr) get() netip.Addr {
	if p := a.p.Load(); p != nil {
		return *p
	}
	return netip.Addr{}
}

// candidateRefused says why the box must not send checks to the candidate
// (value as after "a=candidate:"), or "" when it may. caller is where the
// call's signaling comes from, lanOK is gateway.media.lan_candidates, own
// the box's addresses and subnets (interfacePrefixes).
func candidateRefused(value string, caller netip.Addr, lanOK bool, own []netip.Prefix) (why string, class peerClass) {
	// parsed exactly as pion parses it (AddICECandidate trims the prefix,
	// UnmarshalCandidate trims it again)
	cand, err := ice.UnmarshalCandidate(strings.TrimPrefix(value, "candidate:"))
	if err != nil {
		return "unreadable: " + err.Error(), peerNoAddress
	}
	ip, err := netip.ParseAddr(cand.Address())
	if err != nil {
		return "a name, not an address: the box resolves no caller's names (mDNS or DNS)", peerNoAddress
	}
	if cand.Port() == 0 {
		return "port 0", peerNoAddress
	}
	ip = ip.Unmap()
	switch class = classifyPeer(ip, own); class {
	case peerElsewhere:
		return "", class
	case peerOwnNetwork, peerPrivate:
		if lanOK && callersNetwork(ip, caller, own) {
			return "", class
		}
		if lanOK {
			return class.why() + ", not the caller's own network", class
		}
		return class.why() + " (gateway.media.lan_candidates is off)", class
	default:
		return class.why(), class
	}
}

// callersNetwork says whether ip is the caller's own address or in a
// subnet of the box the caller's address is in too.
func callersNetwork(ip, caller netip.Addr, own []netip.Prefix) bool {
	caller = caller.Unmap()
	if !caller.IsValid() {
		return false
	}
	if ip == caller {
		return true
	}
	for _, p := range own {
		if !p.IsSingleIP() && p.Contains(ip) && p.Contains(caller) {
			return true
		}
	}
	return false
}

// iceCandidateOK says whether a trickled candidate may go to pion; nil or
// empty (end of candidates) may.
func (c *call) iceCandidateOK(cand *Candidate) bool {
	if cand == nil || cand.Candidate == "" {
		return true
	}
	return c.candidateOK(cand.Candidate)
}

func (c *call) candidateOK(value string) bool {
	why, class := candidateRefused(value, c.caller.get(), c.cfg.Media.LANCandidates, recentOwnPrefixes())
	if why == "" {
		return true
	}
	// a browser's private host candidates and mDNS names are everyday;
	// one naming the box itself is not
	log := c.log.Debug
	if class == peerSelf || class == peerLinkLocal || class == peerBroadcast {
		log = c.log.Info
	}
	log("caller's ICE candidate dropped", "candidate", value, "why", why)
	return false
}

// iceSafeSDP is a caller's SDP without the candidates the box must not
// check (candidateRefused). It is parsed as pion parses it; an SDP pion
// cannot parse goes back unchanged for pion to refuse.
func (c *call) iceSafeSDP(raw string) string {
	if !strings.Contains(raw, "candidate") {
		return raw
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(raw); err != nil {
		return raw
	}
	dropped := false
	keep := func(attrs []sdp.Attribute) []sdp.Attribute {
		out := attrs[:0]
		for _, a := range attrs {
			if a.IsICECandidate() && !c.candidateOK(a.Value) {
				dropped = true
				continue
			}
			out = append(out, a)
		}
		return out
	}
	sd.Attributes = keep(sd.Attributes)
	for _, m := range sd.MediaDescriptions {
		m.Attributes = keep(m.Attributes)
	}
	if !dropped {
		return raw
	}
	b, err := sd.Marshal()
	if err != nil {
		return "" // pion refuses an empty description
	}
	return string(b)
}
