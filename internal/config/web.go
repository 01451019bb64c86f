package config

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Web is the web section: where the local UI and REST API answer.
type Web struct {
	// Interfaces are the interface names (shell patterns such as "tun*")
	// whose addresses the UI answers on: the LAN and the VPN. A connection
	// that arrives at an address of any other interface is closed unread.
	// Loopback is always allowed. Empty means DefaultWebInterfaces.
	Interfaces []string `json:"interfaces,omitempty"`
	// HTTPSRedirect is no longer used: plain HTTP serves only /healthz and
	// a start page, and sends every other page to HTTPS. Kept so that
	// older files still load.
	HTTPSRedirect *bool `json:"https_redirect,omitempty"`
	// SessionMinutes is how long an idle browser session lasts (0: 60).
	SessionMinutes int `json:"session_minutes,omitempty"`
	// HostNames are more DNS names the box answers to (for example
	// "box17.vpn.example.com"). Requests naming any other host are
	// refused, so that a web page cannot rebind its own name to the box.
	// The box's addresses, its host name (also .local and .lan) and
	// localhost always work.
	HostNames []string `json:"host_names,omitempty"`
	// ExposeManagement allows settings that put the web UI, API or logs
	// within reach of the uplinks (the internet). Off, such settings are
	// refused. Setting it through the API needs a separate confirmation,
	// and every page then shows a warning.
	ExposeManagement bool `json:"expose_management,omitempty"`
}

// DefaultWebInterfaces name the LAN and VPN interfaces of every board
// profile: the LAN port or bridge, and OpenVPN's tun/tap devices.
var DefaultWebInterfaces = []string{"lan*", "br-lan*", "tun*", "tap*"}

// defaultWeb is the web section of a fresh box.
func defaultWeb() Web { return Web{} }

// AllowedInterfaces returns the interface patterns in effect.
func (s Web) AllowedInterfaces() []string {
	if len(s.Interfaces) == 0 {
		return DefaultWebInterfaces
	}
	return s.Interfaces
}

// Redirect reports whether plain-HTTP page views go to HTTPS.
func (s Web) Redirect() bool { return s.HTTPSRedirect == nil || *s.HTTPSRedirect }

// Validate reports what is wrong with the web section, naming fields.
func (s Web) Validate() error {
	var errs []error
	for i, p := range s.Interfaces {
		if p == "" || len(p) > 15 || strings.ContainsAny(p, "/ \t") {
			errs = append(errs, fmt.Errorf("web.interfaces[%d]: %q is not an interface name or pattern (at most 15 characters, no '/' or spaces)", i, p))
			continue
		}
		if _, err := path.Match(p, "x"); err != nil {
			errs = append(errs, fmt.Errorf("web.interfaces[%d]: %q is not a valid pattern: %v", i, p, err))
		}
	}
	for i, n := range s.HostNames {
		if !validDNSName(n) {
			errs = append(errs, fmt.Errorf("web.host_names[%d]: %q is not a DNS name (letters, digits, '-' and dots)", i, n))
		}
	}
	if s.SessionMinutes < 0 || s.SessionMinutes > 7*24*60 {
		errs = append(errs, fmt.Errorf("web.session_minutes: %d is out of range (0..10080)", s.SessionMinutes))
	}
	return errors.Join(errs...)
}

// validDNSName checks a DNS name of labels made of letters, digits and '-'.
func validDNSName(n string) bool {
	n = strings.TrimSuffix(n, ".")
	if n == "" || len(n) > 253 {
		return false
	}
	for _, l := range strings.Split(n, ".") {
		if !validHostname(l) || l == "" {
			return false
		}
	}
	return true
}
