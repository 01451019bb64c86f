// Package calldial is a load generator for the gateway: it asks the portal
// API for call tokens and places WebRTC calls (pion) through the box toward
// a SIP UAS that echoes RTP, at a given rate and concurrency, sends 20 ms
// audio packets on every answered call, and reports setup latency, media
// quality and what the gateway process spent (CPU per relayed packet,
// memory per call).
package calldial

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// Options describe one load run.
type Options struct {
	// Portal is the gateway's portal API base URL ("http://127.0.0.1:8443").
	Portal string
	// APIKey authorises token requests.
	APIKey string
	// From and Destination go into every token request.
	From, Destination string

	// Rate is new calls per second; Concurrency bounds calls in progress
	// (a full house delays new attempts); Total is the number of calls.
	Rate        float64
	Concurrency int
	Total       int
	// Hold is how long each answered call stays up with media; 0 hangs
	// up at the first echoed packet (a set-up measurement).
	Hold time.Duration
	// SetupTimeout bounds token to answer (and answer to media).
	SetupTimeout time.Duration
	// Codec is "pcmu", "pcma" or "opus".
	Codec string

	// GatewayPID is the gateway process, read through /proc for CPU and
	// memory (0: not measured). UASPID likewise for the SIP UAS.
	GatewayPID int
	UASPID     int
	// WatchUDP names loopback UDP ports whose kernel drop counters the
	// report shows (the gateway's ICE port, the UAS's RTP port): on
	// loopback a full receive buffer is the only place packets are lost.
	WatchUDP map[string]int

	// Janus, when set, is the WebSocket URL of a Janus server's API
	// (ws://198.18.0.1:8188): each call then creates a Janus session,
	// attaches its SIP plugin, registers as a guest and calls Destination
	// with the offer, instead of asking Portal for a token. GatewayPID is
	// then Janus's process.
	Janus string
	// JanusRegisterFirst registers every call's Janus session before the
	// run starts, as pages do when they load, so the run times and
	// measures the calls alone: Janus's SIP plugin starts each session's
	// SIP stack in its one request thread, polling every 100 ms until the
	// stack is up, so it registers about 10 sessions a second at most.
	JanusRegisterFirst bool
	// Netns is the network namespace the calls' sockets and connections
	// are made in ("": this process's); LocalIP is the address the calls'
	// media sockets bind (default 127.0.0.1). Janus's ICE gathers no
	// candidates on loopback, so it and its callers meet in a namespace.
	Netns   string
	LocalIP netip.Addr

	// Lean places the calls without a PeerConnection each (lean.go): one
	// check, pion/dtls and a dtlssrtp session per call, their sockets on
	// the run's one poller. It works with Janus too (calldial is then
	// the DTLS server, as Janus answers setup:active).
	Lean bool

	// IdleWindow, when set, measures the gateway's CPU with no calls for
	// this long before the first call and again after the last ended
	// (Report.Gateway.IdleBefore/IdleAfter): a fixed cost a set-up rate
	// divides would show there, and state ended calls leave behind after.
	IdleWindow time.Duration

	// Progress receives a line per second while the run goes (nil: none).
	Progress io.Writer
	// Sample is the progress and sampling interval (default 1 s).
	Sample time.Duration
}

func (o *Options) check() error {
	switch {
	case o.Portal == "" && o.Janus == "":
		return errors.New("portal URL missing (--portal http://127.0.0.1:8443)")
	case o.APIKey == "" && o.Janus == "":
		return errors.New("portal API key missing (--api-key)")
	case o.Rate <= 0 || o.Rate > 10000:
		return fmt.Errorf("rate %v calls/s: use 0 < rate <= 10000", o.Rate)
	case o.Concurrency < 1 || o.Concurrency > 20000:
		return fmt.Errorf("concurrency %d: use 1..20000", o.Concurrency)
	case o.Total < 1:
		return fmt.Errorf("total %d: place at least one call", o.Total)
	case o.Hold < 0 || o.Hold > time.Hour:
		return fmt.Errorf("hold %v: use 0..1h", o.Hold)
	}
	if _, err := codecOf(o.Codec); err != nil {
		return err
	}
	if o.From == "" {
		o.From = "sip:calldial@example.com"
	}
	if o.Destination == "" {
		o.Destination = "sip:agent@127.0.0.1"
	}
	if !o.LocalIP.IsValid() {
		o.LocalIP = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	if o.SetupTimeout <= 0 {
		o.SetupTimeout = 15 * time.Second
	}
	if o.Sample <= 0 {
		o.Sample = time.Second
	}
	return nil
}
