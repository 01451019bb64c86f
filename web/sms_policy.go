package web

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"

	"edgebox/internal/config"

	"golang.org/x/time/rate"
)

// smsPolicy applies the GSM bridge's allow-list and rate limit of the
// first SIM (gateway.gsm, docs/gsm-gateway.md) to SMS sent through the
// REST API, so the API is no way around what the PBX is held to. With
// the bridge off nothing is configured and the API sends as before. The
// rate is counted here, apart from the gateway's own count.
func (s *Server) smsPolicy(w http.ResponseWriter, to string) (string, bool) {
	cfg, err := s.loadConfig()
	if err != nil || !cfg.Gateway.GSM.Enabled {
		return to, true
	}
	sim, i, ok := cfg.Gateway.GSM.SIM("")
	if !ok {
		return to, true
	}
	num, err := sim.CheckDestination(to, i)
	if err != nil {
		apiError(w, http.StatusForbidden, err)
		return "", false
	}
	r := smsLimiter(i, sim.SMS).Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		secs := int(math.Ceil(d.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		apiError(w, http.StatusTooManyRequests, fmt.Errorf("gateway.gsm.sims[%d].sms.rate_per_minute (%d) reached: try again in %d s", i, sim.SMS.RatePerMinuteOrDefault(), secs))
		return "", false
	}
	return num, true
}

var smsLimits struct {
	mu  sync.Mutex
	lim map[int]*rate.Limiter
}

// smsLimiter is SIM i's bucket, following changes of its settings.
func smsLimiter(i int, c config.GSMSMS) *rate.Limiter {
	smsLimits.mu.Lock()
	defer smsLimits.mu.Unlock()
	if smsLimits.lim == nil {
		smsLimits.lim = map[int]*rate.Limiter{}
	}
	l, b := rate.Limit(float64(c.RatePerMinuteOrDefault())/60), c.BurstOrDefault()
	lim := smsLimits.lim[i]
	if lim == nil {
		lim = rate.NewLimiter(l, b)
		smsLimits.lim[i] = lim
	}
	if lim.Limit() != l || lim.Burst() != b {
		lim.SetLimit(l)
		lim.SetBurst(b)
	}
	return lim
}
