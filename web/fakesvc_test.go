package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"edgebox/api/vpnapi"
	"edgebox/internal/localapi"
	"edgebox/netctl/openvpn"
)

// fakeNetctl plays netctl's API (status, SMS, AT, VPN profile) with a
// modem that registers once an APN is configured.
type fakeNetctl struct {
	mu      sync.Mutex
	sms     []smsMessage
	at      []string
	profile string
	// realImport checks uploads with netctl's profile parser.
	realImport bool
	// pinUntil: until then the SIM asks for its PIN (netctl applies a
	// saved PIN a moment after the save).
	pinUntil time.Time
	vpnState string
	rsrp     int    // LTE RSRP the modem reports (-95 when 0)
	band     string // serving band the modem reports ("" none)
	number   string // the SIM's own number ("" not stored)
	// slot is the modem's slot as netctl reports it (nil: not reported,
	// an older netctl).
	slot map[string]any
	// vpnDetail is openvpn's reason for the state; vpnNotes the profile
	// import's notes.
	vpnDetail string
	vpnNotes  []string
	vpnDNS    *vpnapi.DNS // what the server pushed about DNS, when connected
	// vpnLastError is the status's last_error (a connect-time reason).
	vpnLastError string
	// modemOver replaces fields of the modem's report (state, error,
	// sim, registration ...); a nil value removes the field.
	modemOver map[string]any
	// vpnCreds are the credentials posted without a profile.
	vpnCreds []openvpn.Credentials
}

