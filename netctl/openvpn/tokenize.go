package openvpn

import (
	"errors"
	"strings"
)

// maxLineLen bounds every line of a profile. openvpn reads its config with
// fgets into a 256-byte buffer, so a longer line would be split in two and
// its tail parsed as a separate directive that this package never checked.
const maxLineLen = 250

// tokenize splits one config line the way openvpn's parse_line does:
// whitespace separates parameters, "..." groups with backslash escapes,
// '...' groups literally, a backslash outside quotes escapes the next
// character, and '#' or ';' at the start of a parameter begins a comment.
// Reproducing it exactly matters: the allow-list must see the same directive
// name openvpn will act on.
func tokenize(line string) ([]string, error) {
	const (
		initial = iota
		quoted
		unquoted
		squoted
	)
	var (
		toks      []string
		parm      []byte
		state     = initial
		backslash bool
	)
	space := func(c byte) bool {
		return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' || c == 0
	}
	// The loop runs over the terminating NUL too, as openvpn's does.
	for i := 0; i <= len(line); i++ {
		var in byte
		if i < len(line) {
			in = line[i]
		}
		var out byte
		if !backslash && in == '\\' && state != squoted {
			backslash = true
			continue
		}
		done := false
		switch state {
		case initial:
			if !space(in) {
				if in == ';' || in == '#' {
					i = len(line) + 1
					continue
				}
				switch {
				case !backslash && in == '"':
					state = quoted
				case !backslash && in == '\'':
					state = squoted
				default:
					out = in
					state = unquoted
				}
			}
		case unquoted:
			if !backslash && space(in) {
				done = true
			} else {
				out = in
			}
		case quoted:
			if !backslash && in == '"' {
				done = true
			} else {
				out = in
			}
		case squoted:
			if in == '\'' {
				done = true
			} else {
				out = in
			}
		}
		if done {
			toks = append(toks, string(parm))
			parm = parm[:0]
			state = initial
		}
		if backslash && out != 0 && !(out == '\\' || out == '"' || space(out)) {
			return nil, errors.New("a single backslash, which openvpn reads as an escape: write Windows paths with double backslashes or with /")
		}
		backslash = false
		if out != 0 {
			parm = append(parm, out)
		}
	}
	switch state {
	case quoted:
		return nil, errors.New(`no closing quotation (")`)
	case squoted:
		return nil, errors.New(`no closing single quotation (')`)
	case unquoted:
		return nil, errors.New("residual parse state")
	}
	return toks, nil
}

// quoteArg renders s so tokenize reads it back as one parameter.
func quoteArg(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\r\n\v\f\"'\\#;") {
		return s
	}
	return mgmtQuote(s) // the same escapes: openvpn's config and management parsers share them
}
