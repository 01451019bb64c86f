package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"edgebox/api/webapi"
	"edgebox/internal/config"
	"edgebox/internal/lazyregexp"
)

// The web edits the config as a JSON document addressed by dotted paths
// ("network.modem.apn", "network.lan[0].address"), then hands the result to
// config.Parse, which refuses unknown fields and runs every section's
// Validate. So a path the firmware does not know is an error, never a
// silently ignored setting, and no section's rules are duplicated here.

// Redacted replaces secrets in API output; sending it back keeps the value.
const Redacted = "********"

var secretKey = lazyregexp.New(`(?i)(password|secret|credential|private|^pin$|psk)`)

var pathPart = lazyregexp.New(`^([a-z0-9_]+)((?:\[\d{1,3}\])*)$`)

type pathStep struct {
	key   string
	index int // -1: a key step
}

// parsePath splits "a.b[2].c" into steps.
func parsePath(p string) ([]pathStep, error) {
	if p == "" || len(p) > 200 {
		return nil, errors.New("empty or overlong config path")
	}
	var steps []pathStep
	for _, part := range strings.Split(p, ".") {
		m := pathPart.FindStringSubmatch(part)
		if m == nil {
			return nil, fmt.Errorf("config path %q: %q is not a field name (lower case, digits, _ and [N])", p, part)
		}
		steps = append(steps, pathStep{key: m[1], index: -1})
		for _, ix := range regexp.MustCompile(`\d+`).FindAllString(m[2], -1) {
			n, _ := strconv.Atoi(ix)
			steps = append(steps, pathStep{index: n})
		}
	}
	return steps, nil
}

// toDoc turns the config into a generic JSON document.
func toDoc(c *config.Config) (map[string]any, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return doc, d.Decode(&doc)
}

// fromDoc parses and validates a generic document as a config.
func fromDoc(doc map[string]any) (*config.Config, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return config.Parse(b)
}

// getPath returns the value at p.
func getPath(doc map[string]any, p string) (any, error) {
	steps, err := parsePath(p)
	if err != nil {
		return nil, err
	}
	var cur any = doc
	for _, s := range steps {
		switch v := cur.(type) {
		case map[string]any:
			if s.index >= 0 {
				return nil, fmt.Errorf("%s: not a list", p)
			}
			x, ok := v[s.key]
			if !ok {
				return nil, fmt.Errorf("%s: no such setting", p)
			}
			cur = x
		case []any:
			if s.index < 0 || s.index >= len(v) {
				return nil, fmt.Errorf("%s: no such setting", p)
			}
			cur = v[s.index]
		default:
			return nil, fmt.Errorf("%s: no such setting", p)
		}
	}
	return cur, nil
}

// setPath sets the value at p, creating objects (and extending lists by
// one element) on the way. Unknown names are caught by config.Parse.
func setPath(doc map[string]any, p string, val any) error {
	steps, err := parsePath(p)
	if err != nil {
		return err
	}
	if steps[0].index >= 0 {
		return fmt.Errorf("%s: no such setting", p)
	}
	var set func(cur any, i int) (any, error)
	set = func(cur any, i int) (any, error) {
		if i == len(steps) {
			return val, nil
		}
		s := steps[i]
		if s.index < 0 {
			m, ok := cur.(map[string]any)
			if !ok {
				if cur != nil {
					return nil, fmt.Errorf("%s: %s is not a section", p, s.key)
				}
				m = map[string]any{}
			}
			nv, err := set(m[s.key], i+1)
			if err != nil {
				return nil, err
			}
			m[s.key] = nv
			return m, nil
		}
		l, ok := cur.([]any)
		if !ok && cur != nil {
			return nil, fmt.Errorf("%s: not a list", p)
		}
		if s.index > len(l) {
			return nil, fmt.Errorf("%s: index %d is past the end of the list (%d items)", p, s.index, len(l))
		}
		if s.index == len(l) {
			l = append(l, nil)
		}
		nv, err := set(l[s.index], i+1)
		if err != nil {
			return nil, err
		}
		l[s.index] = nv
		return l, nil
	}
	_, err = set(doc, 0)
	return err
}