func (f *fakeNetctl) status() map[string]any {
	now := time.Now().UTC()
	var hist []any
	for i := 0; i < 36; i++ {
		t := now.Add(-time.Duration(36-i) * 5 * time.Minute)
		v := -75 - 8*float64((i*7)%5) + float64(i%3)
		hist = append(hist, map[string]any{"time": t.Format(time.RFC3339Nano), "signal": map[string]any{"rssi_dbm": v}})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rsrp := f.rsrp
	if rsrp == 0 {
		rsrp = -95
	}
	modem := map[string]any{
		"state":          "connected",
		"identity":       map[string]any{"manufacturer": "Huawei", "model": "ME909u-521", "imei": "861234567890123", "imsi": "262021234567890", "iccid": "8949022012345678901", "number": f.number},
		"sim":            map[string]any{"state": "ready", "pin_attempts": 3, "puk_attempts": 10, "iccid": "8949022012345678901"},
		"registration":   map[string]any{"state": "home", "tech": "lte", "operator": "Vodafone.de", "cell_id": "01A2D30F", "lac": "B1C4"},
		"signal":         map[string]any{"rssi_dbm": -71, "rsrp_dbm": rsrp, "rsrq_db": -11.5, "sinr_db": 14.2, "tech": "lte", "band": f.band},
		"signal_history": hist,
	}
	if f.slot != nil {
		modem["slot"] = f.slot
	}
	for k, v := range f.modemOver {
		if v == nil {
			delete(modem, k)
		} else {
			modem[k] = v
		}
	}
	if now.Before(f.pinUntil) { // the SIM waits for the PIN netctl has not applied yet
		modem["state"] = "sim"
		modem["sim"] = map[string]any{"state": "pin-required", "pin_attempts": 3}
		modem["error"] = "the SIM needs a PIN: set network.modem.pin"
	}
	return map[string]any{
		"active": "modem",
		"uplinks": []any{
			map[string]any{"name": "wan", "interface": "eth1", "method": "dhcp", "state": "no-carrier", "active": false, "carrier": false, "priority": 0, "health": map[string]any{"healthy": false}, "rx_bytes": 0, "tx_bytes": 0, "last_error": "no cable"},
			map[string]any{"name": "modem", "interface": "usb0", "method": "dhcp", "state": "healthy", "active": true, "carrier": true, "priority": 1, "address": "10.64.12.7/30", "health": map[string]any{"healthy": true}, "rx_bytes": 73400320, "tx_bytes": 9961472},
		},
		"lan":   []any{map[string]any{"role": "lan1", "interface": "eth0", "address": "192.168.1.1/24", "carrier": true}},
		"modem": modem,
	}
}

func (f *fakeNetctl) handler() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		localapi.WriteJSON(w, 200, f.status())
	})
	m.HandleFunc("GET /v1/leases", func(w http.ResponseWriter, r *http.Request) {
		localapi.WriteJSON(w, 200, map[string]any{
			"servers": []any{map[string]any{"interface": "eth0", "first": "192.168.1.100", "last": "192.168.1.199", "lease_sec": 43200, "running": true}},
			"leases":  []any{map[string]any{"interface": "eth0", "mac": "3a:5c:11:90:ab:cd", "address": "192.168.1.100", "hostname": "installer-phone", "expires": time.Now().Add(12 * time.Hour)}},
		})
	})
	m.HandleFunc("GET /v1/sms", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		l := f.sms
		if l == nil {
			l = []smsMessage{}
		}
		localapi.WriteJSON(w, 200, l)
	})
	m.HandleFunc("POST /v1/sms", func(w http.ResponseWriter, r *http.Request) {
		var req SMSSend
		if err := localapi.ReadJSON(r, &req); err != nil {
			localapi.WriteError(w, 400, err)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		msg := smsMessage{ID: "s" + strings.Repeat("1", len(f.sms)+1), To: req.To, Text: req.Text, Time: time.Now(), Outgoing: true}
		f.sms = append(f.sms, msg)
		localapi.WriteJSON(w, 200, msg)
	})
	m.HandleFunc("POST /v1/modem/at", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Command string `json:"command"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		f.at = append(f.at, req.Command)
		f.mu.Unlock()
		localapi.WriteJSON(w, 200, map[string]any{"lines": []string{"+CSQ: 20,99", "OK"}})
	})
	m.HandleFunc("POST /v1/vpn/import", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			localapi.WriteError(w, 400, err)
			return
		}
		file, h, err := r.FormFile("profile")
		if err != nil {
			localapi.WriteError(w, 400, err)
			return
		}
		defer file.Close()
		b, _ := io.ReadAll(file)
		needsLogin := false
		if f.realImport { // netctl's own checks, as on the box
			p, err := openvpn.ParseUpload(b, h.Filename)
			if err != nil {
				localapi.WriteError(w, 400, err)
				return
			}
			needsLogin = p.Info.NeedsUserPass && p.Credentials == nil && r.FormValue("username") == ""
		}
		if !strings.Contains(string(b), "remote ") {
			localapi.WriteError(w, 400, errors.New("the profile has no remote line"))
			return
		}
		f.mu.Lock()
		f.profile = string(b)
		f.vpnState = openvpn.StateConnected
		if needsLogin {
			f.vpnState = openvpn.StateNeedsLogin
		}
		f.mu.Unlock()
		localapi.WriteJSON(w, 200, openvpn.ImportResult{Profile: openvpn.ProfileInfo{Name: h.Filename, Remotes: []string{"vpn.example.net:1194"}, Notes: f.vpnNotes}})
	})
	m.HandleFunc("POST /v1/vpn/credentials", func(w http.ResponseWriter, r *http.Request) {
		var c openvpn.Credentials
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
			localapi.WriteError(w, 400, err)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.vpnCreds = append(f.vpnCreds, c)
		if f.vpnState == openvpn.StateNeedsLogin && c.Username != nil && c.Password != nil {
			f.vpnState = openvpn.StateConnected
		}
		localapi.WriteJSON(w, 200, openvpn.Status{State: f.vpnState})
	})
	m.HandleFunc("GET /v1/vpn/status", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		st := openvpn.Status{State: f.vpnState, Interface: "tun0", LastError: f.vpnLastError}
		if f.profile != "" { // openvpn runs, and says why it is in its state
			st.Detail = f.vpnDetail
			st.Profile = &openvpn.ProfileInfo{Name: "office.ovpn", ImportedAt: time.Now().Add(-time.Hour), Notes: f.vpnNotes}
		}
		if f.vpnState == openvpn.StateConnected {
			since := time.Now().Add(-42 * time.Minute)
			st.Remote, st.TunnelAddress, st.ConnectedSince, st.Uplink = "vpn.example.net:1194", "10.8.0.6", &since, "modem"
			if st.Profile == nil {
				st.Profile = &openvpn.ProfileInfo{Name: "office.ovpn"}
			}
			st.BytesIn, st.BytesOut = 1234567, 234567
			st.DNS = f.vpnDNS
		}
		localapi.WriteJSON(w, 200, st)
	})
	return m
}

// fakeGateway plays the gateway's status.
func fakeGateway() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("# TYPE edgebox_gateway_calls_active gauge\nedgebox_gateway_calls_active 2\n"))
	})
	m.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		localapi.WriteJSON(w, 200, map[string]any{
			"enabled": true, "active_calls": 2, "pending_tokens": 0, "ice_port": 8478, "ice_lite": false,
			"pbx": "pbx.example.net:5060", "registration": "registered", "rtp_pairs_in_use": 2,
		})
	})
	return m
}
