package openvpn

import (
	"bufio"
	"bytes"
)

// hintKeyDirection is added to "unreachable" and "key does not match" for
// a profile whose tls-auth key has no direction: openvpn then uses it in
// both directions, which only a server without a direction accepts. Most
// (pfSense, OPNsense, the 2.x how-tos: "tls-auth ta.key 0") drop every
// packet of such a client without a word, which looks like a dead server.
const hintKeyDirection = "; the profile's tls-auth key has no key-direction: most servers need \"key-direction 1\" in the profile (or \"tls-auth ta.key 1\")"

// tlsAuthWithoutDirection reports whether a stored profile uses tls-auth
// without giving the key a direction.
func tlsAuthWithoutDirection(text []byte) bool {
	tlsAuth, dir := false, false
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), MaxProfileSize)
	for sc.Scan() {
		toks, err := tokenize(sc.Text())
		if err != nil || len(toks) == 0 {
			continue
		}
		switch toks[0] {
		case "<tls-auth>":
			tlsAuth = true
		case "tls-auth":
			tlsAuth = true
			dir = dir || len(toks) >= 3
		case "key-direction":
			dir = true
		}
	}
	return tlsAuth && !dir
}
