package openvpn

import (
	"edgebox/internal/lazyregexp"
	"fmt"
	"strings"
)

// Explanations name the failure first, in words a person at the other end
// of a phone line understands, then what to do.
const (
	ErrBadPassphrase    = "bad passphrase: the VPN key's passphrase is wrong; enter the right one"
	ErrNeedPassphrase   = "passphrase needed: the VPN key is encrypted; enter its passphrase"
	ErrBadUserPass      = "login refused: the VPN server rejected the username or password; enter the right ones"
	ErrNeedUserPass     = "login needed: the VPN server wants a username and password; enter them"
	ErrCertExpired      = "certificate expired: the box's VPN certificate has expired; import a renewed profile"
	ErrCertNotYetValid  = "certificate not yet valid: check the box's clock (NTP) or the certificate's start date"
	ErrServerCertBad    = "server certificate rejected: the VPN server's certificate does not match the profile's CA or name"
	ErrServerCertExpire = "server certificate expired: the VPN server's certificate (or its CA) has expired, or the box's clock is wrong"
	ErrUnreachable      = "server unreachable: no answer from the VPN server; check the uplink, the server address, and that the profile's tls-auth/tls-crypt key is current"
	ErrRefused          = "server unreachable: the VPN server refused the connection; is the server running on that port?"
	ErrNoRoute          = "server unreachable: no route to the VPN server; check the uplink"
	ErrResolve          = "server unreachable: cannot resolve the VPN server's name; check DNS on the uplink"
	ErrTLSFailed        = "TLS handshake failed: the server answered but the secure handshake did not complete; check that the profile (tls-auth/tls-crypt key, CA) matches the server"
	ErrTLSKeyMismatch   = "TLS handshake failed: the tls-auth/tls-crypt key does not match the server's"
	ErrCipher           = "TLS handshake failed: the box and the server share no data cipher; update the profile's data-ciphers"
	ErrPingTimeout      = "connection lost: the VPN server stopped answering; reconnecting"
	// ErrNothingPasses replaces ErrPingTimeout when the tunnel drops
	// within quickDrop of coming up: the server answers the handshake,
	// but none of its packets can be read afterwards.
	ErrNothingPasses = "connection lost right after it came up: nothing the VPN server sends through the tunnel can be read. Most often the server uses compression and the profile does not, or the other way round: copy the server's comp-lzo or compress line into the profile (or its fragment and tun-mtu lines)"
	ErrKeyLoad       = "the profile's key or certificate cannot be loaded; import the profile again"
	ErrProxySilent   = "HTTP proxy not answering"
	// ErrBridgeDHCP: a bridged server (server-bridge without a pool)
	// pushes "route-gateway dhcp" and no address; openvpn on Linux asks
	// no DHCP, so the tunnel is up with no address and nothing passes.
	ErrBridgeDHCP = "no tunnel address: the VPN server is a bridge that leaves addresses to the office's DHCP server, and the box asks no DHCP over the VPN; ask the server's admin for an address pool (server-bridge with addresses) or a fixed address for this box (ifconfig-push in its client config)"
	// ErrPushedCompression: the server pushes compression and the
	// profile's own allow-compression forbids it.
	ErrPushedCompression = "the VPN server pushes compression (comp-lzo or compress), which the profile's allow-compression line forbids: remove that line and import the profile again (the box then reads the server's compressed packets and sends its own uncompressed), or ask the server's admin to stop pushing compression"
)

var (
	reVerifyExpired = lazyregexp.New(`VERIFY ERROR: depth=\d+, error=certificate has expired`)
	reVerifyFuture  = lazyregexp.New(`VERIFY ERROR: depth=\d+, error=certificate is not yet valid`)
)

