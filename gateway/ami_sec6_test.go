package gateway_test

import (
	"fmt"
	"testing"
	"time"

	"edgebox/internal/config"
)

// TestSec6AMIReceivedSMSOnlyToGrantedUsers: every AMI user got every
// received SMS (one-time login codes too), also a login made for a script
// that only sends. As Asterisk's "read =" does, ReceivedSMS now goes only
// to users granted the class (read: ["sms"] or ["all"]); a user without
// it still sends and hears how its own sends went. Sixth review, left
// item.
func TestSec6AMIReceivedSMSOnlyToGrantedUsers(t *testing.T) {
	n := startNetctlGSM(t)
	cfg := smsConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	cfg.GSM.SIMs[0].SMS.MessageURI = ""
	addr := amiConfig(t, &cfg)
	cfg.GSM.AMI.Users = []config.GSMAMIUser{
		{Username: "pbx", Secret: "pbx-secret-1", Read: []string{"sms"}},
		{Username: "alarm", Secret: "alarm-secret-1"}, // sends only
	}
	startGateway(t, cfg)

	login := func(user, secret string) *amiClient {
		c := dialAMI(t, addr)
		c.send("Action: Login", "Username: "+user, "Secret: "+secret)
		c.expect(user+"'s login", "Response: Success")
		return c
	}
	pbx, alarm := login("pbx", "pbx-secret-1"), login("alarm", "alarm-secret-1")

	n.receive("sms-1", "+4917099999", "Your code is 493817", 1)
	pbx.expect("received SMS for the granted user", "Event: ReceivedSMS", "Sender: +4917099999")

	// The alarm script's events come in order: its own send's outcome,
	// queued after the SMS, must come with no ReceivedSMS before it. Every
	// message it gets is read here (expect would skip the others).
	alarm.send("Action: smscommand", `command: gsm send sms 2 +4915550003 "door open" 5`)
	waitFor(t, 10*time.Second, "SMS at netctl", func() bool { return len(n.sentSMS()) == 1 })
	n.report(1, "+4915550003", "delivered")
	for range 20 {
		msg, err := alarm.next(10 * time.Second)
		if err != nil {
			t.Fatalf("alarm: no UpdateSMSSend for its own send: %v", err)
		}
		if amiField(msg, "Event") == "ReceivedSMS" {
			t.Fatalf("a user without read sms got the received SMS: %q", msg)
		}
		if amiField(msg, "Event") == "UpdateSMSSend" && amiField(msg, "ID") == "5" {
			return
		}
	}
	t.Fatal("alarm: 20 messages without its UpdateSMSSend")
}