// redact replaces every secret value in doc (in place).
func redact(v any) any { return redactKeys(v, secretKey) }

// redactKeys replaces, in place, every non-empty string whose field name
// matches key with Redacted.
func redactKeys(v any, key *lazyregexp.Regexp) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if key.MatchString(k) {
				if s, ok := e.(string); ok && s != "" {
					x[k] = Redacted
					continue
				}
			}
			x[k] = redactKeys(e, key)
		}
	case []any:
		for i := range x {
			x[i] = redactKeys(x[i], key)
		}
	}
	return v
}

// unredact puts old secret values back where doc still holds Redacted, so
// an edited copy of a redacted document does not erase secrets. A list
// entry takes its secrets from the old entry of the same name (username,
// id, ...), not from the one at its position: an admin who deleted the
// first of two AMI users and sent the document back gave the second user
// the first one's password. It returns the paths where Redacted was left
// with no old value to stand for (a new entry): the caller refuses those.
func unredact(doc, old any) (unmatched []string) {
	unredactAt("", doc, old, &unmatched)
	return unmatched
}

func unredactAt(path string, doc, old any, unmatched *[]string) any {
	switch x := doc.(type) {
	case map[string]any:
		o, _ := old.(map[string]any)
		for k, e := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if s, ok := e.(string); ok && s == Redacted {
				if ov, ok := o[k]; ok {
					x[k] = ov
				} else {
					*unmatched = append(*unmatched, p)
				}
				continue
			}
			x[k] = unredactAt(p, e, o[k], unmatched)
		}
	case []any:
		o, _ := old.([]any)
		for i := range x {
			x[i] = unredactAt(fmt.Sprintf("%s[%d]", path, i), x[i], oldEntry(x[i], o, i), unmatched)
		}
	}
	return doc
}

// entryKeys name a list entry, in the order they are tried.
var entryKeys = []string{"name", "username", "user", "id", "slot", "number", "address"}

// oldEntry is the entry of old that entry stands for: the one with the same
// name under the first naming key entry has, else (no naming key) the one
// at its position; nil when a named entry is new.
func oldEntry(entry any, old []any, i int) any {
	if m, ok := entry.(map[string]any); ok {
		for _, k := range entryKeys {
			v, ok := m[k]
			if s, isStr := v.(string); !ok || v == nil || isStr && (s == "" || s == Redacted) {
				continue
			}
			for _, oe := range old {
				if om, ok := oe.(map[string]any); ok && reflect.DeepEqual(om[k], v) {
					return oe
				}
			}
			return nil
		}
	}
	if i < len(old) {
		return old[i]
	}
	return nil
}

// FieldError is one validation problem tied to a config path.
type FieldError = webapi.FieldError

// fieldErrors splits a config validation error into per-field messages
// ("network.modem.apn: ..." lines).
func fieldErrors(err error) []FieldError {
	var out []FieldError
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		// Load/Parse prefix the file name; drop it.
		line = strings.TrimPrefix(line, "config not saved: ")
		f, msg, ok := strings.Cut(line, ": ")
		if !ok || strings.ContainsAny(f, " /") {
			out = append(out, FieldError{Message: line})
			continue
		}
		out = append(out, FieldError{Field: f, Message: msg})
	}
	return out
}

// servicesFor names the services to reload after the given sections change.
func servicesFor(sections map[string]bool) []string {
	var out []string
	add := func(s string) {
		for _, o := range out {
			if o == s {
				return
			}
		}
		out = append(out, s)
	}
	for sec := range sections {
		switch sec {
		case "network", "vpn", "system":
			// netctl owns the links, OpenVPN supervision and time sync.
			add("netctl")
			if sec == "system" {
				add("init") // remote syslog target
			}
		case "gateway":
			add("gateway")
		case "web":
			add("web")
		}
	}
	return out
}
