package main

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"edgebox/api/gatewayapi"
	"edgebox/internal/bootslot"
	"edgebox/internal/localapi"
	"edgebox/internal/supervise"
	"edgebox/internal/sysapi"
)

// apiServer serves init's system API (internal/sysapi) on init.sock.
type apiServer struct {
	sup    *supervise.Supervisor
	info   func() sysapi.System // static facts: board, version, perm ...
	booted time.Time
	power  chan<- string  // "reboot" or "poweroff"
	slots  *bootslot.Slot // update API; may be nil
	// reloadSelf re-reads init's own settings (system section: remote
	// syslog) when "init" is asked to reload; may be nil.
	reloadSelf func() error
	// mem reads the services' memory for the status; nil reads /proc
	// on every request.
	mem *memoryCache
}

func (a *apiServer) memory() *memoryCache {
	if a.mem != nil {
		return a.mem
	}
	return &memoryCache{procRoot: "/proc", now: time.Now}
}

func (a *apiServer) handler() http.Handler {
	mux := http.NewServeMux()
	if a.slots != nil {
		a.slots.Routes(mux)
	}
	mux.HandleFunc("GET /v1/system", func(w http.ResponseWriter, r *http.Request) {
		s := a.info()
		s.BootedAt = a.booted
		s.UptimeSec = time.Since(a.booted).Seconds()
		s.Services = a.sup.Status()
		self := a.memory().fill(s.Services)
		s.InitRSSKB, s.InitPSSKB = self.rss, self.pss
		localapi.WriteJSON(w, http.StatusOK, s)
	})
	mux.HandleFunc("GET /v1/services", func(w http.ResponseWriter, r *http.Request) {
		st := a.sup.Status()
		a.memory().fill(st)
		localapi.WriteJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("POST /v1/services/{name}/restart", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") == "gateway" {
			// a gateway restart cuts no call: drain first (docs/fleet.md 6)
			go func() {
				drainGateway(gatewayapi.NewClient(), "gateway restart", slog.Default())
				if err := a.sup.Restart("gateway"); err != nil {
					slog.Warn("gateway restart after drain", "err", err)
				}
			}()
			localapi.WriteJSON(w, http.StatusAccepted, map[string]string{"status": "gateway draining: it restarts when its calls have ended (at most gateway.drain_limit_sec)"})
			return
		}
		a.reply(w, a.sup.Restart(r.PathValue("name")))
	})
	mux.HandleFunc("POST /v1/services/init/reload", func(w http.ResponseWriter, r *http.Request) {
		if a.reloadSelf == nil {
			a.reply(w, errors.New("init has nothing to reload"))
			return
		}
		a.reply(w, a.reloadSelf())
	})
	mux.HandleFunc("POST /v1/services/{name}/reload", func(w http.ResponseWriter, r *http.Request) {
		a.reply(w, a.sup.Signal(r.PathValue("name"), syscall.SIGHUP))
	})
	mux.HandleFunc("GET /v1/services/{name}/logs", func(w http.ResponseWriter, r *http.Request) {
		after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		lines, err := a.sup.Logs(r.PathValue("name"), after, limit)
		if err != nil {
			localapi.WriteError(w, http.StatusNotFound, err)
			return
		}
		localapi.WriteJSON(w, http.StatusOK, lines)
	})
	for _, action := range []string{"reboot", "poweroff"} {
		mux.HandleFunc("POST /v1/"+action, func(w http.ResponseWriter, r *http.Request) {
			select {
			case a.power <- action:
				localapi.WriteJSON(w, http.StatusAccepted, map[string]string{"status": action + " started"})
			default:
				localapi.WriteError(w, http.StatusConflict, errors.New("a shutdown is already in progress"))
			}
		})
	}
	return mux
}

func (a *apiServer) reply(w http.ResponseWriter, err error) {
	if err != nil {
		localapi.WriteError(w, http.StatusBadRequest, err)
		return
	}
	localapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
