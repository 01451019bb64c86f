package web

import (
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// A clock stepped years ahead (a wrong NTP answer, a phone set to the
// wrong year) and set right again: a token made meanwhile carries times
// decades ahead. It must keep its own life from the correction, not live
// until the wrong year: before, a 30-day token made "in 2090" worked for
// 64 years once the clock was back.
func TestTokenMadeUnderFutureClockKeepsItsLife(t *testing.T) {
	right := time.Now().UTC().Truncate(time.Second)
	clk := &testClock{t: time.Date(2090, 1, 1, 0, 0, 0, 0, time.UTC)}
	a, err := OpenAccounts(filepath.Join(t.TempDir(), "web-admin.json"), bcrypt.MinCost)
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
	clk.t = right // set right again
	if _, ok := a.CheckToken(secret); !ok {
		t.Fatal("the token is refused after the correction")
	}
	info := a.Tokens()[0]
	if info.Created.After(right.Add(time.Minute)) || info.Expires.Sub(info.Created) != DefaultTokenLifetime {
		t.Fatalf("token created %v, expires %v: it outlives its life", info.Created, info.Expires)
	}
	clk.add(DefaultTokenLifetime + time.Hour)
	if _, ok := a.CheckToken(secret); ok {
		t.Fatal("the token outlives its life")
	}
}
