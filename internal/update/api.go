package update

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"edgebox/internal/localapi"
	"edgebox/internal/sysapi"
)

// init serves the update API on its socket (internal/sysapi's init.sock):
//
//	GET  /v1/update                 -> Status
//	POST /v1/update[?reboot=1][&allow_downgrade=1]
//	                                body: the bundle; answers a stream of
//	                                Progress lines (NDJSON), the last one
//	                                with Result or Error
//	POST /v1/factory-reset          FactoryReset -> {"status": ...}

// Status is the update view of the box.
type Status struct {
	Version string    `json:"version"`
	Boot    BootState `json:"boot"`
	// Health is the running trial's health check ("" when not on trial).
	Health  *HealthStatus `json:"health,omitempty"`
	Install *Progress     `json:"install,omitempty"` // the running or last install
	History []Event       `json:"history,omitempty"`
}

// HealthStatus is the state of a trial's health check.
type HealthStatus struct {
	State    string   `json:"state"` // "checking", "passed", "failed"
	Deadline string   `json:"deadline,omitempty"`
	Waiting  []string `json:"waiting,omitempty"` // what is not healthy yet
	Reason   string   `json:"reason,omitempty"`
}

// FactoryReset is the body of the factory-reset call; Confirm must be
// FactoryResetPhrase.
type FactoryReset struct {
	Confirm string `json:"confirm"`
}

// FactoryResetPhrase must be sent to erase the settings.
const FactoryResetPhrase = "erase all settings"

// Client talks to init's update API.
type Client struct{ *localapi.Client }

// NewClient connects to init's socket.
func NewClient() Client { return Client{localapi.NewClient(sysapi.SocketName)} }

// Status returns the update state.
func (c Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.Get(ctx, "/v1/update", &s)
	return s, err
}

// FactoryReset erases the settings in /perm and reboots the box.
func (c Client) FactoryReset(ctx context.Context, confirm string) error {
	return c.Post(ctx, "/v1/factory-reset", FactoryReset{Confirm: confirm}, nil)
}

// InstallOptions are the query flags of an install.
type InstallOptions struct {
	Reboot bool // reboot into the trial when installed
	// AllowDowngrade installs a bundle older than the running firmware.
	// The web API passes it on for admin scope only; init logs it.
	AllowDowngrade bool
}

// Path is path with the options as its query (?reboot=1&allow_downgrade=1).
func (o InstallOptions) Path(path string) string {
	q := url.Values{}
	if o.Reboot {
		q.Set("reboot", "1")
	}
	if o.AllowDowngrade {
		q.Set("allow_downgrade", "1")
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// Install streams a bundle of size bytes (-1 if unknown) to init and calls
// progress for every report. wantSHA may be empty.
func (c Client) Install(ctx context.Context, bundle io.Reader, size int64, wantSHA string, opts InstallOptions, progress func(Progress)) (*Result, error) {
	return InstallVia(ctx, c.Client, opts.Path("/v1/update"), bundle, size, wantSHA, progress)
}

// InstallVia posts a bundle to path on any API that answers like init's
// POST /v1/update (the web service's /api/v1/firmware does too).
func InstallVia(ctx context.Context, c *localapi.Client, path string, bundle io.Reader, size int64, wantSHA string, progress func(Progress)) (*Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+path, bundle)
	if err != nil {
		return nil, err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Accept", "application/x-ndjson")
	if size >= 0 {
		req.Header.Set("X-Bundle-Size", strconv.FormatInt(size, 10))
	}
	if wantSHA != "" {
		req.Header.Set("X-Bundle-SHA256", wantSHA)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := *c.HTTP
	hc.Timeout = 0 // an install of a big bundle over a slow link takes minutes
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.Header.Get("Content-Type") != "application/x-ndjson" {
		var e localapi.Error
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return nil, errors.New(e.Error)
		}
		return nil, fmt.Errorf("install: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var p Progress
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			continue
		}
		if progress != nil {
			progress(p)
		}
		if p.Error != "" {
			return nil, errors.New(p.Error)
		}
		if p.Result != nil {
			return p.Result, nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, errors.New("install: the box ended the answer without a result")
}
