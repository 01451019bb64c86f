// Command edgectl manages an edgebox from a shell: on the box through the
// services' unix sockets, or from an admin's laptop over the VPN with a token.
//
// Each topic registers its commands from its own file (services.go, vpn.go,
// modem.go, calls.go ...) so that topics can grow independently.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one edgectl subcommand.
type command struct {
	usage string // "logs [-f] NAME"
	help  string // one line
	run   func(ctx context.Context, g *globals, args []string) error
}

// globals are the flags every command understands.
type globals struct {
	JSON bool
	// URL, Token and Fingerprint select remote use over the VPN (remote.go).
	URL, Token, Fingerprint string
}

var commands = map[string]command{}

// register adds a subcommand; called from init() in each topic's file.
func register(name string, c command) {
	if _, dup := commands[name]; dup {
		panic("edgectl: command registered twice: " + name)
	}
	commands[name] = c
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: edgectl [--json] [--url https://BOX --token T [--fingerprint SHA256]] COMMAND [ARGS]\n\n")
	fmt.Fprintf(os.Stderr, "On the box edgectl uses the services' sockets. From a laptop on the VPN give\n--url and --token (or EDGECTL_URL, EDGECTL_TOKEN, EDGECTL_FINGERPRINT).\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-28s %s\n", commands[n].usage, commands[n].help)
	}
}

func main() {
	g := &globals{}
	fs := flag.NewFlagSet("edgectl", flag.ExitOnError)
	fs.BoolVar(&g.JSON, "json", false, "print machine-readable JSON")
	fs.StringVar(&g.URL, "url", os.Getenv("EDGECTL_URL"), "box to manage remotely, https://HOST[:PORT]")
	fs.StringVar(&g.Token, "token", os.Getenv("EDGECTL_TOKEN"), "API token for --url")
	fs.StringVar(&g.Fingerprint, "fingerprint", os.Getenv("EDGECTL_FINGERPRINT"), "SHA-256 fingerprint of the box's certificate")
	fs.Usage = usage
	fs.Parse(os.Args[1:])
	args := fs.Args()
	if len(args) == 0 {
		usage()
		os.Exit(2)
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "edgectl: unknown command %q\n", args[0])
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := runCommand(ctx, g, c, args[1:])
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "edgectl %s: %v\n", args[0], err)
		os.Exit(1)
	}
}

// runCommand runs c, through the remote forwarders when --url is given.
func runCommand(ctx context.Context, g *globals, c command, args []string) error {
	if g.URL != "" {
		r, err := startRemote(ctx, g.URL, g.Token, g.Fingerprint)
		if err != nil {
			return err
		}
		defer r.close()
	}
	return c.run(ctx, g, args)
}

// printJSON writes v indented, for --json.
func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table prints rows with aligned columns for people.
func table(rows [][]string) {
	if len(rows) == 0 {
		return
	}
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			if i < len(width) && len(c) > width[i] {
				width[i] = len(c)
			}
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			if i == len(r)-1 {
				b.WriteString(c)
			} else {
				fmt.Fprintf(&b, "%-*s  ", width[i], c)
			}
		}
		fmt.Println(strings.TrimRight(b.String(), " "))
	}
}
