package main

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// localHealthURL is web's plain-HTTP /healthz on loopback (web listens on
// lo as on the LAN port; see web/ingress.go).
const localHealthURL = "http://127.0.0.1/healthz"

// watchLocalHealth asks url every interval from inside the box until it
// first answers healthy (every service running), then calls healthy once
// and returns. It times the boot's goal from the box's own side: the
// boot benchmark asks from the host through QEMU's user network and the
// LAN port, whose link and listener come up on their own schedule; the
// two together say which side a slow /healthz is on. It gives up when
// ctx ends.
func watchLocalHealth(ctx context.Context, url string, interval time.Duration, healthy func()) {
	c := &http.Client{Timeout: time.Second}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if localHealthy(ctx, c, url) {
			healthy()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// localHealthy says whether url answered web's Health with ok and init's
// services in it (web answers ok by itself while init is not reachable).
func localHealthy(ctx context.Context, c *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var h struct {
		OK       bool              `json:"ok"`
		Services []json.RawMessage `json:"services"`
		Init     string            `json:"init_error"`
	}
	if json.NewDecoder(resp.Body).Decode(&h) != nil {
		return false
	}
	return h.OK && h.Init == "" && len(h.Services) > 0
}
