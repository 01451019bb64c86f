package netctl

import "time"

// uplinkHealth is what the policy knows about one uplink.
type uplinkHealth struct {
	Ready   bool // carrier, address and gateway
	Healthy bool // probes answered recently (or none configured)
	// Confirmed: at least one probe answered since it became ready (always
	// true without probes). Failback only goes to a confirmed uplink.
	Confirmed    bool
	HealthySince time.Time
	// LostAt: when it last went from healthy to not healthy (zero: never
	// since netctl started). Only a recent loss makes it wait for failback.
	LostAt time.Time
}

// flapWindow: an uplink that lost its health within this window before it
// came back is treated as possibly flapping and waits out the failback
// hold. One that was never up (first boot, cable plugged in for the first
// time) or was down for longer takes over as soon as it is confirmed.
const flapWindow = 10 * time.Minute

// heldBack reports whether u, healthy again, must still wait for failback.
func (u uplinkHealth) heldBack(now time.Time, failback time.Duration) bool {
	if u.LostAt.IsZero() || u.HealthySince.Sub(u.LostAt) > flapWindow {
		return false
	}
	return now.Sub(u.HealthySince) < failback
}

// chooseUplink picks the uplink that carries the default route, given the
// uplinks in order of preference and the currently active one (-1: none).
//
// An active uplink that goes down or unhealthy is left at once for the most
// preferred healthy one. A more preferred uplink takes over from a healthy
// active one only after it has been healthy for failback if it lost its
// health within flapWindow before (heldBack): hysteresis, so a flapping
// link does not flap the box, while a link that comes up for the first time
// (a WAN whose DHCP was slower than LTE at boot) takes over at once. With nothing healthy the active
// uplink stays if it is still ready (the probe targets may be what failed),
// else the most preferred ready one is used.
func chooseUplink(ups []uplinkHealth, active int, now time.Time, failback time.Duration) int {
	if active >= len(ups) {
		active = -1
	}
	if active >= 0 && ups[active].Healthy {
		for j := 0; j < active; j++ {
			u := ups[j]
			if u.Healthy && u.Confirmed && !u.heldBack(now, failback) {
				return j
			}
		}
		return active
	}
	for j, u := range ups {
		if u.Healthy {
			return j
		}
	}
	if active >= 0 && ups[active].Ready {
		return active
	}
	for j, u := range ups {
		if u.Ready {
			return j
		}
	}
	return -1
}
