package openvpn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// authServer is an OpenVPN 2.6 server whose login check (a deferred
// auth-user-pass-verify script) answers as script says: it writes
// OpenVPN 2.6's auth_failed_reason_file (the AUTH_FAILED reason the
// client gets) or auth_pending_file (a challenge while the server
// waits), then auth_control_file.
func authServer(script string) func(t testing.TB, e fieldEnv) oldSrv {
	return func(t testing.TB, e fieldEnv) oldSrv {
		return oldSrv{files: map[string]string{"verify.sh": "#!/bin/sh\necho asked >> \"$0.calls\"\n" + script + "\nexit 2\n"}, lines: []string{
			"proto udp", "script-security 2", "auth-user-pass-verify \"/bin/sh verify.sh\" via-file",
		}}
	}
}

// Servers that answer the login with something other than "wrong": a
// temporary refusal (TEMP: no free address, too many sessions) was shown
// as "login refused ... enter the right ones", the state went to
// NEEDS_LOGIN and the box held the right password as bad, so it never
// connected again until someone typed it anew; a server asking for a
// one-time code (a dynamic challenge, CRV1, or a pending crtext
// challenge) read the same, and the installer typed the password
// again and again. Each now says what the server wants.
func TestServerLoginAnswersRound6(t *testing.T) {
	login := Credentials{Username: strp("alice"), Password: strp("right-pw")}
	upload := func(t *testing.T, e fieldEnv) ([]byte, string) {
		return []byte(strings.Join([]string{
			"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "auth-user-pass",
			inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
		}, "\n") + "\n"), "login.ovpn"
	}
	// The login is not held as bad: openvpn gets it again at its next
	// attempt (the server asks the script again), and the status never
	// says to enter it.
	notHeldBad := func(t *testing.T, e fieldEnv) {
		calls := func() int {
			b, _ := os.ReadFile(filepath.Join(e.srv.dir, "verify.sh.calls"))
			return strings.Count(string(b), "asked")
		}
		asked := calls()
		waitStatus(t, e.m, 30*time.Second, "the server asked again", func(st Status) bool {
			return calls() > asked
		})
		st := e.m.Status()
		if st.State == StateNeedsLogin || strings.Contains(st.LastError, "enter the right") {
			t.Errorf("after a refusal that was not about the password: %s: %s", st.State, st.LastError)
		}
	}
	runFieldCases(t, []fieldCase{
		{
			name:   "auth-failed-temp",
			server: authServer(`echo 'TEMP[backoff 2,advance no]: No free IP addresses' > "$auth_failed_reason_file"; echo 0 > "$auth_control_file"`),
			upload: upload, creds: login,
			wantStatus: []string{"refused for now", "No free IP addresses", "tries again"},
			after:      notHeldBad,
		},
		{
			name:   "auth-failed-crv1",
			server: authServer(`echo 'CRV1:R,E:c3RhdGUxMjM=:YWxpY2U=:Enter your authenticator code' > "$auth_failed_reason_file"; echo 0 > "$auth_control_file"`),
			upload: upload, creds: login,
			wantStatus: []string{"one-time code", "Enter your authenticator code"},
			after:      notHeldBad,
		},
		{
			name:   "auth-pending-crtext",
			server: authServer(`printf '30\ncrtext\nCR_TEXT:E,R:Enter your authenticator code\n' > "$auth_pending_file"`),
			upload: upload, creds: login,
			wantStatus: []string{"one-time code", "two-factor"},
			after:      notHeldBad,
		},
	})
}

// TestLoginNotWrong: the AUTH_FAILED reasons that are not a wrong login,
// and that a plain refusal still is one.
func TestLoginNotWrong(t *testing.T) {
	for reason, want := range map[string]string{
		"TEMP[backoff 42,advance no]: No free IP addresses":                           `refused for now by the VPN server: "No free IP addresses"`,
		"TEMP: too many sessions":                                                     `"too many sessions"`,
		"CRV1:R,E:c3RhdGU=:YWxpY2U=:Enter PIN: and code":                              `asks "Enter PIN: and code"`,
		"CRV1:R:c3RhdGU=:YWxpY2U=:":                                                   ErrOneTimeCode,
		"Authentication failed, required pending auth method 'crtext' not supported":  ErrOneTimeCode,
		"Authentication failed, required pending auth method 'openurl' not supported": ErrWebLogin,
		"Invalid username or password":                                                "",
		"":                                                                            "",
	} {
		got, ok := loginNotWrong(reason)
		if want == "" {
			if ok {
				t.Errorf("%q taken as not a wrong login: %q", reason, got)
			}
			continue
		}
		if !ok || !strings.Contains(got, want) {
			t.Errorf("%q: %q %v, want %q", reason, got, ok, want)
		}
		if strings.Contains(got, "c3RhdGU") || strings.Contains(got, "YWxpY2U") {
			t.Errorf("%q: the challenge's state or username shown: %q", reason, got)
		}
	}
}
