// Command gateway is the box's WebRTC <-> SIP gateway service. The work is
// done by package gateway; this only wires config, signals and the API.
package main

import (
	"context"
	"flag"
	"log/slog"
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
