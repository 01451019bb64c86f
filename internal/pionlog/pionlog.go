// Package pionlog sends pion's log lines to slog: warnings and errors as
// such, except the lines pion writes in the normal course of most calls,
// which go to debug.
package pionlog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/pion/logging"
)

// Factory is a pion LoggerFactory writing to log, each line tagged with
// pion's scope ("ice", "dtls", ...).
func Factory(log *slog.Logger) logging.LoggerFactory {
	return factory{log}
}

type factory struct{ log *slog.Logger }

func (f factory) NewLogger(scope string) logging.LeveledLogger {
	return leveled{f.log.With("pion", scope)}
}

type leveled struct{ log *slog.Logger }

func (l leveled) Trace(string)              {}
func (l leveled) Tracef(string, ...any)     {}
func (l leveled) Debug(string)              {}
func (l leveled) Debugf(string, ...any)     {}
func (l leveled) Info(string)               {}
func (l leveled) Infof(string, ...any)      {}
func (l leveled) Warn(m string)             { l.at(slog.LevelWarn, m) }
func (l leveled) Warnf(f string, a ...any)  { l.at(slog.LevelWarn, fmt.Sprintf(f, a...)) }
func (l leveled) Error(m string)            { l.at(slog.LevelError, m) }
func (l leveled) Errorf(f string, a ...any) { l.at(slog.LevelError, fmt.Sprintf(f, a...)) }

// at logs m at level, or at debug when it is pion's routine noise.
func (l leveled) at(level slog.Level, m string) {
	for _, s := range routineNoise {
		if strings.Contains(m, s) {
			level = slog.LevelDebug
			break
		}
	}
	l.log.Log(context.Background(), level, m)
}

// routineNoise are what pion reports of a call's sockets and streams
// while the call is being closed (three lines per call, every call), and
// of ICE checks due before the peer's candidates arrived (trickle ICE,
// most calls): a remote admin reading the gateway's log, or someone
// reading calldial's output, must not take them for faults.
var routineNoise = []string{
	"read/write on closed pipe",
	"stream is already closed",
	"Failed to ping without candidate pairs",
}
