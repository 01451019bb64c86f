package gateway_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/config"
)

// Third review: the PBX's SDP names where the box sends RTP and RTCP, and
// a PBX that passes SDP through lets the far end name it; the payload is
// the caller's audio, which a crafted WebRTC client chooses. Before, the
// box sent to any address: here the PBX (SIPp on 10.79.9.1, in its own
// namespace) answers "c=IN IP4 127.0.0.1, m=audio 40990", and the box
// streamed the call into a UDP service on its own loopback. The gateway
// and the browser run in a helper process inside the box's namespace,
// which also listens on 127.0.0.1:40990 and counts what arrives.
func TestSecPBXMediaNotIntoTheBox(t *testing.T) {
	rig := newNetnsRig(t, "pbxmed")
	box, pbx := rig.ns("box"), rig.ns("pbx")
	rig.link(box, "wan0", "10.79.1.2/24", pbx, "wan", "10.79.1.1/24")
	rig.ip("-n", pbx, "addr", "add", "10.79.9.1/32", "dev", "lo")
	rig.ip("-n", box, "route", "add", "default", "via", "10.79.1.1")

	raw, err := os.ReadFile(filepath.Join("testdata", "sipp", "uas_echo.xml"))
	if err != nil {
		t.Fatal(err)
	}
	sc := strings.Replace(string(raw), "c=IN IP[media_ip_type] [media_ip]", "c=IN IP4 127.0.0.1", 1)
	sc = strings.Replace(sc, "m=audio [media_port] RTP/AVP", "m=audio 40990 RTP/AVP", 1)
	scenario := filepath.Join(t.TempDir(), "uas_media_loopback.xml")
	if err := os.WriteFile(scenario, []byte(sc), 0o644); err != nil {
		t.Fatal(err)
	}
	agent := startSIPpAt(t, pbx, "10.79.9.1", scenario, 1)
	cmd := exec.Command("ip", "netns", "exec", box, os.Args[0], "-test.run", "^TestHelperPBXMediaLoopback$", "-test.v")
	cmd.Env = append(os.Environ(), "EDGEBOX_PBXMEDIA_PBX="+agent.addr())
	out, err := runBounded(cmd, 90*time.Second)
	if err != nil || !strings.Contains(out, "--- PASS: TestHelperPBXMediaLoopback") {
		t.Fatalf("the call in the box's namespace: %v\n%s", err, out)
	}
}

// TestHelperPBXMediaLoopback is the process TestSecPBXMediaNotIntoTheBox
// starts in the box's namespace.
func TestHelperPBXMediaLoopback(t *testing.T) {
	pbxAddr := os.Getenv("EDGEBOX_PBXMEDIA_PBX")
	if pbxAddr == "" {
		t.Skip("helper process of TestSecPBXMediaNotIntoTheBox")
	}
	victim, err := net.ListenPacket("udp4", "127.0.0.1:40990")
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	got := make(chan int, 1)
	go func() {
		n := 0
		buf := make([]byte, 2048)
		for {
			victim.SetReadDeadline(time.Now().Add(8 * time.Second))
			if _, _, err := victim.ReadFrom(buf); err != nil {
				got <- n
				return
			}
			n++
		}
	}()

	cfg := testConfig(t, pbxAddr)
	cfg.SIP.Listen = []config.GatewaySIPListen{{Transport: "udp", Address: "0.0.0.0:5060"}}
	cfg.Media.RTPAddress = ""
	svc := startGateway(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "sip:agent@10.79.9.1")
	// Before the fix the call was answered and its audio went to the
	// victim; after it the PBX's answer is refused and the call ends.
	ev, err := c.WaitEvent(ctx, gateway.EventAnswered)
	t.Logf("call: %+v %v", ev, err)
	if err == nil {
		c.StartAudio(ctx, 150)
		time.Sleep(4 * time.Second)
	}
	c.Close()
	if n := <-got; n > 0 {
		t.Fatalf("the box sent %d packets of the call to 127.0.0.1:40990, the address the PBX's answer named", n)
	}
}
