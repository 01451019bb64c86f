package service

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"edgebox/internal/paths"
)

// errUsage marks a command line that does not parse (exit code 2).
var errUsage = errors.New("usage")

// common are the flags every service has. init starts the services with
// none of them: the defaults are the box's.
type common struct {
	config string
	socket string
	level  slog.Level
}

// parseFlags parses the common flags and the spec's own.
func parseFlags(spec Spec) (common, error) {
	args := spec.Args
	if args == nil {
		args = os.Args[1:]
	}
	var c common
	fs := flag.NewFlagSet(spec.Name, flag.ContinueOnError)
	if spec.LogOutput != nil {
		fs.SetOutput(spec.LogOutput)
	}
	fs.StringVar(&c.config, "config", paths.ConfigFile(), "config file")
	fs.StringVar(&c.socket, "socket", paths.Socket(spec.Name), "API socket (JSON over HTTP, root only)")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	debug := fs.Bool("debug", false, "debug logging (same as -log-level debug)")
	if spec.Flags != nil {
		spec.Flags(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return c, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if err := c.level.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(fs.Output(), "-log-level %q: want debug, info, warn or error\n", *level)
		return c, fmt.Errorf("%w: -log-level %q", errUsage, *level)
	}
	if *debug {
		c.level = slog.LevelDebug
	}
	return c, nil
}

// newLogger is the service's one logger: text lines on stderr, which init
// keeps in the service's ring buffer and copies to the console and syslog.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	if w == nil {
		w = os.Stderr
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
