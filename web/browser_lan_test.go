package web

import (
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"edgebox/internal/localapi"
)

// leasesNetctl is the fake netctl with a LAN that has handed out several
// addresses, one to a phone with a long name, one to a device without one.
func leasesNetctl(nc *fakeNetctl) http.Handler {
	m := http.NewServeMux()
	m.Handle("/", nc.handler())
	m.HandleFunc("GET /v1/leases", func(w http.ResponseWriter, r *http.Request) {
		until := time.Now().Add(12 * time.Hour)
		localapi.WriteJSON(w, 200, map[string]any{
			"servers": []any{map[string]any{"interface": "eth0", "first": "192.168.1.100", "last": "192.168.1.199", "lease_sec": 43200, "running": true}},
			"leases": []any{
				map[string]any{"interface": "eth0", "mac": "3a:5c:11:90:ab:cd", "address": "192.168.1.100", "hostname": "installer-phone", "expires": until},
				map[string]any{"interface": "eth0", "mac": "f4:8c:50:12:34:56", "address": "192.168.1.142", "hostname": "Marias-Galaxy-S23-Ultra", "expires": until},
				map[string]any{"interface": "eth0", "mac": "00:1a:2b:3c:4d:5e", "address": "192.168.1.199", "expires": until},
			},
		})
	})
	return m
}

// The LAN step's leases fit a 390 px phone screen: no column, "Until"
// included, sits beyond the right edge behind a sideways scroll (issue 24).
func TestBrowserPhoneLANLeasesFit(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	serveUnix(t, "netctl", leasesNetctl(&fakeNetctl{}))
	serveUnix(t, "gateway", fakeGateway())
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	ctx := phone(t)

	do(t, ctx, "login", append(login(httpsURL), waitURL("/wizard/mobile"))...)
	do(t, ctx, "lan leases", chromedp.Navigate(httpsURL+"/wizard/lan"), waitText("#leases", "Marias-Galaxy-S23-Ultra"), snap(dir, "13-wizard-lan-leases-phone"))

	// Widths in CSS pixels: the viewport, the table, how far the table's
	// box scrolls sideways, and the right edge of every "Until" cell.
	type widths struct {
		Viewport, Table, Page float64
		ScrollOver            float64
		UntilRight            []float64
		UntilText             []string
	}
	w, err := chromedp.Run(ctx, chromedp.Evaluate[widths](`(() => {
		const t = document.querySelector("#leases table");
		const box = t.parentElement;
		const until = [...t.querySelectorAll("tbody tr")].map(tr => tr.cells[tr.cells.length - 1]);
		return {
			Viewport: document.documentElement.clientWidth,
			Table: t.getBoundingClientRect().width,
			Page: document.documentElement.scrollWidth,
			ScrollOver: box.scrollWidth - box.clientWidth,
			UntilRight: until.map(c => c.getBoundingClientRect().right),
			UntilText: until.map(c => c.innerText.trim()),
		};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("viewport %.0f, table %.0f, page %.0f, sideways scroll %.0f, Until cells end at %v: %q", w.Viewport, w.Table, w.Page, w.ScrollOver, w.UntilRight, w.UntilText)
	if w.Table > w.Viewport || w.Page > w.Viewport || w.ScrollOver > 0 {
		t.Errorf("the leases table is %.0f px wide (page %.0f, scrolls %.0f px sideways) on a %.0f px screen", w.Table, w.Page, w.ScrollOver, w.Viewport)
	}
	if len(w.UntilRight) != 3 {
		t.Fatalf("%d lease rows, want 3", len(w.UntilRight))
	}
	for i, r := range w.UntilRight {
		if r > w.Viewport {
			t.Errorf("row %d: Until (%q) ends at %.0f px, beyond the %.0f px screen", i, w.UntilText[i], r, w.Viewport)
		}
	}
}
