package testenv

import (
	"flag"
	"strconv"
)

// DefaultParallel sets go test's -parallel to n for this test binary
// unless the command line gave one. Call it from TestMain before m.Run.
//
// go test's default, GOMAXPROCS, suits tests that use the CPU; tests that
// mostly wait (on a DHCP lease, a modem's timer, a peer's pause) each in
// their own namespaces and ports leave the cores idle at that, so their
// package may let more run at once.
func DefaultParallel(n int) {
	if !flag.Parsed() {
		flag.Parse()
	}
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given && n > 0 {
		flag.Set("test.parallel", strconv.Itoa(n))
	}
}
