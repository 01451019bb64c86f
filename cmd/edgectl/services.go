package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"edgebox/internal/sysapi"
)

func init() {
	register("services", command{usage: "services", help: "list the supervised services", run: runServices})
	register("restart", command{usage: "restart NAME", help: "restart one service", run: runRestart})
	register("logs", command{usage: "logs [-f] [-n N] NAME", help: "show a service's recent log", run: runLogs})
	register("reboot", command{usage: "reboot", help: "reboot the box cleanly", run: power("reboot")})
	register("poweroff", command{usage: "poweroff", help: "power the box off cleanly", run: power("poweroff")})
}

func runServices(ctx context.Context, g *globals, args []string) error {
	st, err := sysapi.NewClient().Status(ctx)
	if err != nil {
		return err
	}
	if g.JSON {
		return printJSON(st.Services)
	}
	fmt.Print(servicesText(st.Services))
	return nil
}

// servicesText is the services as a table, then why each one that ended
// unexpectedly did, in its own words (its last error lines, as the
// dashboard shows them): "exit status 1" alone sent the admin to the logs.
func servicesText(list []sysapi.Service) string {
	rows := [][]string{{"NAME", "STATE", "PID", "RESTARTS", "UPTIME", "LAST EXIT"}}
	var why strings.Builder
	for _, s := range list {
		pid := "-"
		if s.PID > 0 {
			pid = strconv.Itoa(s.PID)
		}
		up := "-"
		if s.State == sysapi.StateRunning {
			up = (time.Duration(s.UptimeSec) * time.Second).String()
		}
		rows = append(rows, []string{s.Name, s.State, pid, strconv.Itoa(s.Restarts), up, s.LastExit})
		if e := strings.TrimSpace(s.LastError); e != "" {
			fmt.Fprintf(&why, "\n%s last error:\n", s.Name)
			for _, l := range strings.Split(e, "\n") {
				why.WriteString("  " + strings.TrimRight(l, "\r") + "\n")
			}
		}
	}
	return tableString(rows) + why.String()
}

func runRestart(ctx context.Context, g *globals, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: edgectl restart NAME")
	}
	return sysapi.NewClient().Restart(ctx, args[0])
}

func runLogs(ctx context.Context, g *globals, args []string) error {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	follow := fs.Bool("f", false, "keep printing new lines")
	n := fs.Int("n", 100, "lines to show")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: edgectl logs [-f] [-n N] NAME")
	}
	c := sysapi.NewClient()
	name := fs.Arg(0)
	var after uint64
	limit := *n
	for {
		lines, err := c.Logs(ctx, name, after, limit)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, l := range lines {
			if g.JSON {
				printJSON(l)
			} else {
				fmt.Printf("%s %s\n", l.Time.Format(time.TimeOnly), l.Text)
			}
			after = l.Seq
		}
		if !*follow {
			return nil
		}
		limit = 0
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func power(action string) func(context.Context, *globals, []string) error {
	return func(ctx context.Context, g *globals, args []string) error {
		return sysapi.NewClient().Power(ctx, action)
	}
}
