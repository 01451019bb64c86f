// Package lazyregexp is a regexp compiled on first use instead of when its
// package is initialised, as the Go toolchain's own internal/lazyregexp.
//
// Every box service is the one multi-call binary and so initialises every
// package linked into it, whichever service it is: a package-level
// regexp.MustCompile in web is paid by netctl and the gateway too, at each
// start, before main. Counted repetitions make that dear ({0,99} is a
// hundred nested alternatives: ~95 KB allocated, milliseconds under
// QEMU's TCG); the boot waits for it three times over.
package lazyregexp

import (
	"os"
	"regexp"
	"strings"
	"sync"
)

// Regexp is a regexp.Regexp compiled the first time it is used.
type Regexp struct {
	str  string
	once sync.Once
	rx   *regexp.Regexp
}

func (r *Regexp) re() *regexp.Regexp {
	r.once.Do(r.build)
	return r.rx
}

func (r *Regexp) build() {
	r.rx = regexp.MustCompile(r.str)
	r.str = ""
}

// inTest compiles at once in test binaries, so that an expression that
// does not compile still fails every test of its package, as a
// package-level regexp.MustCompile did.
var inTest = len(os.Args) > 0 && strings.HasSuffix(strings.TrimSuffix(os.Args[0], ".exe"), ".test")

// New is regexp.MustCompile(str), deferred to the first use; it panics
// then if str does not compile.
func New(str string) *Regexp {
	r := &Regexp{str: str}
	if inTest {
		r.re()
	}
	return r
}

// Regexp is the compiled expression, for what the methods below lack.
func (r *Regexp) Regexp() *regexp.Regexp { return r.re() }

func (r *Regexp) MatchString(s string) bool { return r.re().MatchString(s) }

func (r *Regexp) FindString(s string) string { return r.re().FindString(s) }

func (r *Regexp) FindStringSubmatch(s string) []string { return r.re().FindStringSubmatch(s) }

func (r *Regexp) FindAllString(s string, n int) []string { return r.re().FindAllString(s, n) }

func (r *Regexp) FindAllStringSubmatch(s string, n int) [][]string {
	return r.re().FindAllStringSubmatch(s, n)
}

func (r *Regexp) ReplaceAllString(src, repl string) string { return r.re().ReplaceAllString(src, repl) }

func (r *Regexp) ReplaceAllStringFunc(src string, repl func(string) string) string {
	return r.re().ReplaceAllStringFunc(src, repl)
}

func (r *Regexp) String() string { return r.re().String() }

func (r *Regexp) FindAllStringIndex(s string, n int) [][]int { return r.re().FindAllStringIndex(s, n) }

func (r *Regexp) Split(s string, n int) []string { return r.re().Split(s, n) }
