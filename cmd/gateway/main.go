// Command gateway is the box's WebRTC <-> SIP gateway service. The work is
// done by package gateway; the skeleton (internal/service) runs it.
package main

import (
	"context"

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
