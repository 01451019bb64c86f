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
}

// chooseUplink picks the uplink that carries the default route, given the
// uplinks in order of preference and the currently active one (-1: none).
//
// An active uplink that goes down or unhealthy is left at once for the most
// preferred healthy one. A more preferred uplink takes over from a healthy
// active one only after it has been healthy for failback: hysteresis, so a
// flapping link does not flap the box. With nothing healthy the active
// uplink stays if it is still ready (the probe targets may be what failed),
// else the most preferred ready one is used.
func chooseUplink(ups []uplinkHealth, active int, now time.Time, failback time.Duration) int {
	if active >= len(ups) {
		active = -1
	}
	if active >= 0 && ups[active].Healthy {
		for j := 0; j < active; j++ {
			u := ups[j]
			if u.Healthy && u.Confirmed && now.Sub(u.HealthySince) >= failback {
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
