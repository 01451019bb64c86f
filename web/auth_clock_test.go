package web

import (
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// A box that starts in 2001 (flat RTC): the installer sets the password
// and gets a token; then NTP or the phone sets the clock right. The token
// must go on working for its full life (it was refused at once: it had
// "ended" in 2001), and it still ends after that life.
func TestTokenMadeUnderWrongClockSurvivesTheCorrection(t *testing.T) {
	clk := &testClock{t: time.Date(2001, 1, 1, 0, 0, 30, 0, time.UTC)}
	path := filepath.Join(t.TempDir(), "web-admin.json")
	a, err := OpenAccounts(path, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	a.now = clk.now
	if err := a.SetInitial("installer-secret-1"); err != nil {
		t.Fatal(err)
	}
	secret, _, err := a.NewToken("installer", ScopeAdmin, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.CheckToken(secret); !ok {
		t.Fatal("a new token is refused")
	}
	clk.t = time.Now() // NTP answered
	if _, ok := a.CheckToken(secret); !ok {
		t.Fatal("the token made before the clock was set right is refused after it")
	}
	// The change is stored: web restarting keeps it.
	b, err := OpenAccounts(path, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	b.now = clk.now
	if _, ok := b.CheckToken(secret); !ok {
		t.Fatal("after a restart the token is refused")
	}
	info := b.Tokens()[0]
	if got := info.Expires.Sub(info.Created); got != DefaultTokenLifetime {
		t.Fatalf("the token's life became %v, want %v", got, DefaultTokenLifetime)
	}
	clk.add(DefaultTokenLifetime + time.Hour)
	if _, ok := b.CheckToken(secret); ok {
		t.Fatal("the token outlives its life")
	}
}
