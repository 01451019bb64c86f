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
	// HTTPSRedirect sends browsers that open a page over plain HTTP to
	// HTTPS. The JSON API and /healthz stay usable over HTTP for bootstrap.
	HTTPSRedirect *bool `json:"https_redirect,omitempty"`
	// SessionMinutes is how long an idle browser session lasts (0: 60).
	SessionMinutes int `json:"session_minutes,omitempty"`
}

// DefaultWebInterfaces name the LAN and VPN interfaces of every board
// profile: the LAN port or bridge, and OpenVPN's tun/tap devices.
var DefaultWebInterfaces = []string{"lan*", "br-lan*", "tun*", "tap*"}

// DefaultWeb is the web section of a fresh box.
func DefaultWeb() Web { return Web{} }

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
	if s.SessionMinutes < 0 || s.SessionMinutes > 7*24*60 {
		errs = append(errs, fmt.Errorf("web.session_minutes: %d is out of range (0..10080)", s.SessionMinutes))
	}
	return errors.Join(errs...)
}
