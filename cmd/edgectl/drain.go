package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"edgebox/api/gatewayapi"
)

func init() {
	register("drain", command{
		usage: "drain [--wait] | drain status",
		help:  "stop taking new calls (portal 503, OPTIONS 503); --wait: until live calls end or the limit",
		run:   runDrain,
	})
	register("undrain", command{
		usage: "undrain",
		help:  "take new calls again after a drain",
		run:   runUndrain,
	})
}

// drainState is the gateway's answer on /v1/drain.
type drainState struct {
	Draining    bool   `json:"draining"`
	Since       string `json:"since,omitempty"`
	ActiveCalls int    `json:"active_calls"`
	LimitSec    int    `json:"limit_sec"`
	TimedOut    bool   `json:"timed_out,omitempty"`
}

func runDrain(ctx context.Context, g *globals, args []string) error {
	c := gatewayapi.NewClient()
	var d drainState
	if len(args) == 1 && args[0] == "status" {
		if err := c.Get(ctx, "/v1/drain", &d); err != nil {
			return err
		}
		return printDrain(g, d)
	}
	fs := flag.NewFlagSet("drain", flag.ContinueOnError)
	wait := fs.Bool("wait", false, "wait until the live calls end or gateway.drain_limit_sec passes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errors.New("usage: edgectl drain [--wait] | edgectl drain status")
	}
	path := "/v1/drain"
	if *wait {
		path += "?wait=1"
		c.HTTP.Timeout = 0 // the gateway's limit bounds the wait
	}
	if err := c.Post(ctx, path, struct{}{}, &d); err != nil {
		return err
	}
	return printDrain(g, d)
}

func runUndrain(ctx context.Context, g *globals, args []string) error {
	if len(args) != 0 {
		return errors.New("usage: edgectl undrain")
	}
	var d drainState
	if err := gatewayapi.NewClient().Post(ctx, "/v1/undrain", struct{}{}, &d); err != nil {
		return err
	}
	return printDrain(g, d)
}

func printDrain(g *globals, d drainState) error {
	if g.JSON {
		return printJSON(d)
	}
	switch {
	case !d.Draining:
		fmt.Printf("taking calls (%d live)\n", d.ActiveCalls)
	case d.TimedOut:
		fmt.Printf("draining since %s: the limit (%d s) passed with %d calls still live\n", d.Since, d.LimitSec, d.ActiveCalls)
	default:
		fmt.Printf("draining since %s: no new calls; %d live (limit %d s)\n", d.Since, d.ActiveCalls, d.LimitSec)
	}
	return nil
}
