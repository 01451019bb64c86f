package openvpn_test

import (
	"context"
	"log/slog"
	"net/http"

	"edgebox/internal/config"
	"edgebox/netctl/openvpn"
)

// How netctl embeds the tunnel: the API on its mux, Run beside its own
// loop, and every change of the active uplink passed on.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	cfg := config.DefaultVPN()
	vpn, err := openvpn.New(openvpn.Options{Interface: cfg.Interface, Logger: slog.Default()})
	if err != nil {
		panic(err)
	}
	vpn.SetEnabled(cfg.Enabled)
	mux := http.NewServeMux()
	vpn.Routes(mux) // GET /v1/vpn/status, POST /v1/vpn/import ...
	done := make(chan error, 1)
	go func() { done <- vpn.Run(ctx) }()

	vpn.SetUplink(true, "wan")  // an uplink came up: openvpn starts
	vpn.SetUplink(true, "wwan") // failover: openvpn reconnects at once
	vpn.SetUplink(false, "")    // offline: openvpn stops

	cancel()
	<-done
}
