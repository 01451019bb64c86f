// Package sysapi defines the system API that init serves on
// /run/edgebox/init.sock: services, their logs, reload, reboot and power off.
// Server (init) and clients (web, edgectl) share these types.
package sysapi

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"edgebox/internal/localapi"
)

// SocketName is the name of init's socket under /run/edgebox.
const SocketName = "init"

// Service states.
const (
	StateWaiting  = "waiting"  // dependencies not running yet
	StateStarting = "starting" // started, not yet up for the minimum run time
	StateRunning  = "running"
	StateBackoff  = "backoff" // exited, restarting after a delay
	StateFailed   = "failed"  // crash loop: retried slowly
	StateStopped  = "stopped"
)

// Service is one supervised service as the API shows it.
type Service struct {
	Name       string    `json:"name"`
	State      string    `json:"state"`
	PID        int       `json:"pid,omitempty"`
	Restarts   int       `json:"restarts"`
	Since      time.Time `json:"since,omitzero"` // when the current process started
	UptimeSec  float64   `json:"uptime_sec"`
	LastExit   string    `json:"last_exit,omitempty"` // "exit status 1", "signal: killed"
	LastExitAt time.Time `json:"last_exit_at,omitzero"`
	// LastError is why, in the service's own words: the last error lines
	// it printed before it last ended unexpectedly (a crash or an exit
	// status other than 0), "" if it printed none or ended on request.
	LastError string    `json:"last_error,omitempty"`
	NextStart time.Time `json:"next_start,omitzero"` // in backoff or failed
	// RSSKB and PSSKB are the memory of the service's processes (its
	// process group, so openvpn and pppd count for netctl). PSS shares
	// the pages of the one multi-call binary fairly; RSS counts them in
	// every process.
	RSSKB int64 `json:"rss_kb,omitempty"`
	PSSKB int64 `json:"pss_kb,omitempty"`
	// AnonKB is the part of RSSKB that is the processes' own (heap,
	// stacks), not pages of the binary mapped from the initramfs.
	AnonKB int64 `json:"anon_kb,omitempty"`
}

// System is init's view of the box.
type System struct {
	Board    string `json:"board"`
	Hostname string `json:"hostname"`
	Version  string `json:"version"`
	Slot     string `json:"slot,omitempty"`
	// Confirmed is false while the slot runs on trial after an update
	// (internal/update); RollbackReason says why the last trial fell back.
	Confirmed      bool   `json:"confirmed"`
	RollbackReason string `json:"rollback_reason,omitempty"`
	// ConfigNote is set when the config cannot be used as it is, e.g. it
	// was written by a newer firmware and this one keeps it read-only.
	ConfigNote string    `json:"config_note,omitempty"`
	BootedAt   time.Time `json:"booted_at"`
	UptimeSec  float64   `json:"uptime_sec"`
	Perm       string    `json:"perm"` // "mounted", "missing", "damaged", "read-only"
	PermNote   string    `json:"perm_note,omitempty"`
	Watchdog   string    `json:"watchdog,omitempty"`
	Services   []Service `json:"services"`
	// InitRSSKB and InitPSSKB are PID 1's own memory.
	InitRSSKB int64 `json:"init_rss_kb,omitempty"`
	InitPSSKB int64 `json:"init_pss_kb,omitempty"`
}

// LogLine is one line a service wrote to stdout or stderr.
type LogLine struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Text string    `json:"text"`
}

// Client talks to init.
type Client struct{ *localapi.Client }

// NewClient connects to init's socket.
func NewClient() Client { return Client{localapi.NewClient(SocketName)} }

// Status returns the box and its services.
func (c Client) Status(ctx context.Context) (System, error) {
	var s System
	err := c.Get(ctx, "/v1/system", &s)
	return s, err
}

// Restart stops and starts service name.
func (c Client) Restart(ctx context.Context, name string) error {
	return c.Post(ctx, "/v1/services/"+url.PathEscape(name)+"/restart", struct{}{}, nil)
}

// Reload asks service name to re-read the config (SIGHUP).
func (c Client) Reload(ctx context.Context, name string) error {
	return c.Post(ctx, "/v1/services/"+url.PathEscape(name)+"/reload", struct{}{}, nil)
}

// Logs returns the lines of service name after sequence number after,
// at most limit of them (0: all kept).
func (c Client) Logs(ctx context.Context, name string, after uint64, limit int) ([]LogLine, error) {
	var lines []LogLine
	err := c.Get(ctx, fmt.Sprintf("/v1/services/%s/logs?after=%d&limit=%d", url.PathEscape(name), after, limit), &lines)
	return lines, err
}

// Power asks init to reboot ("reboot") or power off ("poweroff").
func (c Client) Power(ctx context.Context, action string) error {
	return c.Post(ctx, "/v1/"+action, struct{}{}, nil)
}
