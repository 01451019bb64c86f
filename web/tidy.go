package web

import (
	"edgebox/internal/lazyregexp"
	"strings"
	"unicode"
)

// What a person types is rarely what a validator wants: a phone keyboard
// adds a space after a word, a PIN is read out in pairs ("12 34"), a PBX
// address is copied from a softphone as "sip:pbx.example.com:5060" or from
// a browser as "https://pbx.example.com/", a time zone is typed in lower
// case. Stored as typed, such a value is either refused with a message
// that shows the same text the installer meant, or, worse, accepted and
// broken later (a PBX host "pbx.example.com " that never resolves, a trunk
// user " 1001" the PBX rejects as a wrong password). tidySetting cleans
// each typed value once, before it is checked and stored, for the form,
// the API and edgectl alike; the cleaned values go back to the page so
// the installer sees what was kept.

// tidySetting is value v for config path p as it should be stored.
func tidySetting(p string, v any) any {
	switch x := v.(type) {
	case string:
		return tidyString(p, x)
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				if s = tidyString(p, s); s == "" {
					continue // "a, , b" or a trailing comma
				}
				out = append(out, s)
				continue
			}
			out = append(out, e)
		}
		return out
	case []string:
		l := make([]any, len(x))
		for i, s := range x {
			l[i] = s
		}
		return tidySetting(p, l)
	}
	return v
}

// leaf is the last name of a config path: "pin" of network.modem.pin,
// "ntp" of system.ntp[0].
func leaf(p string) string {
	p = listPath(p)
	return p[strings.LastIndexByte(p, '.')+1:]
}

// listPath is p without a trailing list index: system.ntp of system.ntp[0].
func listPath(p string) string {
	if i := strings.LastIndexByte(p, '['); i >= 0 && !strings.Contains(p[i:], ".") {
		return p[:i]
	}
	return p
}

// isSpaceLike is white space and the invisible characters a copy from a
// mail or a PDF brings along (zero-width space, BOM).
func isSpaceLike(r rune) bool {
	return unicode.IsSpace(r) || r == '\u200b' || r == '\ufeff' || r == '\u00a0'
}

func tidyString(p, s string) string {
	switch leaf(p) {
	case "password", "passphrase", "secret", "api_key", "sha256":
		return s // a secret is exactly what was typed, spaces included
	case "pin", "puk":
		// "12 34", "1234 " and "12-34" are the PIN 1234.
		return strings.Map(func(r rune) rune {
			if isSpaceLike(r) || r == '-' {
				return -1
			}
			return r
		}, s)
	}
	s = strings.TrimFunc(s, isSpaceLike)
	switch p = listPath(p); {
	case p == "gateway.pbx.address":
		return hostFromURI(s)
	case p == "system.ntp":
		return hostFromURI(s)
	case p == "system.timezone":
		return canonicalZone(s)
	case leaf(p) == "transport" || p == "network.wan.method":
		return strings.ToLower(s)
	}
	return s
}

var uriScheme = lazyregexp.New(`^(?i)(?:sips?|https?|udp|tcp|tls|ntp):(?://)?`)

// hostFromURI is host[:port] of a SIP URI or URL: the scheme, a user
// part, a path and URI parameters go ("sip:1001@pbx.example.com:5060;
// transport=udp" is pbx.example.com:5060). A bare IPv6 address stays as
// it is: its colons are not a scheme.
func hostFromURI(s string) string {
	if rest := uriScheme.ReplaceAllString(s, ""); strings.Trim(rest, "0123456789") != "" {
		s = rest // not "sip:5060", a host named sip with its port
	}
	if i := strings.IndexAny(s, "/?;"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// canonicalZone is the tz database's spelling of a zone typed in another
// case ("europe/berlin"); anything else is left for the check to name.
func canonicalZone(s string) string {
	for _, z := range strings.Split(zoneNames, "\n") {
		if z != "" && z[0] != '#' && z != s && strings.EqualFold(z, s) {
			return z
		}
	}
	return s
}
