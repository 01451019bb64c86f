package gateway

import (
	"errors"
	"reflect"

	"edgebox/api/netapi"
	"edgebox/internal/config"

	"github.com/prometheus/client_golang/prometheus"
)

// newGSMAPI is how the bridge reaches netctl (its socket under
// EDGEBOX_RUN_DIR, /run/edgebox on the box).
var newGSMAPI = func() gsmAPI { return netapi.NewClient() }

// startGSM starts the SMS bridge when gateway.gsm is enabled.
func (s *Service) startGSM(cfg config.Gateway) error {
	if !cfg.GSM.Enabled {
		return nil
	}
	b, err := newSMSBridge(s, cfg, newGSMAPI(), s.log.With("part", "gsm-sms"))
	if err != nil {
		return err
	}
	s.registerSMSMetrics()
	s.mu.Lock()
	s.gsm = b
	s.mu.Unlock()
	return nil
}

func (s *Service) stopGSM() {
	s.mu.Lock()
	b := s.gsm
	s.gsm = nil
	s.mu.Unlock()
	if b != nil {
		b.close()
	}
}

// applyGSM restarts the bridge when its settings, or the PBX and trunk
// it sends to, changed. What it holds is on disk, so nothing is lost.
func (s *Service) applyGSM(old, cfg config.Gateway) error {
	s.mu.Lock()
	running := s.gsm != nil
	s.mu.Unlock()
	if running && reflect.DeepEqual(old.GSM, cfg.GSM) && reflect.DeepEqual(old.PBX, cfg.PBX) && reflect.DeepEqual(old.Trunk, cfg.Trunk) {
		return nil
	}
	s.stopGSM()
	return s.startGSM(cfg)
}

// registerSMSMetrics adds the SMS bridge's series to the gateway's
// registry (once; they read whichever bridge runs at scrape time).
func (s *Service) registerSMSMetrics() {
	read := func(f func(b *smsBridge) float64) func() float64 {
		return func() float64 {
			s.mu.Lock()
			b := s.gsm
			s.mu.Unlock()
			if b == nil {
				return 0
			}
			return f(b)
		}
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgebox_gateway_sms_pending",
			Help: "Received SMS and delivery reports stored until the PBX or the webhook takes them."},
			read(func(b *smsBridge) float64 { return float64(b.store.len()) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgebox_gateway_sms_store_full",
			Help: "1 while the SMS store is full and new SMS wait in netctl (gateway.gsm.store_max)."},
			read(func(b *smsBridge) float64 {
				b.mu.Lock()
				defer b.mu.Unlock()
				if b.fullErr != "" {
					return 1
				}
				return 0
			})),
	} {
		var are prometheus.AlreadyRegisteredError
		if err := s.metrics.reg.Register(c); err != nil && !errors.As(err, &are) {
			s.log.Warn("SMS metrics not registered", "err", err)
		}
	}
}
