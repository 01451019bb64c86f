package config

import (
	"fmt"
	"net"
	"strings"
)

// SyslogTarget is system.syslog read: where service logs go, and how.
type SyslogTarget struct {
	// Transport is "udp" (RFC 5426, one datagram a line) or "tcp"
	// (RFC 6587 octet counting: lines queued and sent again after a
	// broken connection, so none are lost while the uplink moves).
	Transport string
	// Address is host:port.
	Address string
}

// SyslogExample is what a person-facing syslog error shows.
const SyslogExample = "for example tcp://10.8.0.1:514, or 10.8.0.1:514 for UDP"

// ParseSyslog reads a system.syslog value: "host:port" or
// "udp://host:port" for UDP, "tcp://host:port" for TCP. "" is off.
func ParseSyslog(s string) (SyslogTarget, error) {
	if s == "" {
		return SyslogTarget{}, nil
	}
	scheme, addr, found := strings.Cut(s, "://")
	if !found {
		// The form every box stored before TCP: its check stays as it
		// was, so no stored config stops loading after an update.
		if host, port, err := net.SplitHostPort(s); err != nil || host == "" || !validPort(port) {
			return SyslogTarget{}, fmt.Errorf("%q is not host:port or tcp://host:port (%s)", s, SyslogExample)
		}
		return SyslogTarget{Transport: "udp", Address: s}, nil
	}
	switch strings.ToLower(scheme) {
	case "udp", "tcp":
	case "tls":
		return SyslogTarget{}, fmt.Errorf("%q: syslog over TLS is not supported; use tcp:// to a collector on the VPN (%s)", s, SyslogExample)
	default:
		return SyslogTarget{}, fmt.Errorf("%q: %q is not a syslog transport (udp:// or tcp://; %s)", s, scheme, SyslogExample)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || !validPort(port) || !validSyslogHost(host) {
		return SyslogTarget{}, fmt.Errorf("%q: after %s:// comes host:port and nothing else (%s)", s, scheme, SyslogExample)
	}
	return SyslogTarget{Transport: strings.ToLower(scheme), Address: addr}, nil
}

// validSyslogHost: an IP address or a DNS name, nothing a URL could hide
// behind (user@, /path, ?query, spaces, control characters).
func validSyslogHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if h == "" || len(h) > 253 || strings.HasPrefix(h, ".") || strings.Contains(h, "..") {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
