package openvpn

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Events of openvpn's management interface, one type per notification, as
// ParseLine returns them.
type (
	// StateEvent is >STATE: a step of the connection.
	StateEvent struct {
		Time       time.Time
		Name       string // CONNECTING, WAIT, AUTH, GET_CONFIG, ASSIGN_IP, CONNECTED, RECONNECTING, EXITING ...
		Detail     string // e.g. SUCCESS, ping-restart, tls-error
		LocalIP    string // tunnel IPv4 of the box
		RemoteIP   string // server address
		RemotePort string
		LocalIPv6  string // tunnel IPv6 of the box
	}
	// ByteCountEvent is >BYTECOUNT: totals since the tunnel came up.
	ByteCountEvent struct{ In, Out uint64 }
	// AuthTokenEvent is >PASSWORD:Auth-Token: the server pushed a session
	// token, which openvpn presents instead of the password from now on.
	AuthTokenEvent struct{}
	// PasswordEvent is >PASSWORD: a request or a verdict.
	PasswordEvent struct {
		// Need is true for a request, false for "Verification Failed".
		Need bool
		// Type is "Private Key", "Auth", "HTTP Proxy" ...
		Type string
		// UserPass means a username is wanted too.
		UserPass bool
		// Reason is the server's word on a failed verification
		// ("Verification Failed: 'Auth' ['reason']"), if it gave one.
		Reason string
	}
	// FatalEvent is >FATAL: openvpn is about to exit.
	FatalEvent struct{ Msg string }
	// HoldEvent is >HOLD: openvpn waits for "hold release".
	HoldEvent struct{ Msg string }
	// LogEvent is >LOG: one log line.
	LogEvent struct {
		Time  time.Time
		Flags string
		Msg   string
	}
	// ReplyEvent answers a command: SUCCESS: or ERROR:.
	ReplyEvent struct {
		OK  bool
		Msg string
	}
	// OtherEvent is any notification this package does not act on (>INFO,
	// >NEED-OK, >ECHO, auth tokens ...). Its text is not kept, since some
	// of them carry secrets.
	OtherEvent struct{ Kind string }
)

// ParseLine parses one line the management interface sent. Lines of
// multi-line replies this package never asks for come back as OtherEvent.
func ParseLine(line string) (any, error) {
	line = strings.TrimRight(line, "\r\n")
	if rest, ok := strings.CutPrefix(line, "SUCCESS:"); ok {
		return ReplyEvent{OK: true, Msg: strings.TrimSpace(rest)}, nil
	}
	if rest, ok := strings.CutPrefix(line, "ERROR:"); ok {
		return ReplyEvent{OK: false, Msg: strings.TrimSpace(rest)}, nil
	}
	if !strings.HasPrefix(line, ">") {
		return OtherEvent{Kind: "text"}, nil
	}
	kind, body, ok := strings.Cut(line[1:], ":")
	if !ok {
		return nil, fmt.Errorf("management: notification without ':'")
	}
	switch kind {
	case "STATE":
		return parseState(body)
	case "BYTECOUNT":
		in, out, ok := strings.Cut(body, ",")
		if !ok {
			return nil, fmt.Errorf("management: bad BYTECOUNT")
		}
		i, err1 := strconv.ParseUint(in, 10, 64)
		o, err2 := strconv.ParseUint(out, 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("management: bad BYTECOUNT numbers")
		}
		return ByteCountEvent{In: i, Out: o}, nil
	case "PASSWORD":
		return parsePassword(body)
	case "FATAL":
		return FatalEvent{Msg: body}, nil
	case "HOLD":
		return HoldEvent{Msg: body}, nil
	case "LOG":
		f := strings.SplitN(body, ",", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("management: bad LOG")
		}
		return LogEvent{Time: unixTime(f[0]), Flags: f[1], Msg: f[2]}, nil
	}
	return OtherEvent{Kind: kind}, nil
}

func unixTime(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0)
}

