package web

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"edgebox/internal/config"

	"golang.org/x/time/rate"
)

// smsPolicy applies the GSM bridge's allow-list and rate limit of the
// first SIM (gateway.gsm, docs/gsm-gateway.md) to SMS sent through the
// REST API, so the API is no way around what the PBX is held to. With
// the bridge off there is no allow-list: an admin sends as before, a
// lower scope (an operate token a portal or script holds) only to
// numbers that are neither short codes nor in a premium range, as the AT
// passthrough refuses that scope +CMGS. The rate is counted here, apart
// from the gateway's own count.
func (s *Server) smsPolicy(w http.ResponseWriter, r *http.Request, to string) (string, bool) {
	cfg, err := s.loadConfig()
	if err != nil || !cfg.Gateway.GSM.Enabled {
		return to, smsWithoutAllowList(w, r, to) && s.smsQuota.take(w, r)
	}
	sim, i, ok := cfg.Gateway.GSM.SIM("")
	if !ok {
		return to, smsWithoutAllowList(w, r, to) && s.smsQuota.take(w, r)
	}
	num, err := sim.CheckDestination(to, i)
	if err != nil {
		apiError(w, http.StatusForbidden, err)
		return "", false
	}
	res := smsLimiter(i, sim.SMS).Reserve()
	if d := res.Delay(); d > 0 {
		res.Cancel()
		secs := int(math.Ceil(d.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		apiError(w, http.StatusTooManyRequests, fmt.Errorf("gateway.gsm.sims[%d].sms.rate_per_minute (%d) reached: try again in %d s", i, sim.SMS.RatePerMinuteOrDefault(), secs))
		return "", false
	}
	return num, true
}

// smsWithoutAllowList is the rule while no GSM allow-list applies:
// admin scope (a person logged in, an admin token) sends anywhere; any
// other scope not to short codes (premium services are mostly short
// codes, and the country is not known here to tell them apart) nor to
// the premium ranges every allow-list refuses.
func smsWithoutAllowList(w http.ResponseWriter, r *http.Request, to string) bool {
	if ScopeOf(r) == ScopeAdmin {
		return true
	}
	num := to
	if strings.HasPrefix(num, "00") {
		num = "+" + num[2:]
	}
	switch {
	case !strings.HasPrefix(num, "+") && !(strings.HasPrefix(num, "0") && len(num) >= 7):
		apiError(w, http.StatusForbidden, fmt.Errorf("%s is a short code, often a paid service: an API token with scope %q may not send to it; use an admin token, or set up gateway.gsm with sms.short_codes and an allow-list", to, ScopeOf(r)))
		return false
	case config.PremiumRange(num):
		apiError(w, http.StatusForbidden, fmt.Errorf("%s is a premium or special-rate number: an API token with scope %q may not send to it; use an admin token", to, ScopeOf(r)))
		return false
	}
	return true
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

// smsQuota is the rate of SMS below admin scope while no GSM allow-list
// applies: a SIM's default (6 a minute, a burst of 3). Without it an
// operate token (a portal's, a script's) sent as many SMS as the modem
// took, at the SIM owner's cost, until the carrier blocked the SIM for
// spam (fifth review). An admin sends as before.
type smsQuota struct {
	once sync.Once
	lim  *rate.Limiter
}

func (q *smsQuota) take(w http.ResponseWriter, r *http.Request) bool {
	if ScopeOf(r) == ScopeAdmin {
		return true
	}
	var def config.GSMSMS
	q.once.Do(func() {
		q.lim = rate.NewLimiter(rate.Limit(float64(def.RatePerMinuteOrDefault())/60), def.BurstOrDefault())
	})
	res := q.lim.Reserve()
	if d := res.Delay(); d > 0 {
		res.Cancel()
		secs := int(math.Ceil(d.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		apiError(w, http.StatusTooManyRequests, fmt.Errorf("an API token with scope %q sends at most %d SMS a minute: try again in %d s, use an admin token, or set up gateway.gsm with its own rate", ScopeOf(r), def.RatePerMinuteOrDefault(), secs))
		return false
	}
	return true
}
