package gateway_test

import (
	"fmt"
	"testing"
	"time"

	"edgebox/internal/config"
)

// TestSec7AMISendStatusOnlyToTheSender: docs/gsm-gateway.md says every AMI
// user "gets UpdateSMSSend, which carries the sender's own ID", but the
// event went to every logged-in session: each script saw how the others'
// SMS went, and two scripts that both number their sends from 1 took each
// other's delivery reports for their own (a failed SMS of one reported
// delivered to the other). Now the status of a send goes to the sessions
// of the AMI user that sent it. Seventh review.
func TestSec7AMISendStatusOnlyToTheSender(t *testing.T) {
	n := startNetctlGSM(t)
	cfg := smsConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	cfg.GSM.SIMs[0].SMS.MessageURI = ""
	addr := amiConfig(t, &cfg)
	cfg.GSM.AMI.Users = []config.GSMAMIUser{
		{Username: "pbx", Secret: "pbx-secret-1", Read: []string{"all"}},
		{Username: "alarm", Secret: "alarm-secret-1"},
	}
	startGateway(t, cfg)
	login := func(user, secret string) *amiClient {
		c := dialAMI(t, addr)
		c.send("Action: Login", "Username: "+user, "Secret: "+secret)
		c.expect(user+"'s login", "Response: Success")
		return c
	}
	pbx, alarm := login("pbx", "pbx-secret-1"), login("alarm", "alarm-secret-1")

	alarm.send("Action: smscommand", `command: gsm send sms 2 +4915550003 "door open" 5`)
	waitFor(t, 10*time.Second, "alarm's SMS at netctl", func() bool { return len(n.sentSMS()) == 1 })
	n.report(1, "+4915550003", "failed")
	pbx.send("Action: smscommand", `command: gsm send sms 2 +4915550004 "hello" 5`)
	waitFor(t, 10*time.Second, "pbx's SMS at netctl", func() bool { return len(n.sentSMS()) == 2 })
	n.report(2, "+4915550004", "delivered")

	// statuses reads c's UpdateSMSSend events until it has want of them or
	// none comes for 2 s.
	statuses := func(c *amiClient, want int) []string {
		var got []string
		for range 20 {
			msg, err := c.next(2 * time.Second)
			if err != nil {
				break
			}
			if amiField(msg, "Event") == "UpdateSMSSend" {
				got = append(got, amiField(msg, "ID")+":"+amiField(msg, "Status"))
				if len(got) > want {
					break
				}
			}
		}
		return got
	}
	if got := statuses(alarm, 1); len(got) != 1 || got[0] != "5:0" {
		t.Errorf("alarm's send statuses: %q, want only its own failed send [5:0]", got)
	}
	if got := statuses(pbx, 1); len(got) != 1 || got[0] != "5:1" {
		t.Errorf("pbx's send statuses: %q, want only its own delivered send [5:1]", got)
	}
}
