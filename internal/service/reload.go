package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"edgebox/internal/config"
)

// Step is where a config was refused.
type Step string

const (
	// StepLoad: the file could not be read or decoded.
	StepLoad Step = "load"
	// StepValidate: it decoded but breaks a rule (config.Validate, or the
	// service's own Validator).
	StepValidate Step = "validate"
	// StepApply: the service refused to put it into effect.
	StepApply Step = "apply"
)

// ConfigError is the one shape of a refused config, at start or on reload,
// for every service: logged as msg "config rejected" with service, step
// and err, and shown as reload_error in the socket's /healthz.
type ConfigError struct {
	Service string
	Step    Step
	Err     error
	At      time.Time
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s: config rejected at %s: %v", e.Service, e.Step, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// MarshalJSON is the form /healthz shows.
func (e *ConfigError) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Service string    `json:"service"`
		Step    Step      `json:"step"`
		Error   string    `json:"error"`
		At      time.Time `json:"at"`
	}{e.Service, e.Step, e.Err.Error(), e.At})
}

// UnmarshalJSON reads the /healthz form back (the cause as text).
func (e *ConfigError) UnmarshalJSON(b []byte) error {
	var v struct {
		Service string    `json:"service"`
		Step    Step      `json:"step"`
		Error   string    `json:"error"`
		At      time.Time `json:"at"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*e = ConfigError{Service: v.Service, Step: v.Step, Err: errors.New(v.Error), At: v.At}
	return nil
}

// attrs are the log attributes every service writes for it.
func (e *ConfigError) attrs() []any {
	return []any{"service", e.Service, "step", string(e.Step), "err", e.Err}
}

func refuse(service string, step Step, err error) *ConfigError {
	return &ConfigError{Service: service, Step: step, Err: err, At: time.Now()}
}

// loadConfig is the load and validate steps (a missing file gives the
// defaults, as config.Load does).
func loadConfig(service, path string) (*config.Config, *ConfigError) {
	data, _, err := config.ReadFile(path) // a damaged file: the previous version
	if err != nil {
		return nil, refuse(service, StepLoad, err)
	}
	if data == nil {
		return config.Default(), nil
	}
	c, err := config.Decode(data)
	if err != nil {
		return nil, refuse(service, StepLoad, fmt.Errorf("%s: %w", path, err))
	}
	if err := c.Validate(); err != nil {
		return nil, refuse(service, StepValidate, fmt.Errorf("%s: %w", path, err))
	}
	return c, nil
}

// reload is one SIGHUP (or POST /v1/reload): load → validate → apply. A
// refusal at any step leaves the running config; it is logged and kept for
// /healthz until a reload succeeds. Reloads run one at a time.
func reload(spec Spec, env Env, svc Service, st *state) *ConfigError {
	st.reloading.Lock()
	defer st.reloading.Unlock()
	cfg, cerr := loadConfig(spec.Name, env.ConfigPath)
	if cerr == nil {
		if v, ok := svc.(Validator); ok {
			if err := v.Validate(cfg); err != nil {
				cerr = refuse(spec.Name, StepValidate, err)
			}
		}
	}
	if cerr == nil {
		if err := svc.Apply(cfg); err != nil {
			cerr = refuse(spec.Name, StepApply, err)
		}
	}
	if cerr != nil {
		env.Log.Error("config rejected, keeping the running one", cerr.attrs()...)
		st.refused(cerr)
		return cerr
	}
	st.applied()
	env.Log.Info("config reloaded", "service", spec.Name)
	return nil
}
