//go:build edgebox_nopprof

package main

import (
	"log/slog"
	"os"
)

// servePprof: the image's build has no profiler. Every service is the one
// multi-call binary, and each maps nearly all of it: net/http/pprof and
// what it pulls in (runtime/pprof, runtime/trace, internal/profile) were
// ~0.4 MB of every service's resident pages (issue 17: idle memory).
func servePprof(log *slog.Logger) {
	if os.Getenv("EDGEBOX_PPROF") != "" {
		log.Warn("EDGEBOX_PPROF ignored: this build has no profiler (built with the edgebox_nopprof tag, as the image is); profile a host build (make bench)")
	}
}
