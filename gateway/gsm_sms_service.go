package gateway

import (
	"reflect"

	"edgebox/api/netapi"
	"edgebox/internal/config"
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
