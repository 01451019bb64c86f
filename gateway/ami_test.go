package gateway_test

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"edgebox/internal/config"
	"edgebox/internal/testenv"
)

// amiClient speaks the manager protocol as Yeastar's "How to Use TG SMS
// API" describes it: a banner line, then messages of "Key: Value" lines
// ended by a blank line, both ways.
type amiClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialAMI(t *testing.T, addr string) *amiClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("AMI: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	a := &amiClient{t: t, conn: c, r: bufio.NewReader(c)}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	banner, err := a.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(banner, "Asterisk Call Manager/") {
		t.Fatalf("AMI banner %q %v", banner, err)
	}
	return a
}

func (a *amiClient) send(lines ...string) {
	a.t.Helper()
	if _, err := a.conn.Write([]byte(strings.Join(lines, "\r\n") + "\r\n\r\n")); err != nil {
		a.t.Fatalf("AMI write: %v", err)
	}
}

// next reads one message (its lines, without the blank one).
func (a *amiClient) next(d time.Duration) ([]string, error) {
	a.conn.SetReadDeadline(time.Now().Add(d))
	var lines []string
	for {
		l, err := a.r.ReadString('\n')
		if err != nil {
			return lines, err
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "" {
			if len(lines) == 0 {
				continue
			}
			return lines, nil
		}
		lines = append(lines, l)
	}
}

// expect reads messages until one holds every want line.
func (a *amiClient) expect(what string, want ...string) []string {
	a.t.Helper()
	end := time.Now().Add(10 * time.Second)
	for time.Now().Before(end) {
		msg, err := a.next(time.Until(end))
		if err != nil {
			a.t.Fatalf("AMI: no %s: %v (last %q)", what, err, msg)
		}
		all := true
		for _, w := range want {
			found := false
			for _, l := range msg {
				found = found || l == w
			}
			all = all && found
		}
		if all {
			return msg
		}
	}
	a.t.Fatalf("AMI: no %s within 10 s", what)
	return nil
}

func amiField(msg []string, key string) string {
	for _, l := range msg {
		if k, v, ok := strings.Cut(l, ": "); ok && k == key {
			return v
		}
	}
	return ""
}

func amiConfig(t *testing.T, cfg *config.Gateway) string {
	port := freePort(t, "tcp")
	cfg.GSM.AMI = config.GSMAMI{Enabled: true, Port: port, Interfaces: []string{"ebnone*"}, MaxLoginFailures: 3,
		Users: []config.GSMAMIUser{{Username: "apiuser", Secret: "apipass-123", Read: []string{"sms"}}}}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// The TG200's SMS subset: login, gsm send sms (through the allow-list),
// UpdateSMSSend when the report comes, ReceivedSMS for received SMS,
// and the lock-out after failed logins.
func TestAMISMS(t *testing.T) {
	n := startNetctlGSM(t)
	cfg := smsConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	cfg.GSM.SIMs[0].SMS.MessageURI = ""
	addr := amiConfig(t, &cfg)
	startGateway(t, cfg)

	a := dialAMI(t, addr)
	a.send("Action: smscommand", "command: gsm show spans")
	a.expect("refusal before login", "Response: Error", "Message: Authentication Required")
	a.send("Action: Login", "Username: apiuser", "Secret: wrong-secret")
	a.expect("failed login", "Response: Error", "Message: Authentication failed")
	a.send("Action: Login", "Username: apiuser", "Secret: apipass-123")
	a.expect("login", "Response: Success", "Message: Authentication accepted")

	a.send("Action: smscommand", "command: gsm show spans")
	a.expect("span list", "Response: Follows", "GSM span 2: Power on, Provisioned, Up, Active,Standard", "--END COMMAND--")

	text := "Hallo Welt, schöne Grüße 😀"
	a.send("Action: smscommand", fmt.Sprintf(`command: gsm send sms 2 +4915550003 "%s" 77`, url.QueryEscape(text)))
	a.expect("send accepted", "Response: Follows", "--END COMMAND--")
	waitFor(t, 10*time.Second, "SMS at netctl", func() bool { return len(n.sentSMS()) == 1 })
	if s := n.sentSMS()[0]; s.To != "+4915550003" || s.Text != text {
		t.Errorf("netctl asked to send %+v, want %q to +4915550003", s, text)
	}
	n.report(1, "+4915550003", "delivered")
	a.expect("delivery event", "Event: UpdateSMSSend", "ID: 77", "Status: 1")

	a.send("Action: smscommand", `command: gsm send sms 2 +4990012345678 "win a prize" 78`)
	msg := a.expect("premium refused", "Response: Error")
	if !strings.Contains(amiField(msg, "Message"), "premium") {
		t.Errorf("refusal says %q, want the premium rule", amiField(msg, "Message"))
	}
	a.send("Action: smscommand", `command: gsm send sms 9 +4915550003 "x" 79`)
	a.expect("unknown span refused", "Response: Error", "Message: no SIM on span 9 (gateway.gsm.sims[].ami_span)")

	n.receive("sms-9", "+4917099999", "Termin morgen um 9? Grüße", 1)
	ev := a.expect("received SMS event", "Event: ReceivedSMS", "GsmSpan: 2", "Sender: +4917099999", "Index: 1", "Total: 1")
	if c, err := url.QueryUnescape(amiField(ev, "Content")); err != nil || c != "Termin morgen um 9? Grüße" {
		t.Errorf("Content %q decodes to %q %v", amiField(ev, "Content"), c, err)
	}
	if amiField(ev, "Recvtime") == "" || !strings.HasSuffix(ev[len(ev)-1], "--END SMS EVENT--") {
		t.Errorf("event %q", ev)
	}
	if s := n.sentSMS(); len(s) != 1 {
		t.Errorf("refused SMS reached netctl: %+v", s)
	}

	// two more failures from this address (three in all) lock it out:
	// then even the right secret is refused
	for i := 0; i < 2; i++ {
		b := dialAMI(t, addr)
		b.send("Action: Login", "Username: apiuser", "Secret: guess"+fmt.Sprint(i))
		b.expect("failed login", "Response: Error", "Message: Authentication failed")
	}
	c := dialAMI(t, addr)
	c.send("Action: Login", "Username: apiuser", "Secret: apipass-123")
	c.expect("locked-out login", "Response: Error", "Message: Authentication failed")
}

// amiBanner dials addr from namespace ns and reads the banner.
func amiBanner(ns, addr string) (string, error) {
	var banner string
	err := testenv.DoIn(ns, func() error {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		banner, err = bufio.NewReader(c).ReadString('\n')
		return err
	})
	return banner, err
}

// TestAMIOnlyOnLANAndVPN: the AMI answers a LAN host; an uplink
// neighbour reaches it neither at the uplink's address nor at the LAN
// address routed over the uplink.
func TestAMIOnlyOnLANAndVPN(t *testing.T) {
	r := newSIPIfRig(t, "amiif")
	startNetctlGSM(t) // its socket is reached from any namespace
	cfg := smsConfig(t, "10.78.1.2:5060")
	cfg.GSM.SIMs[0].SMS.MessageURI = ""
	amiConfig(t, &cfg)
	cfg.GSM.AMI.Port = 5038
	cfg.GSM.AMI.Interfaces = nil // the defaults: lan*, br-lan*, tun*, tap*
	startGatewayIn(t, r.box, cfg)
	var banner string
	waitFor(t, 10*time.Second, "AMI banner on the LAN", func() bool {
		b, err := amiBanner(r.lan, "10.78.1.1:5038")
		banner = b
		return err == nil
	})
	if !strings.HasPrefix(banner, "Asterisk Call Manager/1.1") {
		t.Errorf("LAN banner %q", banner)
	}
	for _, addr := range []string{"10.78.2.1:5038", "10.78.1.1:5038"} {
		if b, err := amiBanner(r.inet, addr); err == nil {
			t.Errorf("an uplink neighbour reached the AMI at %s: %q", addr, b)
		}
	}
}
