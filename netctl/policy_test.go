package netctl

import (
	"testing"
	"time"
)

func TestChooseUplink(t *testing.T) {
	now := time.Unix(1000, 0)
	hold := 30 * time.Second
	healthy := func(since time.Duration) uplinkHealth {
		return uplinkHealth{Ready: true, Healthy: true, Confirmed: true, HealthySince: now.Add(-since)}
	}
	// back: healthy for since after it was lost down before that.
	back := func(since, down time.Duration) uplinkHealth {
		u := healthy(since)
		u.LostAt = u.HealthySince.Add(-down)
		return u
	}
	fresh := uplinkHealth{Ready: true, Healthy: true, Confirmed: false, HealthySince: now}
	readyOnly := uplinkHealth{Ready: true}
	down := uplinkHealth{}
	for _, tc := range []struct {
		name   string
		ups    []uplinkHealth
		active int
		want   int
	}{
		{"boot picks the preferred healthy", []uplinkHealth{healthy(0), healthy(0)}, -1, 0},
		{"boot takes a fresh one in grace", []uplinkHealth{down, fresh}, -1, 1},
		{"active down: leave at once", []uplinkHealth{down, healthy(time.Hour)}, 0, 1},
		{"active unhealthy: leave at once", []uplinkHealth{readyOnly, healthy(time.Hour)}, 0, 1},
		{"preferred back but inside hold: stay", []uplinkHealth{back(10*time.Second, time.Minute), healthy(time.Hour)}, 1, 1},
		{"preferred back past hold: fail back", []uplinkHealth{back(31*time.Second, time.Minute), healthy(time.Hour)}, 1, 0},
		{"preferred up for the first time: at once", []uplinkHealth{healthy(time.Second), healthy(time.Hour)}, 1, 0},
		{"preferred back after a long outage: at once", []uplinkHealth{back(time.Second, time.Hour), healthy(time.Hour)}, 1, 0},
		{"preferred unconfirmed: no failback", []uplinkHealth{{Ready: true, Healthy: true, HealthySince: now.Add(-time.Hour)}, healthy(time.Hour)}, 1, 1},
		{"nothing healthy: keep ready active", []uplinkHealth{readyOnly, readyOnly}, 1, 1},
		{"nothing healthy, no active: preferred ready", []uplinkHealth{down, readyOnly}, -1, 1},
		{"nothing at all", []uplinkHealth{down, down}, 0, -1},
		{"active index out of range", []uplinkHealth{healthy(0)}, 5, 0},
		{"less preferred never preempts", []uplinkHealth{healthy(time.Second), healthy(time.Hour)}, 0, 0},
	} {
		if got := chooseUplink(tc.ups, tc.active, now, hold); got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestFlappingLinkDoesNotFlapTheBox drives the policy with a preferred link
// that flaps every 5s against a 30s hold: after its first loss traffic
// stays on the backup.
func TestFlappingLinkDoesNotFlapTheBox(t *testing.T) {
	start := time.Unix(0, 0)
	wan := &uplink{exists: true, addr: &addrConfig{}}
	lte := &uplink{exists: true, carrier: true, addr: &addrConfig{}}
	active := 0 // the WAN was up at the start
	switches := 0
	for s := 0; s < 300; s++ {
		now := start.Add(time.Duration(s) * time.Second)
		wan.carrier = (s/5)%2 == 0
		wan.updateHealth(now, 10*time.Second)
		lte.updateHealth(now, 10*time.Second)
		next := chooseUplink([]uplinkHealth{wan.view(), lte.view()}, active, now, 30*time.Second)
		if next != active {
			switches++
			active = next
		}
	}
	if switches > 1 {
		t.Fatalf("%d switches with a flapping preferred link", switches)
	}
}

func TestUplinkHealthGraceAndFailure(t *testing.T) {
	now := time.Unix(100, 0)
	u := &uplink{exists: true, carrier: true, addr: &addrConfig{}, targets: []healthTarget{{Kind: "icmp"}}}
	u.updateHealth(now, 10*time.Second)
	if !u.healthy || u.confirmed || u.state != "probing" {
		t.Fatalf("fresh: healthy %v confirmed %v state %s", u.healthy, u.confirmed, u.state)
	}
	u.lastOK = now.Add(time.Second)
	u.updateHealth(now.Add(time.Second), 10*time.Second)
	if !u.healthy || !u.confirmed || u.state != "healthy" {
		t.Fatalf("answered: %+v", u.state)
	}
	u.updateHealth(now.Add(12*time.Second), 10*time.Second)
	if u.healthy || u.state != "failed" {
		t.Fatalf("silent 11s: healthy %v state %s", u.healthy, u.state)
	}
	u.carrier = false
	u.updateHealth(now.Add(13*time.Second), 10*time.Second)
	if u.state != "no-carrier" || !u.readySince.IsZero() {
		t.Fatalf("no carrier: %s", u.state)
	}
}

// TestUplinkLostOnlyAfterUp: the failback hold is for an uplink that was
// up and went down; one whose first grace ran out with no probe answered
// was never up, and must not be held when it finally answers.
func TestUplinkLostOnlyAfterUp(t *testing.T) {
	now := time.Unix(100, 0)
	u := &uplink{exists: true, carrier: true, addr: &addrConfig{}, targets: []healthTarget{{Kind: "icmp"}}}
	u.updateHealth(now, 10*time.Second)
	u.updateHealth(now.Add(11*time.Second), 10*time.Second)
	if u.healthy || !u.lostAt.IsZero() {
		t.Fatalf("grace ran out unanswered: healthy %v lostAt %v, want not healthy and never lost", u.healthy, u.lostAt)
	}
	u.lastOK = now.Add(12 * time.Second)
	u.updateHealth(now.Add(12*time.Second), 10*time.Second)
	if !u.healthy || !u.confirmed {
		t.Fatalf("answered: healthy %v confirmed %v", u.healthy, u.confirmed)
	}
	u.carrier = false
	u.updateHealth(now.Add(13*time.Second), 10*time.Second)
	if !u.lostAt.Equal(now.Add(13 * time.Second)) {
		t.Fatalf("up then carrier lost: lostAt %v", u.lostAt)
	}
}
