package gateway

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"edgebox/internal/config"
)

// amiServer is the subset of the Yeastar TG200's manager interface (TCP
// 5038, "Asterisk Call Manager/1.1") that scripts on existing PBXs use
// for SMS: Action: Login, Action: smscommand with "gsm send sms" and
// "gsm show spans", Ping, Logoff, and the events ReceivedSMS and
// UpdateSMSSend. It listens on loopback and the LAN/VPN interfaces only
// (ami_listen.go).
type amiServer struct {
	b   *smsBridge
	cfg config.GSMAMI
	log *slog.Logger
	ls  *amiListeners

	mu       sync.Mutex
	sessions map[*amiSession]struct{}
	fails    map[netip.Addr]*amiFails
	pending  pendingSockets // connections not logged in yet

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// amiFails counts one address's failed logins.
type amiFails struct {
	n     int
	first time.Time
	until time.Time // locked out until
	told  bool      // the lock-out's refusal was logged
}

// amiLockout is the window failed logins are counted in and the time an
// address is locked out for once it reached the limit.
const amiLockout = 10 * time.Minute

// amiFailsMax bounds the sources whose failures below the limit are
// remembered; amiFailsHard the locked-out ones.
const (
	amiFailsMax  = 4096
	amiFailsHard = 65536
)

func startAMI(b *smsBridge, cfg config.GSMAMI, log *slog.Logger) (*amiServer, error) {
	a := &amiServer{b: b, cfg: cfg, log: log, sessions: map[*amiSession]struct{}{}, fails: map[netip.Addr]*amiFails{}}
	a.ctx, a.cancel = context.WithCancel(b.ctx)
	port := cfg.Port
	if port == 0 {
		port = config.DefaultAMIPort
	}
	ifaces := cfg.Interfaces
	if len(ifaces) == 0 {
		ifaces = config.DefaultWebInterfaces
	}
	ls, err := newAMIListeners(port, ifaces, a.serveConn, log)
	if err != nil {
		a.cancel()
		return nil, err
	}
	a.ls = ls
	a.warnNoReaders()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		ls.follow(a.ctx)
	}()
	return a, nil
}

func (a *amiServer) close() {
	a.cancel()
	a.ls.close()
	a.mu.Lock()
	for s := range a.sessions {
		s.conn.Close()
	}
	a.mu.Unlock()
	a.wg.Wait()
}

// amiSession is one manager connection.
type amiSession struct {
	conn    net.Conn
	user    string
	readSMS bool        // the user is granted ReceivedSMS (config.GSMAMIUser.Read)
	events  chan string // written by the session's writer
}

func (a *amiServer) serveConn(c net.Conn) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.session(c)
	}()
}

// amiLoginWindow is how long a connection may take to log in.
var amiLoginWindow = 30 * time.Second

// maxAMIMessage bounds one manager message (a smscommand with 1600
// URL-encoded characters fits many times).
const maxAMIMessage = 64 << 10

