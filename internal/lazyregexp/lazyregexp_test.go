package lazyregexp

import (
	"regexp"
	"testing"
)

// Outside a test binary nothing is compiled until the first use; then it
// answers as regexp does.
func TestCompiledOnFirstUse(t *testing.T) {
	defer func(was bool) { inTest = was }(inTest)
	inTest = false
	r := New(`^[a-z]([a-z0-9-]{0,62})(\.[a-z]+)?$`)
	if r.rx != nil {
		t.Fatal("compiled by New: the package initialiser would pay for it")
	}
	want := regexp.MustCompile(`^[a-z]([a-z0-9-]{0,62})(\.[a-z]+)?$`)
	for _, s := range []string{"box-1.lan", "Box", "", "a.b.c"} {
		if got, w := r.MatchString(s), want.MatchString(s); got != w {
			t.Errorf("MatchString(%q) = %v, regexp says %v", s, got, w)
		}
		if got, w := r.FindStringSubmatch(s), want.FindStringSubmatch(s); len(got) != len(w) {
			t.Errorf("FindStringSubmatch(%q) = %q, regexp says %q", s, got, w)
		}
	}
	if r.rx == nil {
		t.Fatal("not compiled after use")
	}
}

// A bad expression still fails in its package's tests (compiled at New),
// and in a service at its first use.
func TestBadExpressionPanics(t *testing.T) {
	defer func(was bool) { inTest = was }(inTest)
	for _, test := range []bool{true, false} {
		inTest = test
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("inTest=%v: no panic for a bad expression", test)
				}
			}()
			New(`(`).MatchString("x")
		}()
	}
}
