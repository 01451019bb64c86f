package main

import (
	"time"

	"edgebox/internal/paths"
	"edgebox/internal/supervise"
)

// boxServices is the one table of what init runs on the box. Every Go
// service is a name of the busybox binary under /bbin; a service is up when
// its API socket appears.
func boxServices() []supervise.Service {
	return []supervise.Service{
		{
			Name: "netctl", Path: "/bbin/netctl", ReadyPath: paths.Socket("netctl"),
			Restart: supervise.RestartAlways, StopTimeout: 10 * time.Second, // takes the link down, radio off
		},
		{
			Name: "web", Path: "/bbin/web",
			Restart: supervise.RestartAlways,
		},
		{
			Name: "gateway", Path: "/bbin/gateway", ReadyPath: paths.Socket("gateway"), Deps: []string{"netctl"},
			Restart: supervise.RestartAlways,
		},
	}
}