func (a *amiServer) session(c net.Conn) {
	defer c.Close()
	s := &amiSession{conn: c, events: make(chan string, 64)}
	src := netip.Addr{}
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		src = ta.AddrPort().Addr().Unmap()
	}
	// Connections waiting for a login are capped per source and in all,
	// as the portal's sockets without a token are: each holds a
	// descriptor for the login window, and the gateway's descriptors
	// serve the calls too.
	if err := a.pending.acquire(src); err != nil {
		c.SetWriteDeadline(time.Now().Add(time.Second))
		io.WriteString(c, "Response: Error\r\nMessage: "+err.Error()+"\r\n\r\n")
		return
	}
	pending := true
	defer func() {
		if pending {
			a.pending.release(src)
		}
	}()
	done := make(chan struct{})
	defer close(done)
	w := bufio.NewWriter(c)
	var wmu sync.Mutex
	write := func(msg string) error {
		wmu.Lock()
		defer wmu.Unlock()
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := w.WriteString(msg); err != nil {
			return err
		}
		return w.Flush()
	}
	if write("Asterisk Call Manager/1.1\r\n") != nil {
		return
	}
	go func() {
		for {
			select {
			case <-done:
				return
			case ev := <-s.events:
				if write(ev) != nil {
					c.Close()
					return
				}
			}
		}
	}()
	r := bufio.NewReaderSize(c, 4096)
	failures := 0
	// A connection that has not logged in within amiLoginWindow of its
	// start is dropped, whatever it sends meanwhile.
	loginBy := time.Now().Add(amiLoginWindow)
	for {
		if s.user == "" {
			c.SetReadDeadline(loginBy)
		} else {
			c.SetReadDeadline(time.Time{})
		}
		msg, err := readAMIMessage(r)
		if err != nil {
			break
		}
		action := strings.ToLower(msg["action"])
		reply := ""
		switch {
		case action == "login":
			if a.login(src, msg["username"], msg["secret"]) {
				s.user = msg["username"]
				s.readSMS = a.readsSMS(s.user)
				if pending {
					a.pending.release(src)
					pending = false
				}
				a.mu.Lock()
				a.sessions[s] = struct{}{}
				a.mu.Unlock()
				reply = amiResponse(msg, "Success", "Message: Authentication accepted")
			} else {
				failures++
				reply = amiResponse(msg, "Error", "Message: Authentication failed")
			}
		case action == "logoff":
			write(amiResponse(msg, "Goodbye", "Message: Thanks for all the fish."))
			a.drop(s)
			return
		case s.user == "":
			reply = amiResponse(msg, "Error", "Message: Authentication Required")
		case action == "ping":
			reply = amiResponse(msg, "Success", "Ping: Pong", "Timestamp: "+strconv.FormatInt(time.Now().Unix(), 10)+".000000")
		case action == "smscommand" || action == "command":
			reply = a.command(s.user, msg)
		default:
			reply = amiResponse(msg, "Error", "Message: Invalid/unknown command")
		}
		if write(reply) != nil || failures >= 3 {
			break
		}
	}
	a.drop(s)
}

func (a *amiServer) drop(s *amiSession) {
	a.mu.Lock()
	delete(a.sessions, s)
	a.mu.Unlock()
}

// login checks a user's secret, counting failures per address: an
// address over max_login_failures is refused without a look at the
// secret until its lock-out ends.
func (a *amiServer) login(src netip.Addr, user, secret string) bool {
	now := time.Now()
	limit := a.cfg.MaxLoginFailures
	if limit == 0 {
		limit = 5
	}
	// An IPv6 /64 is one source (a subscriber takes a new address per
	// guess otherwise). The lock is held from the check to the count, so
	// parallel connections cannot all pass the check before one failure
	// is counted; the comparisons are cheap.
	key := sourceKey(src)
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.fails[key]
	if f != nil && now.After(f.until) && now.Sub(f.first) > amiLockout {
		delete(a.fails, key)
		f = nil
	}
	if f != nil && now.Before(f.until) {
		// Once per lock-out: a locked-out host that reconnected and
		// tried again in a loop wrote a line per try (sixth review).
		if !f.told {
			f.told = true
			a.log.Warn("AMI login refused: too many failures from this address", "src", src, "until", f.until.Format(time.RFC3339))
		}
		return false
	}
	ok := false
	for _, u := range a.cfg.Users {
		// compare every user's secret, so timing tells nothing
		if subtle.ConstantTimeCompare([]byte(u.Username), []byte(user)) == 1 &&
			subtle.ConstantTimeCompare([]byte(u.Secret), []byte(secret)) == 1 {
			ok = true
		}
	}
	if ok {
		return true
	}
	if f == nil && len(a.fails) >= amiFailsMax {
		a.sweepFailsLocked(now, limit)
	}
	if f == nil {
		f = &amiFails{first: now}
		a.fails[key] = f
	}
	f.n++
	if f.n >= limit {
		f.until, f.told = now.Add(amiLockout), false
		a.log.Warn("AMI: address locked out after failed logins", "src", src, "failures", f.n, "user", user)
	} else {
		a.log.Info("AMI login failed", "src", src, "user", user)
	}
	return false
}

