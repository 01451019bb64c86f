package main

import "time"

// boxServices is the one table of what init runs on the box. Every Go
// service is a name of the busybox binary under /bbin.
func boxServices() []Service {
	return []Service{
		{
			Name: "netctl", Path: "/bbin/netctl",
			Restart: RestartAlways, StopTimeout: 10 * time.Second, // takes the link down, radio off
		},
		{
			Name: "web", Path: "/bbin/web",
			Restart: RestartAlways,
		},
		{
			Name: "gateway", Path: "/bbin/gateway", Deps: []string{"netctl"},
			Restart: RestartAlways,
		},
	}
}
