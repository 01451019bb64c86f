package gateway

import (
	"context"
	"log/slog"
	"os"

	"edgebox/internal/config"
	"edgebox/internal/localapi"
)

// Main runs the gateway service: it loads cfgPath, serves the API on sock,
// re-reads the config on every hup signal (a config its Validate refuses
// is logged and the running one kept) and stops on term.
func Main(ctx context.Context, cfgPath, sock string, log *slog.Logger, signals ...<-chan os.Signal) error {
	var hup, term <-chan os.Signal
	if len(signals) > 0 {
		hup = signals[0]
	}
	if len(signals) > 1 {
		term = signals[1]
	}
	c, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	svc, err := New(c.Gateway, log)
	if err != nil {
		return err
	}
	defer svc.Close()
	l, err := localapi.ListenPath(sock)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go localapi.Serve(ctx, l, svc.APIHandler())
	log.Info("gateway running", "enabled", c.Gateway.Enabled, "portal", svc.PortalAddr())
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-term:
			log.Info("gateway stopping")
			return nil
		case <-hup:
			nc, err := config.Load(cfgPath)
			if err != nil {
				log.Error("config reload refused; keeping the running config", "err", err)
				continue
			}
			if err := svc.Apply(nc.Gateway); err != nil {
				log.Error("config reload incomplete", "err", err)
				continue
			}
			log.Info("config reloaded", "active_calls", svc.Status().ActiveCalls)
		}
	}
}
