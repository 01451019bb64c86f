package web

import (
	"edgebox/api/vpnapi"

	"github.com/prometheus/client_golang/prometheus"
)

// The series a fleet's alerting rules need (monitoring/alerts.yml) beyond
// the dashboard's: each says one condition an admin acts on.
var (
	descInfo       = prometheus.NewDesc("edgebox_info", "Always 1; the labels say the firmware version, the boot slot and the board.", []string{"version", "slot", "board"}, nil)
	descConfirmed  = prometheus.NewDesc("edgebox_update_confirmed", "0 while the running slot is on trial after an update, 1 once confirmed.", nil, nil)
	descRolledBack = prometheus.NewDesc("edgebox_update_rolled_back", "1 when the last update's trial boot failed and the box went back to the other slot.", nil, nil)
	descPerm       = prometheus.NewDesc("edgebox_perm_state", "Always 1; the label says the state of /perm: mounted, missing, damaged or read-only.", []string{"state"}, nil)
	descPriority   = prometheus.NewDesc("edgebox_uplink_priority", "The uplink's place in the failover order; 0 is the most preferred.", []string{"uplink"}, nil)
	descSIM        = prometheus.NewDesc("edgebox_modem_sim_state", "Always 1; the label says the SIM's state: ready, pin-required, puk-required, absent, busy or error.", []string{"state"}, nil)
	descVPN        = prometheus.NewDesc("edgebox_vpn_connected", "1 while the OpenVPN tunnel is up; absent when no VPN profile is set or the VPN is off.", nil, nil)
	descGWEnabled  = prometheus.NewDesc("edgebox_gateway_enabled", "1 when the WebRTC-SIP gateway is switched on in the config.", nil, nil)
	descTokenEnd   = prometheus.NewDesc("edgebox_api_token_expiry_timestamp_seconds", "When the API token ends (Unix time): a fleet's scrape token must be renewed before.", []string{"id", "name", "scope"}, nil)
)

// collectTokens says when each API token ends: a scrape token that
// expires silently turns a healthy box into an unreachable one.
func collectTokens(ch chan<- prometheus.Metric, tokens []TokenInfo) {
	for _, t := range tokens {
		ch <- prometheus.MustNewConstMetric(descTokenEnd, prometheus.GaugeValue, float64(t.Expires.Unix()), t.ID, t.Name, string(t.Scope))
	}
}

// collectFleet adds the fleet series from the same status the rest of
// the scrape reads.
func collectFleet(ch chan<- prometheus.Metric, st Status) {
	if sys := st.System; sys != nil {
		ch <- prometheus.MustNewConstMetric(descInfo, prometheus.GaugeValue, 1, sys.Version, sys.Slot, sys.Board)
		ch <- prometheus.MustNewConstMetric(descConfirmed, prometheus.GaugeValue, b2f(sys.Confirmed))
		ch <- prometheus.MustNewConstMetric(descRolledBack, prometheus.GaugeValue, b2f(sys.RollbackReason != ""))
		ch <- prometheus.MustNewConstMetric(descPerm, prometheus.GaugeValue, 1, sys.Perm)
	}
	if n := st.Network; n != nil {
		for _, u := range n.Uplinks {
			ch <- prometheus.MustNewConstMetric(descPriority, prometheus.GaugeValue, float64(u.Priority), u.Name)
		}
		if m := n.Modem; m != nil && m.SIM != nil && m.SIM.State != "" {
			ch <- prometheus.MustNewConstMetric(descSIM, prometheus.GaugeValue, 1, string(m.SIM.State))
		}
	}
	if v := st.VPN; v != nil && v.State != vpnapi.StateDisabled && v.State != vpnapi.StateNoProfile {
		ch <- prometheus.MustNewConstMetric(descVPN, prometheus.GaugeValue, b2f(v.State == vpnapi.StateConnected))
	}
	if g := st.Gateway; g != nil {
		ch <- prometheus.MustNewConstMetric(descGWEnabled, prometheus.GaugeValue, b2f(g.Enabled))
	}
}
