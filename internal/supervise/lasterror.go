package supervise

import (
	"regexp"
	"strings"

	"edgebox/internal/sysapi"
)

// maxErrorLines and maxErrorLine bound what a service's status carries of
// its last run's output: the reason, not the log (the log page has that).
const (
	maxErrorLines = 2
	maxErrorLine  = 300
)

// errorWords mark a line that says what went wrong: slog's ERROR level,
// Go's panic and log.Fatal output, a program's "error:"/"fatal:" words.
var errorWords = regexp.MustCompile(`(?i)level=(error|fatal)|^panic:|\bfatal\b|\berror\b|\bfailed\b|cannot|can't|no such|denied|refused|invalid|unexpected|not found`)

// slogTime is the text handler's leading timestamp, which says nothing the
// status's last_exit_at does not.
var slogTime = regexp.MustCompile(`^time=\S+\s+`)

// errorLines picks from a run's output the last lines that say why it
// ended: the last maxErrorLines lines with error words, or else the very
// last line (a program that prints its reason plainly and exits).
func errorLines(run []sysapi.LogLine) string {
	var picked []string
	for i := len(run) - 1; i >= 0 && len(picked) < maxErrorLines; i-- {
		if t := strings.TrimSpace(run[i].Text); t != "" && errorWords.MatchString(t) {
			picked = append(picked, t)
		}
	}
	if len(picked) == 0 {
		for i := len(run) - 1; i >= 0; i-- {
			if t := strings.TrimSpace(run[i].Text); t != "" {
				picked = append(picked, t)
				break
			}
		}
	}
	out := make([]string, 0, len(picked))
	for i := len(picked) - 1; i >= 0; i-- { // oldest first
		t := slogTime.ReplaceAllString(picked[i], "")
		if len(t) > maxErrorLine {
			t = t[:maxErrorLine] + "…"
		}
		out = append(out, t)
	}
	return strings.Join(out, "\n")
}
