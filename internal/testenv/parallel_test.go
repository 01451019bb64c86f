package testenv

import (
	"flag"
	"testing"
)

// TestDefaultParallel: without -parallel on the command line the value
// becomes the package's default; with one, the command line's stays.
func TestDefaultParallel(t *testing.T) {
	f := flag.Lookup("test.parallel")
	old := f.Value.String()
	t.Cleanup(func() { f.Value.Set(old) })
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	want := "7"
	if given {
		want = old
	}
	DefaultParallel(7)
	if got := f.Value.String(); got != want {
		t.Errorf("test.parallel = %s after DefaultParallel(7) (given on the command line: %v), want %s", got, given, want)
	}
}
