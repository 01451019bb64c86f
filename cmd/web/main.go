// Command web is the box's web UI and admin REST API service.
package main

import (
	"context"
	"edgebox/internal/version"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"edgebox/web"
)

func main() {
	var opt web.Options
	var ifaces string
	flag.StringVar(&opt.HTTPAddr, "http", ":80", "plain HTTP listen address (LAN bootstrap, JSON API)")
	flag.StringVar(&opt.HTTPSAddr, "https", ":443", "HTTPS listen address")
	flag.StringVar(&opt.ConfigPath, "config", "", "config file (default: the box's)")
	flag.StringVar(&opt.SecretsDir, "secrets", "", "secrets directory (default: the box's)")
	flag.StringVar(&ifaces, "interfaces", "", "comma-separated interface patterns to answer on (default: config web.interfaces)")
	flag.BoolVar(&opt.BoardLAN, "board-lan", true, "also answer on the board profile's LAN ports")
	flag.Parse()
	opt.Version = version.String() // written into the image by mkimage
	if ifaces != "" {
		opt.Interfaces = strings.Split(ifaces, ",")
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := web.New(opt)
	if err != nil {
		fmt.Fprintf(os.Stderr, "web: %v\n", err)
		os.Exit(1)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for {
			select {
			case <-hup:
				s.Reload()
			case <-ctx.Done():
				return
			}
		}
	}()
	if err := s.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "web: %v\n", err)
		os.Exit(1)
	}
}