// explainLog maps one openvpn log line to an explanation, or "" when the
// line is no failure. serverAnswered tells a timed-out handshake with a
// silent server ("unreachable") from one where the server did answer.
func explainLog(msg string, serverAnswered bool) string {
	switch {
	case strings.Contains(msg, "alert certificate expired"):
		// The server's TLS stack rejected our certificate with alert 45.
		return ErrCertExpired
	case strings.Contains(msg, "Your certificate has expired"):
		return ErrCertExpired
	case strings.Contains(msg, "Your certificate is not yet valid"):
		return ErrCertNotYetValid
	case reVerifyExpired.MatchString(msg):
		return ErrServerCertExpire
	case reVerifyFuture.MatchString(msg):
		return ErrCertNotYetValid
	case strings.Contains(msg, "VERIFY ERROR"), strings.Contains(msg, "VERIFY X509NAME ERROR"),
		strings.Contains(msg, "VERIFY KU ERROR"), strings.Contains(msg, "VERIFY EKU ERROR"):
		return ErrServerCertBad
	case strings.Contains(msg, "alert unknown ca"), strings.Contains(msg, "alert bad certificate"),
		strings.Contains(msg, "alert certificate unknown"), strings.Contains(msg, "alert certificate revoked"):
		return "certificate rejected: the VPN server does not accept the box's certificate; import a current profile"
	case strings.Contains(msg, "tls-crypt unwrapping failed"), strings.Contains(msg, "TLS Error: cannot locate HMAC"),
		strings.Contains(msg, "HMAC authentication failed"), strings.Contains(msg, "tls-crypt unwrap error"):
		return ErrTLSKeyMismatch
	case strings.Contains(msg, "failed to negotiate cipher"):
		return ErrCipher
	case strings.Contains(msg, "Cannot load private key"), strings.Contains(msg, "Cannot load certificate"),
		strings.Contains(msg, "Cannot load CA certificate"), strings.Contains(msg, "Cannot load inline certificate"):
		return ErrKeyLoad
	case strings.Contains(msg, "RESOLVE: Cannot resolve host address"):
		return ErrResolve
	case strings.Contains(msg, "Connection refused"):
		return ErrRefused
	case strings.Contains(msg, "Network is unreachable"), strings.Contains(msg, "No route to host"):
		return ErrNoRoute
	case strings.Contains(msg, "TLS key negotiation failed to occur"), strings.Contains(msg, "TLS handshake failed"),
		strings.Contains(msg, "Connection timed out"):
		if !serverAnswered {
			return ErrUnreachable
		}
		return ErrTLSFailed
	case strings.Contains(msg, "[soft,ping-restart]"):
		return ErrPingTimeout
	case strings.Contains(msg, "server pushed compression settings that are not allowed"):
		return ErrPushedCompression
	}
	return ""
}

// explainKeep reports whether a new explanation may replace the current
// one. A specific cause seen during an attempt (expired certificate) must
// not be overwritten by the generic "handshake failed" that follows it.
func explainKeep(current, next string) bool {
	generic := next == ErrTLSFailed || next == ErrUnreachable || next == ErrPingTimeout
	return current != "" && generic && current != ErrTLSFailed && current != ErrUnreachable && current != ErrPingTimeout
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

var reTunOpened = lazyregexp.New(`TUN/TAP device (\S+) opened`)

// tunOpened reads the device name from "TUN/TAP device vpn0 opened".
func tunOpened(msg string) (string, bool) {
	m := reTunOpened.FindStringSubmatch(msg)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// explainAuthFailed words the server's AUTH_FAILED: its reason if it gave
// one, a wrong login only when the profile has one, and openvpn's
// DEPRECATED hint (a --cipher it ignores) with what to do about it.
func explainAuthFailed(reason string, needsLogin bool, deprecated []string) string {
	var msg string
	cipherHint := ""
	for _, d := range deprecated {
		if strings.Contains(d, "--cipher") {
			cipherHint = "; openvpn warned: " + strings.TrimSpace(d[strings.Index(d, "DEPRECATED"):]) +
				" — import the profile again: the box converts old cipher lines"
		}
	}
	switch {
	case strings.Contains(strings.ToLower(reason), "cipher"):
		msg = fmt.Sprintf("refused by the VPN server: %q. The box and the server have no data cipher in common: add the server's cipher to the profile's data-ciphers, or ask the server's admin which cipher it uses", reason)
	case needsLogin && reason == "":
		return ErrBadUserPass
	case needsLogin:
		return fmt.Sprintf("login refused: the VPN server said %q; enter the right username and password, or ask the server's admin", reason)
	case reason != "":
		msg = fmt.Sprintf("refused by the VPN server: %q. This profile has no login, so the server refused the box itself; ask the server's admin (its log names this box's certificate)", reason)
	default:
		msg = "refused by the VPN server (AUTH_FAILED, no reason given). This profile has no login, so the server refused the box itself; ask the server's admin (its log names this box's certificate)"
	}
	return msg + cipherHint
}

var reProxyConnect = lazyregexp.New(`Send to HTTP proxy: 'CONNECT (\S+)`)

// proxyConnect reads what openvpn asked an HTTP proxy to reach.
func proxyConnect(msg string) (string, bool) {
	m := reProxyConnect.FindStringSubmatch(msg)
	if m == nil {
		return "", false
	}
	return m[1], true
}
