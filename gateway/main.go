package gateway

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"edgebox/internal/config"
	"edgebox/internal/service"
)

// ServiceSpec is the gateway as a box service (cmd/gateway): started from
// the gateway section of the config, its API on the socket, a reloaded
// config applied without dropping the calls it does not concern.
func ServiceSpec() service.Spec {
	return service.Spec{
		Name: SocketName,
		// Close's own bounds: up to 10 s for calls a stopped part ends and
		// 10 s for the rest. init drains the gateway before it stops it
		// and its StopTimeout still ends a stop that takes longer.
		StopTime: 20 * time.Second,
		// A config that does not load (config.json and config.json.prev
		// both damaged) must not make the gateway crash-loop: it runs on
		// the defaults, off, and its status says why (as netctl).
		StartWithDefaults: true,
		Start: func(ctx context.Context, env service.Env, cfg *config.Config) (service.Service, error) {
			svc, err := New(cfg.Gateway, env.Log)
			if err != nil {
				return nil, err
			}
			noteConfigLAN(cfg) // ingressclass.go
			if env.ConfigRefused != nil {
				svc.mu.Lock()
				svc.disabled = fmt.Sprintf("the config was refused at start (%s; a damaged config.json is replaced by config.json.prev only when that one is whole): the gateway is off, on the defaults, until the settings are saved again: %v", env.ConfigRefused.Step, env.ConfigRefused.Err)
				svc.mu.Unlock()
			}
			env.Log.Info("gateway running", "enabled", cfg.Gateway.Enabled, "portal", svc.PortalAddr())
			return asService{svc}, nil
		},
	}
}

// asService is the Service the skeleton runs.
type asService struct{ *Service }

func (s asService) Handler() http.Handler { return s.APIHandler() }

// Run waits for the stop, then ends the calls and closes every part.
func (s asService) Run(ctx context.Context) error {
	<-ctx.Done()
	s.Close()
	return nil
}

// Apply refuses a gateway section Validate refuses before touching
// anything; an error from restarting a changed part is reported as well.
func (s asService) Apply(cfg *config.Config) error {
	if err := s.Service.Apply(cfg.Gateway); err != nil {
		return err
	}
	noteConfigLAN(cfg)
	s.log.Info("gateway config in effect", "active_calls", s.Status().ActiveCalls)
	return nil
}