// sweepFailsLocked makes room in a full failure table: expired entries
// go, then those below the limit; sources locked out stay locked (before,
// the table was cleared whole, and a locked-out guesser only had to fail
// from 4096 other addresses to go on). Only a table of amiFailsHard
// lock-outs, each bought with limit failures, is cleared. a.mu is held.
func (a *amiServer) sweepFailsLocked(now time.Time, limit int) {
	for k, f := range a.fails {
		if now.After(f.until) && now.Sub(f.first) > amiLockout {
			delete(a.fails, k)
		}
	}
	if len(a.fails) < amiFailsMax {
		return
	}
	for k, f := range a.fails {
		if f.n < limit {
			delete(a.fails, k)
		}
	}
	if len(a.fails) >= amiFailsHard {
		clear(a.fails)
	}
}

// command runs one smscommand for user.
func (a *amiServer) command(user string, msg map[string]string) string {
	args, err := splitAMICommand(msg["command"])
	if err != nil {
		return amiResponse(msg, "Error", "Message: "+err.Error())
	}
	lower := make([]string, len(args))
	for i, x := range args {
		lower[i] = strings.ToLower(x)
	}
	switch {
	case len(args) >= 5 && lower[0] == "gsm" && lower[1] == "send" && lower[2] == "sms":
		return a.sendSMS(user, msg, args[3:])
	case len(args) == 3 && lower[0] == "gsm" && lower[1] == "show" && lower[2] == "spans":
		var b strings.Builder
		for i, s := range a.b.cfg.GSM.SIMs {
			fmt.Fprintf(&b, "GSM span %d: Power on, Provisioned, Up, Active,Standard\r\n", s.Span(i))
		}
		return "Response: Follows\r\nPrivilege: Command\r\n" + amiActionID(msg) + b.String() + "--END COMMAND--\r\n\r\n"
	}
	return amiResponse(msg, "Error", "Message: Command not supported here (gsm send sms, gsm show spans)")
}

// sendSMS runs "gsm send sms <span> <destination> "<message>" [id]"; the
// message may be URL-encoded, as Yeastar's guide advises.
func (a *amiServer) sendSMS(user string, msg map[string]string, args []string) string {
	span, err := strconv.Atoi(args[0])
	if err != nil {
		return amiResponse(msg, "Error", "Message: span must be a number (GSM span 2 is the first SIM)")
	}
	_, idx, ok := a.b.cfg.GSM.SIMBySpan(span)
	if !ok {
		return amiResponse(msg, "Error", fmt.Sprintf("Message: no SIM on span %d (gateway.gsm.sims[].ami_span)", span))
	}
	text := args[2]
	if dec, err := url.QueryUnescape(text); err == nil {
		text = dec
	}
	id := ""
	if len(args) > 3 {
		id = args[3]
	}
	if _, err := a.b.queue(outSMS{sim: idx, to: args[1], text: text, origin: "ami", amiID: id, amiUser: user}); err != nil {
		a.log.Info("AMI: SMS refused", "to", args[1], "err", err)
		return amiResponse(msg, "Error", "Message: "+oneLine(err.Error()))
	}
	return "Response: Follows\r\nPrivilege: Command\r\n" + amiActionID(msg) + "--END COMMAND--\r\n\r\n"
}

// readsSMS says whether user is granted the received SMS. Every AMI user
// got every received SMS (one-time codes too) before: a login for a
// script that only sends read them all (sixth review). As Asterisk does
// with "read =", an event goes to the users granted its class.
func (a *amiServer) readsSMS(user string) bool {
	for _, u := range a.cfg.Users {
		if u.Username == user {
			return u.ReadsSMS()
		}
	}
	return false
}

// warnNoReaders says, once at start, which users get no received SMS:
// the TG200 sent them to every user, and a script moved from one that
// relied on it is then told why it hears nothing.
func (a *amiServer) warnNoReaders() {
	for i, u := range a.cfg.Users {
		if !u.ReadsSMS() {
			a.log.Warn("AMI user gets no received SMS (ReceivedSMS events): grant them with read [\"sms\"] if it should", "user", u.Username, "field", fmt.Sprintf("gateway.gsm.ami.users[%d].read", i))
		}
	}
}

