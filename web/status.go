package web

import (
	"context"
	"errors"
	"net/http"
	"os"
	"time"

	"edgebox/api/gatewayapi"
	"edgebox/api/netapi"
	"edgebox/api/vpnapi"
	"edgebox/api/webapi"
	"edgebox/internal/paths"
)

// Status is the whole box at a glance (GET /api/v1/status).
type Status = webapi.Status

// errNotRunning says a service's socket is absent: it is not running or
// not part of this build.
var errNotRunning = errors.New("service not available (not running)")

func socketAbsent(name string) bool {
	_, err := os.Stat(paths.Socket(name))
	return err != nil
}

func (s *Server) status(ctx context.Context) Status {
	ctx, cancel := context.WithTimeout(ctx, 4*time.Second)
	defer cancel()
	st := Status{Time: time.Now().UTC(), Unavailable: map[string]string{}}
	type part struct {
		name string
		err  error
	}
	done := make(chan part, 4)
	go func() {
		sys, err := s.initClient().Status(ctx)
		if err == nil {
			st.System = &sys
		}
		done <- part{"init", err}
	}()
	go func() {
		var err error
		if socketAbsent(netapi.SocketName) {
			err = errNotRunning
		} else {
			var n netapi.Status
			if n, err = netapi.NewClient().Status(ctx); err == nil {
				st.Network = &n
			}
		}
		done <- part{"netctl", err}
	}()
	go func() {
		// OpenVPN is supervised by netctl and its API is on netctl's socket.
		var err error
		if socketAbsent("netctl") {
			err = errNotRunning
		} else {
			var v vpnapi.Status
			if v, err = vpnapi.NewClient().Status(ctx); err == nil {
				st.VPN = &v
			}
		}
		done <- part{"vpn", err}
	}()
	go func() {
		var err error
		if socketAbsent(gatewayapi.SocketName) {
			err = errNotRunning
		} else {
			var g gatewayapi.Status
			if g, err = gatewayapi.NewClient().Status(ctx); err == nil {
				st.Gateway = &g
			}
		}
		done <- part{"gateway", err}
	}()
	for range 4 {
		p := <-done
		if p.err != nil {
			st.Unavailable[p.name] = plainWords(p.err.Error())
		}
	}
	return st
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	apiJSON(w, http.StatusOK, s.status(r.Context()))
}
