package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"edgebox/api/netapi"
	"edgebox/internal/localapi"
	"edgebox/modem"
	"edgebox/modem/modemsim"
	"edgebox/netctl/openvpn"
)

// TestBrowserPhonePUKOnMobileStep: the SIM came blocked (three wrong PINs
// in a phone: modemsim puklock, a real modem.Modem behind the fake
// netctl's PUK route). The mobile step, where the PIN is typed, shows the
// PUK form with the attempts left; a wrong PUK says so with one attempt
// fewer; the right one unblocks the SIM and its new PIN is stored as
// network.modem.pin. Before, the page had no way to enter a PUK.
func TestBrowserPhonePUKOnMobileStep(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	nc := &fakeNetctl{vpnState: openvpn.StateNoProfile}
	m, sim := pukModem(t)
	showSIM := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st, err := m.SIM(ctx)
		if err != nil {
			t.Errorf("SIM: %v", err)
			return
		}
		var simMap map[string]any
		b, _ := json.Marshal(st)
		json.Unmarshal(b, &simMap)
		state := "connected"
		if st.State != modem.SIMReady {
			state = "sim"
		}
		nc.setModem(map[string]any{"state": state, "sim": simMap})
	}
	showSIM()
	mux := http.NewServeMux()
	mux.Handle("/", nc.handler())
	mux.HandleFunc("POST /v1/modem/puk", func(w http.ResponseWriter, r *http.Request) {
		var req netapi.PUKRequest
		if err := localapi.ReadJSON(r, &req); err != nil {
			localapi.WriteError(w, 400, err)
			return
		}
		err := m.EnterPUK(r.Context(), req.PUK, req.NewPIN)
		showSIM()
		switch {
		case err == nil:
			localapi.WriteJSON(w, 200, netapi.PUKResponse{})
		case errors.Is(err, modem.ErrWrongPUK), errors.Is(err, modem.ErrPUKAlreadyRejected):
			localapi.WriteError(w, 422, err)
		default:
			localapi.WriteError(w, 502, err)
		}
	})
	serveUnix(t, "netctl", mux)
	serveUnix(t, "gateway", fakeGateway())
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	ctx := germanPhone(t)
	do(t, ctx, "login", append(login(httpsURL), waitURL("/wizard/mobile"))...)
	do(t, ctx, "PUK form", chromedp.Navigate(httpsURL+"/wizard/mobile"), chromedp.WaitVisible(chromedp.CSS("#puk-form")),
		waitText("#puk-left", "10"), snap(dir, "95-puk-de"))
	do(t, ctx, "a short PUK", chromedp.SendKeys(chromedp.CSS("#puk-code"), "1234"), chromedp.SendKeys(chromedp.CSS("#puk-pin"), "4321"),
		chromedp.Click(chromedp.CSS("#puk-submit")), waitText(`#puk-form [data-for="puk"]`, "8 Ziffern"))
	do(t, ctx, "wrong PUK", chromedp.SetValue(chromedp.CSS("#puk-code"), "8765 4321"),
		chromedp.Click(chromedp.CSS("#puk-submit")), waitText("#puk-form .notice", "noch 9 PUK-Versuche"), snap(dir, "96-puk-wrong-de"))
	do(t, ctx, "the same wrong PUK again", chromedp.Click(chromedp.CSS("#puk-submit")), waitText("#puk-form .notice", "schon abgelehnt"))
	if n := sim.CountCommand(`AT+CPIN="87654321"`); n != 1 {
		t.Errorf("the wrong PUK reached the card %d times, want once", n)
	}
	do(t, ctx, "right PUK", chromedp.SetValue(chromedp.CSS("#puk-code"), "12345678"),
		chromedp.Click(chromedp.CSS("#puk-submit")), waitText("#puk-form .notice", "SIM entsperrt"), snap(dir, "97-puk-ok-de"))
	if v := storedAt(t, e, "network.modem.pin"); v != "4321" {
		t.Errorf("new PIN stored as %v, want 4321", v)
	}
	do(t, ctx, "no PUK form once unblocked", chromedp.Navigate(httpsURL+"/wizard/mobile"), chromedp.WaitVisible(chromedp.CSS("#step-form")))
	if strings.Contains(textOf(ctx, "main"), "PUK") {
		t.Errorf("the PUK form is still shown after the SIM was unblocked")
	}
}

// pukModem is a real modem.Modem on a simulated card whose SIM is blocked.
func pukModem(t *testing.T) (*modem.Modem, *modemsim.Sim) {
	t.Helper()
	sim, err := modemsim.New(modemsim.Config{Profile: "generic", BootTime: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithCancel(context.Background())
	path, wait, err := sim.ServePTY(sctx)
	if err != nil {
		scancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { scancel(); wait() })
	if _, err := sim.Control("puklock"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := modem.Open(ctx, modem.Options{Device: modem.Device{Port: path, Profile: "generic"}, CommandTimeout: 3 * time.Second,
		SMSDir: filepath.Join(t.TempDir(), "sms")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, sim
}
