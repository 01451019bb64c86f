package kmod

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
)

// Aliases is depmod's modules.alias: the device patterns each module's
// driver binds to ("alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e").
type Aliases struct {
	list []alias
	// device names modules that bind to hardware (some pattern is a bus
	// modalias), as opposed to filesystems, netfilter or line disciplines,
	// which only an explicit list can ask for.
	device map[string]bool

	// The "usb:" patterns are four in five of the image's file (the modem
	// drivers' ID tables) and no USB device exists when init reads the
	// file: the host controller's driver loads later. They are kept as
	// "PATTERN MODULE" text and parsed when a USB device is first matched,
	// which saves about a tenth of a second of PID 1's boot under QEMU.
	usbText []string
	usbOnce sync.Once
	usb     []alias
}

type alias struct {
	pattern string
	literal string // the pattern up to its first wildcard: a cheap first test
	module  string
}

func newAlias(pattern, module string) alias {
	lit := pattern
	if i := strings.IndexAny(lit, "*?["); i >= 0 {
		lit = lit[:i]
	}
	return alias{pattern: pattern, literal: lit, module: Name(module)}
}

// ParseAliases reads modules.alias.
func ParseAliases(r io.Reader) (*Aliases, error) {
	a := &Aliases{device: map[string]bool{}}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	rest := string(b) // lines are substrings of it: no copy each
	lastUSBModule := ""
	for n := 1; rest != ""; n++ {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if text := strings.TrimPrefix(line, "alias "); strings.HasPrefix(text, "usb:") && strings.Count(text, " ") == 1 {
			a.usbText = append(a.usbText, text)
			if _, mod, _ := strings.Cut(text, " "); mod != lastUSBModule {
				a.device[Name(mod)] = true
				lastUSBModule = mod
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "alias" {
			return nil, fmt.Errorf("modules.alias line %d: want \"alias PATTERN MODULE\", got %q", n, line)
		}
		al := newAlias(f[1], f[2])
		a.list = append(a.list, al)
		if isDeviceAlias(f[1]) {
			a.device[al.module] = true
		}
	}
	return a, nil
}

// usbAliases parses the "usb:" patterns, once.
func (a *Aliases) usbAliases() []alias {
	a.usbOnce.Do(func() {
		a.usb = make([]alias, 0, len(a.usbText))
		for _, t := range a.usbText {
			pattern, mod, _ := strings.Cut(t, " ")
			a.usb = append(a.usb, newAlias(pattern, mod))
		}
	})
	return a.usb
}

// all is every alias, the USB ones parsed.
func (a *Aliases) all() []alias {
	return append(append([]alias{}, a.list...), a.usbAliases()...)
}

// isDeviceAlias tells a bus modalias pattern ("pci:...", "usb:...",
// "acpi*:...", "dmi*:...", "platform:...") from the names the kernel asks
// modprobe for on its own ("fs-ext4", "crypto-crc32c", "devname:net/tun",
// "char-major-10-200", "nfnetlink-subsys-10").
func isDeviceAlias(p string) bool {
	bus, _, ok := strings.Cut(p, ":")
	return ok && bus != "devname" && bus != ""
}

// Match returns the modules whose patterns match one device's modalias,
// sorted, each once. The patterns are fnmatch(3) globs, as modprobe reads them.
func (a *Aliases) Match(modalias string) []string {
	set := map[string]bool{}
	match := func(list []alias) {
		for _, al := range list {
			if strings.HasPrefix(modalias, al.literal) && glob(al.pattern, modalias) {
				set[al.module] = true
			}
		}
	}
	match(a.list)
	if strings.HasPrefix(modalias, "usb:") {
		match(a.usbAliases())
	}
	return sortedKeys(set)
}

// BindsDevices reports whether module name is a driver that hardware
// matching loads (it has a bus modalias pattern).
func (a *Aliases) BindsDevices(name string) bool { return a.device[Name(name)] }

// Filter keeps only the aliases of the named modules: the image ships the
// patterns of the modules it ships, so init matches against exactly those.
func (a *Aliases) Filter(keep func(module string) bool) *Aliases {
	out := &Aliases{device: map[string]bool{}}
	for _, al := range a.all() {
		if keep(al.module) {
			out.list = append(out.list, al)
			if a.device[al.module] {
				out.device[al.module] = true
			}
		}
	}
	return out
}

// WriteTo writes the aliases back in depmod's format.
func (a *Aliases) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	b.WriteString("# Aliases extracted from modules themselves.\n")
	for _, al := range a.all() {
		fmt.Fprintf(&b, "alias %s %s\n", al.pattern, al.module)
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// glob is fnmatch(3) without flags, as kmod uses it for aliases: '*' and '?'
// match any character including '/', '[...]' is a set ('!' or '^' negates,
// ranges allowed), '\' quotes the next character.
func glob(pattern, s string) bool {
	// Iterative matching with one backtrack point for the last '*'.
	var px, sx, starP, starS = 0, 0, -1, 0
	for sx < len(s) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				starP, starS = px, sx
				px++
				continue
			case '?':
				px++
				sx++
				continue
			case '[':
				if ok, next, valid := matchSet(pattern, px, s[sx]); valid {
					if ok {
						px, sx = next, sx+1
						continue
					}
				} else if s[sx] == '[' { // unterminated set: a literal '['
					px, sx = px+1, sx+1
					continue
				}
			case '\\':
				if px+1 < len(pattern) && pattern[px+1] == s[sx] {
					px, sx = px+2, sx+1
					continue
				}
			default:
				if c == s[sx] {
					px, sx = px+1, sx+1
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		px, sx = starP+1, starS
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}

// matchSet matches c against the set starting at pattern[open] == '['. It
// returns whether c is in it, the index after the closing ']', and whether
// the set is well formed.
func matchSet(pattern string, open int, c byte) (in bool, next int, valid bool) {
	i := open + 1
	negate := false
	if i < len(pattern) && (pattern[i] == '!' || pattern[i] == '^') {
		negate = true
		i++
	}
	first := true
	for i < len(pattern) {
		if pattern[i] == ']' && !first {
			return in != negate, i + 1, true
		}
		first = false
		lo := pattern[i]
		hi := lo
		if i+2 < len(pattern) && pattern[i+1] == '-' && pattern[i+2] != ']' {
			hi = pattern[i+2]
			i += 3
		} else {
			i++
		}
		if lo <= c && c <= hi {
			in = true
		}
	}
	return false, 0, false
}