// receivedSMS tells the logged-in sessions granted it of a received SMS.
// The TG200 sent one event per part; netctl hands over whole messages, so
// each comes as one event with Index 1 of Total 1.
func (a *amiServer) receivedSMS(it smsItem, span int) {
	ev := "Event: ReceivedSMS\r\nPrivilege: all,smscommand\r\n" +
		"ID: " + oneLine(it.ID) + "\r\n" +
		"GsmSpan: " + strconv.Itoa(span) + "\r\n" +
		"Sender: " + oneLine(it.From) + "\r\n" +
		"Recvtime: " + it.Time.Local().Format("2006-01-02 15:04:05") + "\r\n" +
		"Index: 1\r\nTotal: 1\r\nSmsc: \r\n" +
		"Content: " + url.QueryEscape(it.Text) + "\r\n" +
		"--END SMS EVENT--\r\n\r\n"
	a.broadcast(ev, func(s *amiSession) bool { return s.readSMS })
}

// sendStatus tells user's sessions the outcome of an SMS it sent with id:
// a script that only sends waits for it (read or not); it carries the
// script's own id and a status, no text or number.
func (a *amiServer) sendStatus(user, id string, delivered bool) {
	st := "0"
	if delivered {
		st = "1"
	}
	if id == "" {
		id = "(null)"
	}
	ev := "Event: UpdateSMSSend\r\nPrivilege: all,smscommand\r\nID: " + oneLine(id) + "\r\nSmsc: \r\nStatus: " + st + "\r\n--END SMS EVENT--\r\n\r\n"
	// to the sender's sessions only: every session got every status, so
	// scripts that number their sends alike took each other's reports
	// (seventh review); a record stored before the user was kept goes to
	// all, as then
	a.broadcast(ev, func(s *amiSession) bool { return user == "" || s.user == user })
}

// broadcast queues ev for the logged-in sessions that to accepts.
func (a *amiServer) broadcast(ev string, to func(*amiSession) bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for s := range a.sessions {
		if !to(s) {
			continue
		}
		select {
		case s.events <- ev:
		default:
			// a session that reads no events is closed, not waited for
			s.conn.Close()
		}
	}
}

func amiResponse(msg map[string]string, resp string, lines ...string) string {
	var b strings.Builder
	b.WriteString("Response: " + resp + "\r\n")
	b.WriteString(amiActionID(msg))
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

func amiActionID(msg map[string]string) string {
	if id, ok := msg["actionid"]; ok {
		return "ActionID: " + oneLine(id) + "\r\n"
	}
	return ""
}

func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// readAMIMessage reads "Key: Value" lines up to a blank line; keys come
// back in lower case (the TG200 takes "command:" and "Command:").
func readAMIMessage(r *bufio.Reader) (map[string]string, error) {
	msg := map[string]string{}
	size := 0
	for {
		// ReadSlice, not ReadString: a line is refused once it passes
		// the bound, not after it ended (a line without end grew in
		// memory for as long as the peer sent it).
		var lb []byte
		for {
			part, err := r.ReadSlice('\n')
			size += len(part)
			if size > maxAMIMessage {
				return nil, errors.New("AMI message too long")
			}
			lb = append(lb, part...)
			if err == nil {
				break
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				return nil, err
			}
		}
		line := strings.TrimRight(string(lb), "\r\n")
		if line == "" {
			if len(msg) == 0 {
				continue
			}
			return msg, nil
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		msg[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
}

// splitAMICommand splits a CLI command line into words; a word in double
// quotes may hold spaces (and \" for a quote).
func splitAMICommand(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inQ, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQ && c == '\\' && i+1 < len(s) && s[i+1] == '"':
			cur.WriteByte('"')
			i++
		case c == '"':
			inQ, have = !inQ, true
		case !inQ && (c == ' ' || c == '\t'):
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if inQ {
		return nil, errors.New("unbalanced quote in command")
	}
	if have {
		out = append(out, cur.String())
	}
	return out, nil
}
