package monitoring

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"edgebox/internal/localapi"
	"edgebox/internal/sysapi"
	"edgebox/netctl/openvpn"
)

// boxState is what a rig box's init and netctl report: the faults the
// alerting rules must see through a real web service's /metrics.
type boxState struct {
	system sysapi.System
	// activeWAN: the preferred uplink "wan" carries traffic; else the
	// modem does (failed over).
	activeWAN bool
	simState  string
	signalDBM float64
	vpnState  string
}

func (b boxState) netctlStatus() map[string]any {
	return map[string]any{
		"uplinks": []any{
			map[string]any{"name": "wan", "interface": "eth1", "priority": 0, "active": b.activeWAN, "health": map[string]any{"healthy": b.activeWAN}, "rx_bytes": 1000, "tx_bytes": 2000},
			map[string]any{"name": "modem", "interface": "wwan0", "priority": 1, "active": !b.activeWAN, "health": map[string]any{"healthy": true}, "rx_bytes": 3000, "tx_bytes": 4000},
		},
		"modem": map[string]any{
			"state":  "connected",
			"sim":    map[string]any{"state": b.simState},
			"signal": map[string]any{"rssi_dbm": b.signalDBM, "tech": "lte"},
		},
	}
}

// serveFakes serves init's and netctl's APIs on the box's run directory,
// where the real web and gateway processes find their peers' sockets.
func serveFakes(t *testing.T, runDir string, b boxState) {
	t.Helper()
	initMux := http.NewServeMux()
	initMux.HandleFunc("GET /v1/system", func(w http.ResponseWriter, r *http.Request) {
		s := b.system
		s.UptimeSec = time.Since(s.BootedAt).Seconds()
		localapi.WriteJSON(w, 200, s)
	})
	netMux := http.NewServeMux()
	netMux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		localapi.WriteJSON(w, 200, b.netctlStatus())
	})
	netMux.HandleFunc("GET /v1/vpn/status", func(w http.ResponseWriter, r *http.Request) {
		localapi.WriteJSON(w, 200, openvpn.Status{State: b.vpnState, Interface: "tun0"})
	})
	for name, h := range map[string]http.Handler{sysapi.SocketName: initMux, "netctl": netMux} {
		l, err := localapi.ListenPath(filepath.Join(runDir, name+".sock"))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { localapi.Serve(ctx, l, h); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
}
