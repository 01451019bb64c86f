package service_test

import (
	"context"
	"errors"
	"flag"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"edgebox/internal/config"
	"edgebox/internal/localapi"
	"edgebox/internal/service"
)

// The tests re-run this test binary as a service: with childEnv set,
// TestMain runs fakeSpec through service.Main instead of the tests, so
// the signals, flags, socket and exit codes are the real ones.
const childEnv = "EDGEBOX_SERVICE_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		service.Main(fakeSpec())
	}
	os.Exit(m.Run())
}

// Host names the fake refuses at its own validate and apply steps.
const (
	validatorRefuses = "validator-refuses"
	applyRefuses     = "apply-refuses"
)

// fakeSpec is a service whose whole state is the config's host name,
// shown at GET /v1/hostname. -drain is how long it takes to stop;
// FAKE_STOP_TIME its Spec.StopTime, FAKE_DEFAULTS sets StartWithDefaults.
func fakeSpec() service.Spec {
	stop, err := time.ParseDuration(os.Getenv("FAKE_STOP_TIME"))
	if err != nil {
		stop = 5 * time.Second
	}
	var drain time.Duration
	return service.Spec{
		Name:              "fake",
		StopTime:          stop,
		StartWithDefaults: os.Getenv("FAKE_DEFAULTS") != "",
		Flags: func(fs *flag.FlagSet) {
			fs.DurationVar(&drain, "drain", 0, "how long the fake takes to stop")
		},
		Start: func(ctx context.Context, env service.Env, cfg *config.Config) (service.Service, error) {
			env.Log.Debug("fake starting", "socket", env.Socket)
			return &fake{host: cfg.System.Hostname, drain: drain, env: env}, nil
		},
	}
}

type fake struct {
	env   service.Env
	drain time.Duration
	mu    sync.Mutex
	host  string
}

func (f *fake) Handler() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /v1/hostname", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		localapi.WriteJSON(w, http.StatusOK, map[string]string{"hostname": f.host})
	})
	return m
}

func (f *fake) Run(ctx context.Context) error {
	<-ctx.Done()
	time.Sleep(f.drain)
	f.env.Log.Info("fake drained", "took", f.drain)
	return nil
}

func (f *fake) Validate(cfg *config.Config) error {
	if cfg.System.Hostname == validatorRefuses {
		return errors.New("the fake's validator refuses this host name")
	}
	return nil
}

func (f *fake) Apply(cfg *config.Config) error {
	if cfg.System.Hostname == applyRefuses {
		return errors.New("the fake cannot apply this host name")
	}
	f.mu.Lock()
	f.host = cfg.System.Hostname
	f.mu.Unlock()
	return nil
}
