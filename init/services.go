package main

import (
	"log/slog"
	"os"
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
		// The gateway starts beside netctl, not after it: it needs nothing
		// of netctl to start (it reads the box's addresses again every
		// second, and asks netctl for the modem only when a GSM call or SMS
		// comes), and waiting put netctl's whole start on the boot's path
		// a second time. It is last in the table so that it stops first
		// (the supervisor stops in reverse order) while netctl still
		// carries the calls it drains.
		{
			Name: "gateway", Path: "/bbin/gateway", ReadyPath: paths.Socket("gateway"),
			Restart: supervise.RestartAlways,
		},
	}
}

// newSupervisor is the box's supervisor over boxServices: the board and
// PATH in every service's environment, every output line on the console
// and to remote syslog, each service coming up told to onUp (the boot's
// phase log), and every orphan reaped as PID 1 must.
func newSupervisor(board string, remote supervise.LineSink, onUp func(name string), log *slog.Logger) (*supervise.Supervisor, error) {
	opts := supervise.DefaultOptions()
	opts.Logger = log
	opts.Console = os.Stderr
	opts.ReapAll = true
	opts.OnUp = onUp
	opts.Remote = remote
	env := []string{"EDGEBOX_BOARD=" + board, "PATH=/bbin:/bin:/sbin:/usr/bin:/usr/sbin"}
	services := boxServices()
	for i := range services {
		services[i].Env = append(services[i].Env, env...)
	}
	return supervise.NewSupervisor(services, opts)
}
