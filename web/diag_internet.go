package web

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// internetTransport makes the internet test's HTTPS request; tests give
// it their own trusted roots.
var internetTransport http.RoundTripper = http.DefaultTransport

// validTestURL accepts an https:// URL with a host name or address.
func validTestURL(s string) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" || u.User != nil {
		return nil, errors.New("target: give an https:// address, e.g. https://www.example.com")
	}
	if err := validTarget(u.Hostname()); err != nil {
		return nil, err
	}
	return u, nil
}

// internetTest looks the URL's host up and fetches the URL over HTTPS:
// the two things "the internet works" means to the box's services.
func internetTest(ctx context.Context, u *url.URL, rt http.RoundTripper) []string {
	var lines []string
	host := u.Hostname()
	if _, err := netip.ParseAddr(host); err != nil {
		start := time.Now()
		addrs, err := net.DefaultResolver.LookupHost(ctx, host)
		if err != nil {
			return append(lines, "DNS: "+host+" cannot be looked up ("+plainWords(err.Error())+"): check the uplink and its DNS servers.")
		}
		lines = append(lines, fmt.Sprintf("DNS: %s is %s (%s).", host, strings.Join(addrs, ", "), time.Since(start).Round(time.Millisecond)))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return append(lines, "HTTPS: "+err.Error())
	}
	c := &http.Client{Transport: rt, Timeout: 15 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		var ua x509.UnknownAuthorityError
		var he x509.HostnameError
		var ce *tls.CertificateVerificationError
		switch {
		case errors.As(err, &ua), errors.As(err, &he), errors.As(err, &ce):
			return append(lines, "HTTPS: "+host+" answered with a certificate the box does not trust: something on the way intercepts HTTPS, or the clock is wrong.")
		}
		return append(lines, "HTTPS: no answer from "+u.String()+" ("+plainWords(strings.TrimPrefix(err.Error(), `Get "`+u.String()+`": `))+").")
	}
	resp.Body.Close()
	return append(lines, fmt.Sprintf("HTTPS: %s answered %s in %s: the internet works.", u.String(), resp.Status, time.Since(start).Round(time.Millisecond)))
}

// vpnServerGuess is the first address of the tunnel's subnet, where an
// OpenVPN server usually sits ("10.8.0.6/24" -> 10.8.0.1). openvpn
// reports the box's tunnel address without its prefix: /24 is assumed.
func vpnServerGuess(tunnel string) string {
	p, err := netip.ParsePrefix(tunnel)
	if err != nil {
		a, err := netip.ParseAddr(tunnel)
		if err != nil {
			return ""
		}
		p = netip.PrefixFrom(a, 24)
	}
	if !p.Addr().Is4() || p.Bits() > 30 {
		return ""
	}
	g := p.Masked().Addr().Next()
	if g == p.Addr() {
		return ""
	}
	return g.String()
}
