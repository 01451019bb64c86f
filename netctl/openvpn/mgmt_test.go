package openvpn

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// Lines as openvpn 2.6 writes them on its management socket.
func TestParseLine(t *testing.T) {
	cases := []struct {
		line string
		want any
	}{
		{">STATE:1795635716,CONNECTED,SUCCESS,10.200.1.2,10.199.1.1,1194,,,fd00::1000",
			StateEvent{Time: time.Unix(1795635716, 0), Name: "CONNECTED", Detail: "SUCCESS", LocalIP: "10.200.1.2", RemoteIP: "10.199.1.1", RemotePort: "1194", LocalIPv6: "fd00::1000"}},
		{">STATE:1795635720,RECONNECTING,ping-restart,,,,,",
			StateEvent{Time: time.Unix(1795635720, 0), Name: "RECONNECTING", Detail: "ping-restart"}},
		{">STATE:1795635720,WAIT,,,,,,\r\n", StateEvent{Time: time.Unix(1795635720, 0), Name: "WAIT"}},
		{">BYTECOUNT:12479,13498", ByteCountEvent{In: 12479, Out: 13498}},
		{">PASSWORD:Need 'Private Key' password", PasswordEvent{Need: true, Type: "Private Key"}},
		{">PASSWORD:Need 'Auth' username/password", PasswordEvent{Need: true, Type: "Auth", UserPass: true}},
		{">PASSWORD:Need 'Auth' username/password SC:1,Enter PIN", PasswordEvent{Need: true, Type: "Auth", UserPass: true}},
		{">PASSWORD:Verification Failed: 'Private Key'", PasswordEvent{Type: "Private Key"}},
		{">PASSWORD:Verification Failed: 'Auth'", PasswordEvent{Type: "Auth"}},
		{">PASSWORD:Auth-Token:SECRETTOKEN", AuthTokenEvent{}}, // the token is not kept
		{">FATAL:Cannot load inline certificate file", FatalEvent{Msg: "Cannot load inline certificate file"}},
		{">HOLD:Waiting for hold release:0", HoldEvent{Msg: "Waiting for hold release:0"}},
		{">LOG:1795635720,W,WARNING: Your certificate has expired!", LogEvent{Time: time.Unix(1795635720, 0), Flags: "W", Msg: "WARNING: Your certificate has expired!"}},
		{">LOG:1795635720,,msg, with commas", LogEvent{Time: time.Unix(1795635720, 0), Msg: "msg, with commas"}},
		{">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info", OtherEvent{Kind: "INFO"}},
		{"SUCCESS: hold release succeeded", ReplyEvent{OK: true, Msg: "hold release succeeded"}},
		{"ERROR: unknown command, enter 'help' for more options", ReplyEvent{Msg: "unknown command, enter 'help' for more options"}},
		{"END", OtherEvent{Kind: "text"}},
	}
	for _, c := range cases {
		got, err := ParseLine(c.line)
		if err != nil {
			t.Errorf("ParseLine(%q): %v", c.line, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseLine(%q) = %#v, want %#v", c.line, got, c.want)
		}
	}
	for _, bad := range []string{">STATE:", ">STATE:1,lower", ">BYTECOUNT:1", ">BYTECOUNT:x,2", ">LOG:1", ">PASSWORD:Need nothing", ">nocolon"} {
		if ev, err := ParseLine(bad); err == nil {
			t.Errorf("ParseLine(%q) = %#v, want error", bad, ev)
		}
	}
}

// TestExplainLog maps real openvpn 2.6 lines to what people are told.
func TestExplainLog(t *testing.T) {
	cases := []struct {
		line     string
		answered bool
		want     string
	}{
		{"WARNING: Your certificate has expired!", false, ErrCertExpired},
		{"OpenSSL: error:0A000415:SSL routines::sslv3 alert certificate expired:SSL alert number 45", true, ErrCertExpired},
		{"VERIFY ERROR: depth=0, error=certificate has expired: CN=server, serial=2", true, ErrServerCertExpire},
		{"VERIFY ERROR: depth=1, error=self-signed certificate in certificate chain: CN=x", true, ErrServerCertBad},
		{"read UDPv4 [ECONNREFUSED]: Connection refused (fd=5,code=111)", false, ErrRefused},
		{"TLS Error: TLS key negotiation failed to occur within 4 seconds (check your network connectivity)", false, ErrUnreachable},
		{"TLS Error: TLS key negotiation failed to occur within 4 seconds (check your network connectivity)", true, ErrTLSFailed},
		{"TLS Error: tls-crypt unwrapping failed from [AF_INET]10.0.0.1:1194", true, ErrTLSKeyMismatch},
		{"RESOLVE: Cannot resolve host address: vpn.example.com:1194 (Name or service not known)", false, ErrResolve},
		{"write UDPv4 []: Network is unreachable (fd=5,code=101)", false, ErrNoRoute},
		{"SIGUSR1[soft,ping-restart] received, process restarting", true, ErrPingTimeout},
		{"Initialization Sequence Completed", true, ""},
	}
	for _, c := range cases {
		if got := explainLog(c.line, c.answered); got != c.want {
			t.Errorf("explainLog(%q, %v) = %q, want %q", c.line, c.answered, got, c.want)
		}
	}
	if !explainKeep(ErrCertExpired, ErrTLSFailed) || explainKeep(ErrUnreachable, ErrRefused) || explainKeep("", ErrTLSFailed) {
		t.Error("explainKeep lets a generic failure hide a specific one, or the reverse")
	}
	if dev, ok := tunOpened("TUN/TAP device vpn0 opened"); !ok || dev != "vpn0" {
		t.Errorf("tunOpened = %q %v", dev, ok)
	}
}

func TestTailRedactsAuthToken(t *testing.T) {
	tl := &tail{max: 5}
	tl.copy(strings.NewReader("PUSH: Received control message: 'PUSH_REPLY,ping 1,auth-token SESS_ID_abcdef,peer-id 0'\nTLS Error: x\n"), nil)
	all := strings.Join(tl.lines, "\n")
	if strings.Contains(all, "SESS_ID_abcdef") {
		t.Errorf("auth token kept: %s", all)
	}
	if e := tl.errors(); !strings.Contains(e, "TLS Error: x") {
		t.Errorf("errors() = %q", e)
	}
}

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		">STATE:1795635716,CONNECTED,SUCCESS,10.200.1.2,10.199.1.1,1194,,,fd00::1000",
		">BYTECOUNT:1,2", ">PASSWORD:Need 'Auth' username/password", ">PASSWORD:Verification Failed: 'Private Key'",
		">LOG:1,W,x", ">HOLD:Waiting for hold release:0", ">FATAL:x", "SUCCESS: ok", "ERROR: no", ">PASSWORD:Auth-Token:x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		ev, err := ParseLine(line)
		if err != nil {
			return
		}
		switch e := ev.(type) {
		case StateEvent:
			if e.Name == "" {
				t.Fatal("state without a name")
			}
		case PasswordEvent:
			if e.Type == "" || strings.Contains(e.Type, "'") {
				t.Fatalf("password event with type %q", e.Type)
			}
		case OtherEvent:
			// Auth tokens and other notifications must not be kept.
			if strings.Contains(line, "Auth-Token") && e.Kind != "PASSWORD" && e.Kind != "text" && !strings.HasPrefix(line, ">"+e.Kind) {
				t.Fatalf("unexpected kind %q", e.Kind)
			}
		case nil:
			t.Fatal("nil event without error")
		}
	})
}
