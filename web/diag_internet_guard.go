package web

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Below admin scope the internet test connects to public addresses only.
// It fetches a URL whose host and port the caller chooses and says what
// answered, so an operate token (a portal's or a script's, on the LAN)
// had the box open connections to its own loopback services and to the
// VPN's hosts, which the LAN may not reach, and learnt which ports
// answered: a port scanner and blind GETs past the firewall's forward
// rules (fifth review). The check is made on the address being
// connected to, so a name that resolves to a private address is refused
// as well. ping, traceroute and dns stay open to any target: they tell
// reachability, which is what they are for.

// notInternet says why ip is not a public internet address, or "".
func notInternet(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback(), ip.IsUnspecified():
		return "the box itself"
	case ip.IsPrivate(), cgnat.Contains(ip):
		return "a private network (the LAN, the VPN or the carrier's)"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(), ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return "a local network"
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Unmap() == ip {
				return "the box itself"
			}
		}
	}
	return ""
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// internetOnly is rt with every connection's address checked by
// notInternet. An rt that is no *http.Transport (whose dialing cannot be
// checked) is replaced by the default one.
func internetOnly(rt http.RoundTripper) http.RoundTripper {
	t, ok := rt.(*http.Transport)
	if !ok {
		t = http.DefaultTransport.(*http.Transport)
	}
	t = t.Clone()
	t.Proxy = nil // the check must see the address the request goes to
	// A transport per test: an idle kept-alive connection (HTTP/2 for up
	// to 90 s) would only hold a descriptor no later request reuses.
	t.DisableKeepAlives = true
	d := &net.Dialer{Timeout: 10 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return err
		}
		if why := notInternet(ap.Addr()); why != "" {
			return fmt.Errorf("%s is not on the internet but %s: below admin scope the internet test reaches only public addresses; use ping or an admin login", ap.Addr(), why)
		}
		return nil
	}}
	t.DialContext = d.DialContext
	return t
}

// internetTransportFor is the internet test's transport for r's scope.
func internetTransportFor(r *http.Request) http.RoundTripper {
	if ScopeOf(r) == ScopeAdmin {
		return internetTransport
	}
	return internetOnly(internetTransport)
}
