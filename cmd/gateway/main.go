// Command gateway is the box's WebRTC <-> SIP gateway service. The work is
// done by package gateway; the skeleton (internal/service) runs it.
package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only when EDGEBOX_PPROF names a loopback address
	"os"

	"edgebox/gateway"
	"edgebox/internal/config"
	"edgebox/internal/service"
)

func main() {
	spec := gateway.ServiceSpec()
	start := spec.Start
	spec.Start = func(ctx context.Context, env service.Env, cfg *config.Config) (service.Service, error) {
		servePprof(env.Log)
		return start(ctx, env, cfg)
	}
	service.Main(spec)
}

// servePprof serves Go's profiler for performance work (make bench) when
// $EDGEBOX_PPROF is a loopback host:port; never on any other address.
func servePprof(log *slog.Logger) {
	addr := os.Getenv("EDGEBOX_PPROF")
	if addr == "" {
		return
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		log.Warn("EDGEBOX_PPROF ignored: not a loopback host:port", "addr", addr)
		return
	}
	go func() { log.Warn("pprof", "err", http.ListenAndServe(addr, nil)) }()
}
