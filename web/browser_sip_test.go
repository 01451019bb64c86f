package web

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"edgebox/gateway"
	"edgebox/internal/config"
	"edgebox/internal/testenv"
	"edgebox/netctl/openvpn"
)

// sippOptionsUAS answers one OPTIONS with 200 OK, then SIPp exits.
const sippOptionsUAS = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="options uas">
  <recv request="OPTIONS" />
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag[call_number]
[last_Call-ID:]
[last_CSeq:]
Server: SIPp options test
Content-Length: 0

]]></send>
</scenario>
`

// The SIP test button on the phone: a real gateway sends OPTIONS to a real
// SIPp as the PBX and the page shows its status line and round trip; once
// SIPp has gone, the same button says the port is closed (issue 24).
func TestBrowserPhoneSIPTest(t *testing.T) {
	bin, err := exec.LookPath("sipp")
	if err != nil {
		t.Skip("sipp not installed (Debian package sip-tester)")
	}
	dir := t.TempDir()
	scen := filepath.Join(dir, "options.xml")
	os.WriteFile(scen, []byte(sippOptionsUAS), 0o644)
	port := testenv.FreePort(t)
	sipp := exec.Command(bin, "-sf", scen, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "1", "-nostdin", "-timeout", "90s", "-timeout_error")
	sipp.Dir, sipp.Stdout, sipp.Stderr = dir, io.Discard, io.Discard
	if err := sipp.Start(); err != nil {
		t.Fatal(err)
	}
	sippDone := make(chan struct{})
	go func() { sipp.Wait(); close(sippDone) }()
	t.Cleanup(func() {
		select {
		case <-sippDone:
		default:
			sipp.Process.Kill()
			<-sippDone
		}
	})
	pbx := fmt.Sprintf("127.0.0.1:%d", port)

	gc := config.DefaultGateway()
	gc.Enabled = true
	gc.PBX.Address = pbx
	gc.SIP.Listen = []config.GatewaySIPListen{{Transport: "udp", Address: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gc.Portal.Listen, gc.Portal.PlainHTTP = tl.Addr().String(), true
	tl.Close()
	gc.Media.ICEPort, gc.Media.ICEAddress, gc.Media.PublicAddress, gc.Media.RTPAddress = testenv.FreePort(t), "127.0.0.1", "127.0.0.1", "127.0.0.1"
	rtp := testenv.FreePort(t) &^ 1
	gc.Media.RTPPortMin, gc.Media.RTPPortMax = rtp, rtp+9

	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	svc, err := gateway.New(gc, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("gateway: %v", err)
	}
	t.Cleanup(svc.Close)
	serveUnix(t, "netctl", (&fakeNetctl{vpnState: openvpn.StateConnected}).handler())
	serveUnix(t, "gateway", svc.APIHandler())
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	shots := phoneScreens(t)
	ctx := phone(t)
	do(t, ctx, "admin", append(login(httpsURL), waitURL("/wizard/mobile"), chromedp.Navigate(httpsURL+"/admin"), chromedp.WaitVisible(chromedp.CSS("#test-sip")))...)

	do(t, ctx, "sip test", chromedp.Click(chromedp.CSS("#test-sip")), waitText("#diag-form pre.out", "round trip"), snap(shots, "73-test-sip-ok"))
	out := textOf(ctx, "#diag-form pre.out")
	if !strings.Contains(out, "SIP OPTIONS to "+pbx) || !strings.Contains(out, "answer: 200 OK from SIPp options test") || !strings.Contains(out, "the PBX answers") {
		t.Errorf("SIP test against SIPp:\n%s", out)
	}
	select {
	case <-sippDone:
	case <-time.After(60 * time.Second):
		t.Fatal("SIPp did not finish after its one OPTIONS")
	}
	do(t, ctx, "sip test, no PBX", chromedp.Click(chromedp.CSS("#test-sip")), waitText("#diag-form pre.out", "refused"), snap(shots, "74-test-sip-refused"))
	if out := textOf(ctx, "#diag-form pre.out"); !strings.Contains(out, "port is closed") || strings.Contains(out, "round trip") || strings.Contains(out, "connection refused:") {
		t.Errorf("SIP test, nothing at the PBX address:\n%s", out)
	}
}
