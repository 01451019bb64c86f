package web

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"edgebox/internal/config"
	"edgebox/netctl/openvpn"
)

// The Signal page says which slot holds the modem, how that is known, and
// why not when it is not (issue 24: SIM details, which SIM slot).
func TestBrowserPhoneSignalSlot(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	nc := &fakeNetctl{slot: map[string]any{"name": "mPCIe 2", "sim": "J14", "source": "usb-guessed", "usb": "USB port 1.3 of 0000:00:12.0"}}
	serveUnix(t, "netctl", nc.handler())
	serveUnix(t, "gateway", fakeGateway())
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	ctx := phone(t)
	do(t, ctx, "login", append(login(httpsURL), waitURL("/wizard/mobile"))...)
	do(t, ctx, "slot from USB", chromedp.Navigate(httpsURL+"/signal"), waitText("#sim-slot", "mPCIe 2"), snap(dir, "53-signal-slot"))
	if got := textOf(ctx, "#sim-slot"); !strings.Contains(got, "SIM J14") || !strings.Contains(got, "guessed from its USB port") || strings.Contains(got, "not reported") {
		t.Errorf("slot %q, want mPCIe 2 with its SIM holder and that it is guessed", got)
	}
	// The installer set it; then a modem on an outside USB port.
	nc.mu.Lock()
	nc.slot = map[string]any{"name": "mPCIe 1", "sim": "J13", "source": "config"}
	nc.mu.Unlock()
	do(t, ctx, "slot from config", waitText("#sim-slot", "mPCIe 1"), waitText("#sim-slot", "set in the config"))
	nc.mu.Lock()
	nc.slot = map[string]any{"name": "unknown", "usb": "USB port 2 of 0000:00:10.0", "reason": "the modem is on USB port 2 of 0000:00:10.0, which is no mini-PCIe slot of this board; set network.modem.slot if you know it"}
	nc.mu.Unlock()
	do(t, ctx, "slot unknown", waitText("#sim-slot", "unknown"), waitText("#sim-slot", "no mini-PCIe slot"), snap(dir, "54-signal-slot-unknown"))

	// An installer who knows better sets the slot on the Mobile step.
	sel := `[data-path="network.modem.slot"]`
	do(t, ctx, "set the slot", chromedp.Navigate(httpsURL+"/wizard/mobile"), chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.SetValue(chromedp.CSS(`[data-path="network.modem.apn"]`), "internet"),
		chromedp.SetValue(chromedp.CSS(sel), "mpcie2"), chromedp.Click(chromedp.CSS("#step-submit")),
		waitText("#step-form .notice", "Saved"), snap(dir, "55-wizard-slot-set"))
	c, err := config.Load(e.srv.opt.ConfigPath)
	if err != nil || c.Network.Modem.Slot != "mpcie2" {
		t.Fatalf("stored slot %q (%v), want mpcie2", c.Network.Modem.Slot, err)
	}
	do(t, ctx, "slot shown", chromedp.Navigate(httpsURL+"/wizard/mobile"), chromedp.WaitVisible(chromedp.CSS(sel)))
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel))); v != "mpcie2" {
		t.Errorf("the Mobile step shows slot %q, want the stored mpcie2", v)
	}
}

// The VPN step shows what the profile import changed or warns about and
// openvpn's reason for the tunnel's state (issue 24: no step where an
// installer has to guess).
func TestBrowserPhoneVPNNotes(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	notes := []string{
		`office.ovpn line 7: "comp-lzo" dropped: compression is refused by openvpn 2.6 (VORACLE)`,
		"converted for openvpn 2.6: cipher BF-CBC became data-ciphers AES-256-GCM:AES-128-GCM:BF-CBC",
		"openvpn warns: DEPRECATED OPTION: --cipher set to 'BF-CBC' but missing in --data-ciphers",
	}
	nc := &fakeNetctl{vpnState: openvpn.StateNoProfile, vpnNotes: notes, vpnDetail: "SUCCESS"}
	serveUnix(t, "netctl", nc.handler())
	serveUnix(t, "gateway", fakeGateway())
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	ctx := phone(t)
	profile := filepath.Join(t.TempDir(), "office.ovpn")
	os.WriteFile(profile, []byte("client\ndev tun\nremote vpn.example.net 1194\ncipher BF-CBC\ncomp-lzo\n"), 0o600)
	do(t, ctx, "login", append(login(httpsURL), waitURL("/wizard/mobile"))...)
	do(t, ctx, "vpn step before", chromedp.Navigate(httpsURL+"/wizard/vpn"), waitText("#vpn-now", "none yet"))
	// A mark on this page's window: a reload would lose it.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.sameVPNPage = true`)); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "upload", chromedp.SetUploadFiles(chromedp.CSS("#profile"), []string{profile}), chromedp.Click(chromedp.CSS("#step-submit")),
		waitText("#vpn-form .notice", "data-ciphers"), snap(dir, "23-vpn-upload-notes"))
	if got := textOf(ctx, "#vpn-form .notice"); !strings.Contains(got, "comp-lzo") || !strings.Contains(got, "DEPRECATED OPTION") {
		t.Errorf("upload notice %q lacks the import notes", got)
	}
	// The "now" card follows the upload on the same page: the tunnel's
	// state, the profile and its notes, without a reload.
	do(t, ctx, "vpn now refreshed", waitText("#vpn-state", "connected"), waitText("#vpn-now", "office.ovpn"),
		waitText("#vpn-notes", "DEPRECATED OPTION"), snap(dir, "23b-vpn-now-after-upload"))
	if got := textOf(ctx, "#vpn-state"); got != "connected" || !hasClass(ctx, "#vpn-state", "ok") {
		t.Errorf("VPN state pill %q after the upload, want a green connected", got)
	}
	if same, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.sameVPNPage === true`)); !same {
		t.Error("the VPN card was refreshed by reloading the page")
	}
	if got := textOf(ctx, "#vpn-form .notice"); !strings.Contains(got, "data-ciphers") {
		t.Errorf("the upload's notice is gone after the card's refresh: %q", got)
	}
	do(t, ctx, "vpn step after", chromedp.Navigate(httpsURL+"/wizard/vpn"), waitText("#vpn-notes", "DEPRECATED OPTION"), snap(dir, "24-vpn-notes"))
	if got := textOf(ctx, "#vpn-detail"); !strings.Contains(got, "SUCCESS") {
		t.Errorf("openvpn's detail %q, want SUCCESS", got)
	}
	if got := textOf(ctx, "#vpn-notes"); strings.Count(got, "\n") < 2 || !strings.Contains(got, "comp-lzo") {
		t.Errorf("notes %q, want all three", got)
	}
	do(t, ctx, "dashboard", chromedp.Navigate(httpsURL+"/dashboard"), waitText("#card-vpn", "BF-CBC"))
}
