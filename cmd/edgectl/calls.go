package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"edgebox/api/gatewayapi"
)

func init() {
	register("calls", command{
		usage: "calls [history [-n N] | hangup ID | status]",
		help:  "gateway calls in progress, call history, hang up a call",
		run:   runCalls,
	})
}

func runCalls(ctx context.Context, g *globals, args []string) error {
	c := gatewayapi.NewClient()
	if len(args) == 0 {
		calls, err := c.Calls(ctx)
		if err != nil {
			return err
		}
		if g.JSON {
			return printJSON(calls)
		}
		printCalls(calls, false)
		return nil
	}
	switch args[0] {
	case "history":
		fs := flag.NewFlagSet("calls history", flag.ContinueOnError)
		n := fs.Int("n", 20, "calls to show")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		calls, err := c.History(ctx, *n)
		if err != nil {
			return err
		}
		if g.JSON {
			return printJSON(calls)
		}
		printCalls(calls, true)
		return nil
	case "hangup":
		if len(args) != 2 {
			return errors.New("usage: edgectl calls hangup ID")
		}
		return c.Hangup(ctx, args[1])
	case "status":
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		if g.JSON {
			return printJSON(st)
		}
		table([][]string{
			{"enabled", strconv.FormatBool(st.Enabled)},
			{"pbx", st.PBX},
			{"registration", st.Registration},
			{"active calls", strconv.Itoa(st.ActiveCalls)},
			{"pending tokens", strconv.Itoa(st.PendingTokens)},
			{"ice port", fmt.Sprintf("%d (lite: %v)", st.ICEPort, st.ICELite)},
			{"rtp pairs in use", strconv.Itoa(st.RTPPairsInUse)},
		})
		return nil
	}
	return fmt.Errorf("unknown calls subcommand %q (history, hangup, status)", args[0])
}

// printCalls shows both legs of each call: packets in/out, loss and
// jitter of what the box received.
func printCalls(calls []gatewayapi.CallInfo, ended bool) {
	head := []string{"ID", "FROM", "TO", "STATE", "CODEC", "TALK", "BROWSER IN/OUT", "PBX IN/OUT", "LOSS B/P", "JITTER B/P"}
	if ended {
		head = append(head, "SIP", "REASON")
	}
	rows := [][]string{head}
	for _, c := range calls {
		r := []string{
			c.ID, c.From, c.Destination, c.State, callsDash(c.Codec),
			(time.Duration(c.DurationSec) * time.Second).String(),
			fmt.Sprintf("%d/%d", c.Browser.In.Packets, c.Browser.Out.Packets),
			fmt.Sprintf("%d/%d", c.PBX.In.Packets, c.PBX.Out.Packets),
			fmt.Sprintf("%d/%d", c.Browser.In.Lost, c.PBX.In.Lost),
			fmt.Sprintf("%.1f/%.1fms", c.Browser.In.JitterMS, c.PBX.In.JitterMS),
		}
		if ended {
			r = append(r, strconv.Itoa(c.SIPCode), c.Reason)
		}
		rows = append(rows, r)
	}
	if len(rows) == 1 {
		if ended {
			fmt.Println("no calls yet")
		} else {
			fmt.Println("no calls in progress")
		}
		return
	}
	table(rows)
}

func callsDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
