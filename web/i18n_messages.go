package web

import (
	"edgebox/internal/lazyregexp"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Errors reach a person from far away: a handler's errors.New, a config
// check in internal/config ("%q has no valid port"), netctl's profile
// import. They were English on a German page, and the config checks'
// terse words ("must be 4 to 8 digits") said what was wrong but not what
// to do. trMessage puts any such message into the page's language through
// the catalogs, values and all: a catalog key may hold verbs (%s %q %d %v),
// and a message that matches it is written with its own values in the
// translation. en.json rewrites the terse English the same way.

// trMessage is msg in lang: "field: text" keeps its field name, the text
// is looked up whole, then against the catalog's templates.
func trMessage(lang, msg string) string {
	if field, rest, ok := strings.Cut(msg, ": "); ok && fieldName.MatchString(field) {
		return field + ": " + trMessage(lang, rest)
	}
	if t := tr(lang, msg); t != msg {
		return t
	}
	for _, tp := range templatesOf(lang) {
		m := tp.re.FindStringSubmatch(msg)
		if m == nil {
			continue
		}
		i := 0
		return verbRE.ReplaceAllStringFunc(tp.out, func(string) string {
			i++
			if i < len(m) {
				return trValue(lang, m[i])
			}
			return ""
		})
	}
	if t, ok := trParts(lang, msg); ok {
		return t
	}
	return plainIn(lang, msg)
}

// trParts reads a reason with a hint added ("server unreachable: no
// answer ...; check ...; the profile's tls-auth key has no
// key-direction: ...") as its longest known runs of "; "-parts.
func trParts(lang, msg string) (string, bool) {
	parts := strings.Split(msg, "; ")
	if len(parts) < 2 {
		return "", false
	}
	var out []string
	changed := false
	for i := 0; i < len(parts); {
		j := len(parts)
		for ; j > i; j-- {
			run := strings.Join(parts[i:j], "; ")
			if j-i == len(parts) {
				continue // the whole was tried already
			}
			if t := trMessage(lang, run); t != run && t != plainIn(lang, run) {
				out, changed = append(out, t), true
				break
			}
		}
		if j == i { // no known run starts here
			out, j = append(out, parts[i]), i+1
		}
		i = j
	}
	return strings.Join(out, "; "), changed
}

// trValue is a template's value in lang where it is itself a message the
// catalog knows, whole or by a template (netctl's "registration denied by
// the network: %s" holds the reject cause's words), else as it is: names,
// numbers and addresses stay.
func trValue(lang, v string) string {
	if t := tr(lang, v); t != v {
		return t
	}
	for _, tp := range templatesOf(lang) {
		if tp.re.MatchString(v) {
			return trMessage(lang, v)
		}
	}
	return v
}

// fieldName is a config path or form field before ": " (network.modem.pin,
// gateway.sip.listen[0].interface, file).
var fieldName = lazyregexp.New(`^[a-z_][a-z_0-9]*(?:\[\d+\])?(?:\.[a-z_0-9]+(?:\[\d+\])?)*$`)

// verbRE is a fmt verb in a catalog key.
var verbRE = lazyregexp.New(`%[-+# 0-9.]*[a-zA-Z]`)

type msgTemplate struct {
	re    *regexp.Regexp
	out   string // the translation, its verbs replaced by the values
	fixed int    // characters of the key besides its verbs
}

var (
	msgTemplatesMu sync.Mutex
	msgTemplates   = map[string][]msgTemplate{}
)

// templatesOf are lang's catalog entries with verbs, as patterns.
func templatesOf(lang string) []msgTemplate {
	msgTemplatesMu.Lock()
	defer msgTemplatesMu.Unlock()
	if t, ok := msgTemplates[lang]; ok {
		return t
	}
	var out []msgTemplate
	for en, tl := range catalogs()[lang] {
		if !verbRE.MatchString(en) || tl == "" || tl == en {
			continue
		}
		var b strings.Builder
		b.WriteString("^")
		last := 0
		for _, loc := range verbRE.FindAllStringIndex(en, -1) {
			b.WriteString(regexp.QuoteMeta(en[last:loc[0]]))
			switch en[loc[1]-1] {
			case 'd':
				b.WriteString(`(-?\d+)`)
			case 'q':
				b.WriteString(`("(?:[^"\\]|\\.)*")`)
			default:
				b.WriteString(`(.+?)`)
			}
			last = loc[1]
		}
		b.WriteString(regexp.QuoteMeta(en[last:]) + "$")
		// A key of little more than its verbs ("%s: %s") would match
		// anything.
		if len(verbRE.ReplaceAllString(en, "")) < 8 {
			continue
		}
		re, err := regexp.Compile(b.String())
		if err != nil {
			continue
		}
		out = append(out, msgTemplate{re: re, out: tl, fixed: len(verbRE.ReplaceAllString(en, ""))})
	}
	// The most specific template first, the same every run.
	sort.Slice(out, func(i, j int) bool {
		if out[i].fixed != out[j].fixed {
			return out[i].fixed > out[j].fixed
		}
		return out[i].re.String() < out[j].re.String()
	})
	msgTemplates[lang] = out
	return out
}

// langWriter carries the request's language to apiError, which is called
// with the writer alone in some eighty places.
type langWriter struct {
	http.ResponseWriter
	lang string
}

// Unwrap lets http.ResponseController reach the connection (flushes,
// deadlines) through the wrapper.
func (w *langWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// langOfWriter is the language securityHeaders put on w, else English.
func langOfWriter(w http.ResponseWriter) string {
	if lw, ok := w.(*langWriter); ok {
		return lw.lang
	}
	return "en"
}
