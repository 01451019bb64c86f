package gateway_test

import (
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// Kamailio as the PBX (the shared test registrar and authenticating
// proxy): the box's MESSAGE for a received SMS is challenged (407),
// answered with the trunk's account, and relayed to the SMS application
// (SIPp behind Kamailio's static route for "sms"), From the sender, To
// the SIM, the text whole.
func TestGSMSMSThroughKamailio(t *testing.T) {
	n := startNetctlGSM(t)
	app := startSIPp(t, "uas_sms_message", 1)
	k := testenv.Kamailio(t, nil, testenv.KamailioOptions{
		Users:  map[string]string{"trunkuser": "trunk-secret"},
		Static: map[string]string{"sms": app.addr()},
	})
	cfg := smsConfig(t, k.Addr())
	cfg.Trunk.Username, cfg.Trunk.Password, cfg.Trunk.Register = "trunkuser", "trunk-secret", true
	cfg.GSM.SIMs[0].SMS.MessageURI = "sip:sms@" + k.Host
	startGateway(t, cfg)
	text := "Über Kamailio: Grüße 😀"
	n.receive("k1", "+4915550001", text, 1)
	// Kamailio relays only what passed its digest check (and strips the
	// credentials): the MESSAGE arriving at all shows the answer was right
	app.wait(t, 30*time.Second)
	log := sippMessages(app)
	for _, want := range []string{text, "From: <sip:+4915550001@", "To: <sip:" + simNumber + "@"} {
		if !strings.Contains(log, want) {
			t.Errorf("the SMS application behind Kamailio got no %q", want)
		}
	}
}
