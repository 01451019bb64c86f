package gateway_test

import (
	"context"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"
)

// Early media from an announcement server, then the agent: the 183's SDP
// names one port (the test's announcer, which goes on sending its stream
// after the answer, as media servers do for a moment), the 200's another
// (SIPp's echo). The customer hears the announcement before the answer;
// after it the box sends to the agent and keeps doing so though the
// announcer's packets come from the same address: they are the old
// stream, not the PBX behind NAT (rtplatch.go).
func TestEarlyMediaThenAnswerElsewhere(t *testing.T) {
	t.Parallel()
	forEachStack(t, testEarlyMediaThenAnswerElsewhere)
}

func testEarlyMediaThenAnswerElsewhere(t *testing.T) {
	ann, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ann.Close() })
	uas := startSIPp(t, earlyElsewhereScenario(t, ann.LocalAddr().(*net.UDPAddr).Port), 1)
	svc := startGateway(t, testConfig(t, uas.addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tok, wsURL := authorize(t, svc, testFrom, "sip:agent@127.0.0.1", testContext)
	c, err := client.Dial(ctx, wsURL, tok, client.Options{LoopbackOnly: true})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.WaitEvent(ctx, gateway.EventEarlyMedia); err != nil {
		t.Fatal(err)
	}
	box := ""
	if calls := svc.Snapshot(); len(calls) == 1 {
		box = calls[0].PBX.Local
	}
	dst, err := net.ResolveUDPAddr("udp", box)
	if err != nil {
		t.Fatalf("box media address %q: %v", box, err)
	}
	var stop atomic.Bool
	t.Cleanup(func() { stop.Store(true) })
	go announce(ann, dst, &stop)
	c.StartAudio(ctx, 0)
	waitFor(t, 15*time.Second, "the announcement heard before the answer", func() bool { return c.Stats().Received >= 10 })
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	waitEchoed(t, c, 20) // the agent (SIPp) gets the customer's audio
	c.Hangup(ctx)
	c.WaitEvent(ctx, gateway.EventEnded)
	uas.wait(t, 15*time.Second)
}

// announce sends PCMU silence every 20 ms from conn to dst until stop
// (bounded: 60 s).
func announce(conn *net.UDPConn, dst *net.UDPAddr, stop *atomic.Bool) {
	pkt := make([]byte, 12+160)
	pkt[0] = 0x80
	binary.BigEndian.PutUint32(pkt[8:], 0xa11ce)
	for i := range 160 {
		pkt[12+i] = 0xff
	}
	for i := 0; i < 3000 && !stop.Load(); i++ {
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		binary.BigEndian.PutUint32(pkt[4:], uint32(i*160))
		if _, err := conn.WriteToUDP(pkt, dst); err != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// earlyElsewhereScenario is uas_early with the 183's media at port.
func earlyElsewhereScenario(t *testing.T, port int) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "sipp", "uas_early.xml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	i := strings.Index(s, "m=audio [media_port]") // the 183's
	if i < 0 || !strings.Contains(s[:i], "183 Session Progress") {
		t.Fatal("uas_early.xml: no media line in its 183")
	}
	s = s[:i] + "m=audio " + strconv.Itoa(port) + s[i+len("m=audio [media_port]"):]
	p := filepath.Join(t.TempDir(), "uas_early_elsewhere.xml")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
