package gateway_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBrowserEarlyMediaThenOtherCodec: the PBX's 183 takes PCMU (the
// announcement), its 200 PCMA (the agent's phone), both offered by the
// browser. Before, the 200's codec was ignored: the box went on sending
// PCMU to a PBX that had agreed to PCMA. Now the browser is renegotiated
// to PCMA, as for a re-INVITE, and audio keeps flowing.
func TestBrowserEarlyMediaThenOtherCodec(t *testing.T) {
	t.Parallel()
	forEachStack(t, testBrowserEarlyMediaThenOtherCodec)
}

func testBrowserEarlyMediaThenOtherCodec(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "sipp", "uas_early.xml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	i := strings.LastIndex(s, "m=audio [media_port] RTP/AVP 0 101\n      a=rtpmap:0 PCMU/8000") // the 200's
	if i < 0 || !strings.Contains(s[i-1200:i], "200 OK") {
		t.Fatal("uas_early.xml: no PCMU media line in its 200")
	}
	s = s[:i] + "m=audio [media_port] RTP/AVP 8 101\n      a=rtpmap:8 PCMA/8000" + s[i+len("m=audio [media_port] RTP/AVP 0 101\n      a=rtpmap:0 PCMU/8000"):]
	scenario := filepath.Join(t.TempDir(), "uas_early_pcma.xml")
	if err := os.WriteFile(scenario, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	browserCallEndsOnPCMA(t, scenario, "the PBX's 200")
}
