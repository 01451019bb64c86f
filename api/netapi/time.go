package netapi

import (
	"context"
	"time"
)

// TimeSync is GET /v1/time: how netctl keeps the clock on system.ntp.
type TimeSync struct {
	Servers  []string  `json:"servers"`
	Synced   bool      `json:"synced"` // the last try reached a server
	Server   string    `json:"server,omitempty"`
	LastSync time.Time `json:"last_sync,omitzero"`
	// OffsetMS is how far off the clock was at the last sync.
	OffsetMS  int64  `json:"offset_ms"`
	Stepped   bool   `json:"stepped,omitempty"` // the last sync set the clock
	LastError string `json:"last_error,omitempty"`
}

// Time returns the last NTP sync's result.
func (c Client) Time(ctx context.Context) (TimeSync, error) {
	var t TimeSync
	err := c.Get(ctx, "/v1/time", &t)
	return t, err
}
