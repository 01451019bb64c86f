package openvpn

import (
	"strings"
	"testing"
)

// TestRefusalReasonsSayWhy: lines old site-to-site exports carry are
// refused with their real reason, not a generic one: a static-key profile
// ("secret", inline or as a file) is a key mode the box does not run, not
// a file it protects; "engine" loads a library.
func TestRefusalReasonsSayWhy(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{"secret static.key", "static-key mode is not supported"},
		{"secret [inline]", "static-key mode is not supported"},
		{"engine dynamic", "OpenSSL engine"},
	} {
		_, err := ParseProfile([]byte(base(c.line)), "site.ovpn", nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "touches files") {
			t.Errorf("%q: %v, want %q", c.line, err, c.want)
		}
	}
	prof := base("<secret>", fakeTC, "</secret>")
	if _, err := ParseProfile([]byte(prof), "site.ovpn", nil); err == nil || !strings.Contains(err.Error(), "static-key mode is not supported") {
		t.Errorf("inline <secret>: %v", err)
	}
}

// TestTLSAuthWithoutDirection: the forms of key-direction a stored
// profile can carry.
func TestTLSAuthWithoutDirection(t *testing.T) {
	for text, want := range map[string]bool{
		"<tls-auth>\nk\n</tls-auth>\n":                      true,
		"<tls-auth>\nk\n</tls-auth>\nkey-direction 1\n":     false,
		"key-direction 1\n<tls-auth>\nk\n</tls-auth>\n":     false,
		"tls-auth [inline] 1\n<tls-auth>\nk\n</tls-auth>\n": false,
		"tls-auth [inline]\n<tls-auth>\nk\n</tls-auth>\n":   true,
		"<tls-crypt>\nk\n</tls-crypt>\n":                    false,
	} {
		if got := tlsAuthWithoutDirection([]byte(text)); got != want {
			t.Errorf("%q: %v, want %v", text, got, want)
		}
	}
}
