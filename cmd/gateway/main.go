// Command gateway is the box's WebRTC <-> SIP gateway service. The work is
// done by package gateway; this only wires config, signals and the API.
package main

import (
	"context"
	"flag"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only when EDGEBOX_PPROF names a loopback address
	"os"
	"os/signal"
	"syscall"

	"edgebox/gateway"
	"edgebox/internal/paths"
)

func main() {
	cfgPath := flag.String("config", paths.ConfigFile(), "config file")
	sock := flag.String("socket", paths.Socket(gateway.SocketName), "API socket")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	servePprof(log)
	hup, term := hangups()
	if err := gateway.Main(context.Background(), *cfgPath, *sock, log, hup, term); err != nil {
		log.Error("gateway", "err", err)
		os.Exit(1)
	}
}

// hangups delivers SIGHUP (config reload) and ends on SIGTERM/SIGINT.
func hangups() (hup, term <-chan os.Signal) {
	h := make(chan os.Signal, 1)
	signal.Notify(h, syscall.SIGHUP)
	t := make(chan os.Signal, 1)
	signal.Notify(t, syscall.SIGTERM, os.Interrupt)
	return h, t
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
