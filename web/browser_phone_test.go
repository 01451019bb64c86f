package web

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Phone-sized browser tests for issue 24 (the installer's first hour).
// Every page they visit is kept as a PNG: in out/screens when
// EDGEBOX_SCREENS is set, else in the test's temporary folder.

func phoneScreens(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if os.Getenv("EDGEBOX_SCREENS") != "" {
		dir, _ = filepath.Abs(filepath.Join("..", "out", "screens"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// phone is Chromium as a 390x844 phone.
func phone(t *testing.T) context.Context {
	t.Helper()
	ctx := browser(t, chromedp.WindowSize(390, 844))
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// snap writes the whole page as dir/name.png.
func snap(dir, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
	})
}

// waitURL waits until the page's address ends with suffix.
func waitURL(suffix string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		var loc string
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			loc, _ = chromedp.Run(ctx, chromedp.Location())
			if strings.HasSuffix(loc, suffix) {
				return nil
			}
		}
		return fmt.Errorf("page is %s, want …%s", loc, suffix)
	})
}

func do(t *testing.T, ctx context.Context, name string, acts ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, acts...); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func login(url string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(url + "/login"),
		chromedp.WaitVisible(chromedp.CSS("#login-submit")),
		chromedp.SetValue(chromedp.CSS("#pw"), testPassword),
		chromedp.Click(chromedp.CSS("#login-submit")),
	}
}

// A new box's first HTTPS page is the wizard; the landing page offers the
// fingerprint's start and end and a QR code of the secure address (item 2).
func TestBrowserPhoneFirstPage(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	serveUnix(t, "netctl", (&fakeNetctl{}).handler())
	serveUnix(t, "gateway", fakeGateway())
	httpURL, httpsURL := liveServer(t, e)
	dir := phoneScreens(t)
	ctx := phone(t)

	do(t, ctx, "landing", chromedp.Navigate(httpURL+"/"), chromedp.WaitVisible(chromedp.CSS("#fingerprint")), snap(dir, "01-landing"))
	fp := e.srv.Fingerprint()
	groups := strings.Split(fp, ":")
	short := textOf(ctx, "#fp-short")
	if !strings.HasPrefix(short, groups[0]+":"+groups[1]) || !strings.HasSuffix(short, groups[len(groups)-2]+":"+groups[len(groups)-1]) || len(short) > 20 {
		t.Errorf("short fingerprint %q (of %s)", short, fp)
	}
	src, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#qr"), "src"))
	secure := strings.Replace(httpURL, "http://", "https://", 1) + "/"
	if src.Value != string(qrDataURI(secure)) {
		t.Errorf("the QR code is not of %s", secure)
	}
	w, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.getElementById("qr").naturalWidth`))
	if err != nil || w < 100 {
		t.Errorf("QR image does not load (width %v, %v)", w, err)
	}

	setupAdmin(t, e)
	do(t, ctx, "login on a new box", append(login(httpsURL), waitURL("/wizard/mobile"), snap(dir, "02-first-login-wizard"))...)
	// Once something is saved the box is no longer new: the dashboard.
	do(t, ctx, "save",
		chromedp.SetValue(chromedp.CSS(`[data-path="network.modem.apn"]`), "internet"),
		chromedp.Click(chromedp.CSS("#step-submit")),
		waitText("#step-form .notice", "Saved"))
	do(t, ctx, "root", chromedp.Navigate(httpsURL+"/"), waitURL("/dashboard"), snap(dir, "03-dashboard"))
}