// parseState reads "time,NAME,detail,localIP,remoteIP,remotePort,localAddr,localPort,localIPv6".
func parseState(body string) (any, error) {
	f := strings.Split(body, ",")
	if len(f) < 2 || f[1] == "" {
		return nil, fmt.Errorf("management: bad STATE")
	}
	for _, c := range f[1] {
		if !(c >= 'A' && c <= 'Z' || c == '_') {
			return nil, fmt.Errorf("management: bad STATE name")
		}
	}
	get := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	return StateEvent{
		Time: unixTime(f[0]), Name: f[1], Detail: get(2), LocalIP: get(3),
		RemoteIP: get(4), RemotePort: get(5), LocalIPv6: get(8),
	}, nil
}

// parsePassword reads "Need 'Private Key' password",
// "Need 'Auth' username/password", "Verification Failed: 'Auth'" and
// the like, and "Auth-Token:..." (a token the server pushed) without the
// token. Anything else is dropped unread.
func parsePassword(body string) (any, error) {
	quoted := func(s string) (string, bool) {
		a := strings.IndexByte(s, '\'')
		if a < 0 {
			return "", false
		}
		b := strings.IndexByte(s[a+1:], '\'')
		if b <= 0 {
			return "", false
		}
		return s[a+1 : a+1+b], true
	}
	switch {
	case strings.HasPrefix(body, "Need "):
		t, ok := quoted(body)
		if !ok {
			return nil, fmt.Errorf("management: bad PASSWORD request")
		}
		return PasswordEvent{Need: true, Type: t, UserPass: strings.Contains(body, "username/password")}, nil
	case strings.HasPrefix(body, "Auth-Token:"):
		// The token itself is a secret and is not kept.
		return AuthTokenEvent{}, nil
	case strings.HasPrefix(body, "Verification Failed"):
		t, ok := quoted(body)
		if !ok {
			return nil, fmt.Errorf("management: bad PASSWORD verdict")
		}
		reason := ""
		if a := strings.Index(body, "['"); a >= 0 {
			if b := strings.LastIndex(body, "']"); b > a {
				reason = body[a+2 : b]
			}
		}
		return PasswordEvent{Need: false, Type: t, Reason: reason}, nil
	}
	return OtherEvent{Kind: "PASSWORD"}, nil
}

// mgmtQuote quotes a command parameter for the management interface.
// Parameters must not hold line breaks: they would start a new command.
func mgmtQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

var errExitedEarly = errors.New("openvpn exited before opening its management socket")

// mgmtConn is one connection to the management socket. Its reader
// goroutine turns lines into events; commands are written by the owner.
type mgmtConn struct {
	conn   net.Conn
	events chan any
	wmu    sync.Mutex
	closed chan struct{}
}

// dialMgmt connects to the management socket, retrying while openvpn is
// still starting, until timeout or until exited is closed.
func dialMgmt(sock string, timeout time.Duration, exited <-chan struct{}) (*mgmtConn, error) {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			m := &mgmtConn{conn: c, events: make(chan any, 64), closed: make(chan struct{})}
			go m.read()
			return m, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("management socket: %w", err)
		}
		select {
		case <-exited:
			return nil, errExitedEarly
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (m *mgmtConn) read() {
	defer close(m.events)
	sc := bufio.NewScanner(m.conn)
	sc.Buffer(make([]byte, 4096), 64<<10)
	for sc.Scan() {
		ev, err := ParseLine(sc.Text())
		if err != nil {
			continue
		}
		select {
		case m.events <- ev:
		case <-m.closed:
			return
		}
	}
}

// send writes one command line.
func (m *mgmtConn) send(cmd string) error {
	if strings.ContainsAny(cmd, "\r\n") {
		return errors.New("management command holds a line break")
	}
	m.wmu.Lock()
	defer m.wmu.Unlock()
	m.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := io.WriteString(m.conn, cmd+"\n")
	return err
}

func (m *mgmtConn) close() {
	select {
	case <-m.closed:
	default:
		close(m.closed)
	}
	m.conn.Close()
}
