//go:build !edgebox_nopprof

package main

import (
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only when EDGEBOX_PPROF names a loopback address
	"os"
)

// servePprof serves Go's profiler for performance work (make bench) when
// $EDGEBOX_PPROF is a loopback host:port; never on any other address.
// The image leaves it out (build tag edgebox_nopprof, image.BuildTags).
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
