package web

import (
	"strings"
	"unicode"

	"edgebox/internal/lazyregexp"
)

// Person-facing words for the errors Go's libraries produce: a page says
// what happened and what to do, never "context deadline exceeded".
// Compiled at first use: netctl and the gateway run this package's
// initialiser too (one multi-call binary).
var plainReplacements = []struct {
	re   *lazyregexp.Regexp
	with string
}{
	{lazyregexp.New(`(?:Get|Post|Put|Delete) "[^"]*": `), ""},
	{lazyregexp.New(`(?:context deadline exceeded|i/o timeout|Client\.Timeout exceeded[^:;]*)(?: \(Client\.Timeout[^)]*\))?`), "no answer in time: try again in a minute, and restart the service on the dashboard if it stays so"},
	{lazyregexp.New(`dial unix \S+: connect: (?:no such file or directory|connection refused)`), "the service is not running: it is restarted by itself, see the dashboard"},
	{lazyregexp.New(`context canceled`), "the request was cancelled"},
}

// plainWords rewrites technical error text into words.
func plainWords(s string) string {
	for _, r := range plainReplacements {
		s = r.re.ReplaceAllString(s, r.with)
	}
	return s
}

// plainIn puts the phrases plainWords wrote into lang, so a German page
// says "keine Antwort in der Zeit" inside a service's error too.
func plainIn(lang, s string) string {
	if lang == "en" {
		return s
	}
	for _, r := range plainReplacements {
		if r.with != "" {
			s = strings.ReplaceAll(s, r.with, tr(lang, r.with))
		}
	}
	return s
}

// logLine is a service's log line as the UI shows it: slog's key=value
// text read into a level, a message and the rest as pairs.
type logLine struct {
	Level   string
	Message string
	Attrs   [][2]string
}

// parseLogLine reads slog's text format; a line that is not key=value
// comes back whole as the message.
func parseLogLine(s string) logLine {
	var l logLine
	pairs, ok := splitLogfmt(s)
	if !ok {
		return logLine{Message: s}
	}
	for _, p := range pairs {
		switch p[0] {
		case "time":
		case "level":
			l.Level = strings.ToLower(p[1])
		case "msg":
			l.Message = p[1]
		default:
			l.Attrs = append(l.Attrs, [2]string{strings.ReplaceAll(p[0], "_", " "), plainWords(p[1])})
		}
	}
	if l.Message == "" && l.Level == "" {
		return logLine{Message: s}
	}
	return l
}

// splitLogfmt splits key=value pairs with Go-quoted values.
func splitLogfmt(s string) ([][2]string, bool) {
	var out [][2]string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimLeftFunc(s, unicode.IsSpace) {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || strings.ContainsAny(s[:eq], " \t\"") {
			return nil, false
		}
		key, rest := s[:eq], s[eq+1:]
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := 1
			for end < len(rest) && rest[end] != '"' {
				if rest[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(rest) {
				return nil, false
			}
			val = strings.NewReplacer(`\"`, `"`, `\\`, `\`, `\n`, " ").Replace(rest[1:end])
			rest = rest[end+1:]
		} else {
			sp := strings.IndexFunc(rest, unicode.IsSpace)
			if sp < 0 {
				sp = len(rest)
			}
			val, rest = rest[:sp], rest[sp:]
		}
		out = append(out, [2]string{key, val})
		s = rest
	}
	return out, len(out) > 0
}
