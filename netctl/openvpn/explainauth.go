package openvpn

import (
	"fmt"
	"strings"
)

// A server's AUTH_FAILED is not always "wrong password". OpenVPN 2.6
// servers (and Access Server, pfSense with TOTP, privacyIDEA and RADIUS
// plugins) also say "try later" (TEMP), "now the one-time code" (a
// dynamic challenge, CRV1) or "I need a challenge method you did not
// offer" (pending auth: crtext, a web login). Taken for a wrong
// password, the box held the right one as bad and stopped (NEEDS_LOGIN,
// "enter the right ones"), so a box refused once for a full address pool
// stayed off the VPN until someone typed the same password again, and
// an installer facing a two-factor server typed it again and again.

const (
	// ErrOneTimeCode: the server asks for a second factor the box cannot
	// give (a pending crtext challenge the box does not offer).
	ErrOneTimeCode = "one-time code needed: the VPN server asks for a code (two-factor) after the password, and the box connects on its own with no one to type it; ask the server's admin for an account for this box without the one-time code (certificate, or username and password only)"
	// errOneTimeCodeAsked is ErrOneTimeCode with the server's prompt
	// (a CRV1 dynamic challenge).
	errOneTimeCodeAsked = "one-time code needed: the VPN server asks %q after the password, and the box connects on its own with no one to type it; ask the server's admin for an account for this box without the one-time code (certificate, or username and password only)"
	// ErrWebLogin: the server wants a login in a web browser.
	ErrWebLogin = "web login needed: the VPN server wants a login in a web browser (single sign-on) at every connection, which the box cannot do; ask the server's admin for an account for this box with a certificate, or username and password only"
	// errServerTemp is a temporary refusal, with the server's words.
	errServerTemp = "refused for now by the VPN server: %q; the box tries again by itself"
)

// loginNotWrong words an AUTH_FAILED reason that says something other
// than a wrong login; ok false: take it as the server's verdict on the
// login (explainAuthFailed).
func loginNotWrong(reason string) (string, bool) {
	switch {
	case strings.HasPrefix(reason, "TEMP"):
		return fmt.Sprintf(errServerTemp, tempText(reason)), true
	case strings.HasPrefix(reason, "CRV1:"):
		// CRV1:flags:state_id:base64 username:prompt; the state and the
		// username are not for people
		f := strings.SplitN(reason, ":", 5)
		if len(f) == 5 && strings.TrimSpace(f[4]) != "" {
			return fmt.Sprintf(errOneTimeCodeAsked, strings.TrimSpace(f[4])), true
		}
		return ErrOneTimeCode, true
	case strings.Contains(reason, "pending auth method"):
		// "required pending auth method 'crtext' not supported"
		if strings.Contains(reason, "'crtext'") {
			return ErrOneTimeCode, true
		}
		return ErrWebLogin, true
	}
	return "", false
}

// tempText is the people's part of "TEMP[backoff 42,advance no]: No
// free IP addresses" or "TEMP: ...", or "" when there is none.
func tempText(reason string) string {
	rest := strings.TrimPrefix(reason, "TEMP")
	if strings.HasPrefix(rest, "[") {
		if i := strings.Index(rest, "]"); i >= 0 {
			rest = rest[i+1:]
		}
	}
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":"))
}
