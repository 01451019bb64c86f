package bench

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Pinned points measure what one core of the gateway carries: the
// gateway runs on CPU 1 alone (started under taskset, so its Go runtime
// sizes itself to that one core), SIPp and calldial on CPU 0. On the
// 2-core rig the gateway's core is then its own, whatever the load
// generators cost.
const (
	gatewayCPU = "1"
	loadCPU    = "0"
)

// onCPU runs cmd under taskset -c cpus (util-linux): taskset execs the
// program, so the process keeps its PID.
func onCPU(cpus string, cmd *exec.Cmd) *exec.Cmd {
	c := exec.Command("taskset", append([]string{"-c", cpus, cmd.Path}, cmd.Args[1:]...)...)
	c.Dir, c.Env = cmd.Dir, cmd.Env
	return c
}

// canPin says why pinned points cannot run here ("" when they can).
func canPin() string {
	if runtime.NumCPU() < 2 {
		return fmt.Sprintf("pinned points need 2 CPUs, this machine has %d", runtime.NumCPU())
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return "taskset (util-linux) not installed"
	}
	return ""
}

// pinSelf moves every thread of this process (calldial) to cpus and
// returns the undo: back to all CPUs.
func pinSelf(cpus string) (undo func(), err error) {
	all := fmt.Sprintf("0-%d", runtime.NumCPU()-1)
	set := func(c string) error {
		out, err := exec.Command("taskset", "-a", "-p", "-c", c, strconv.Itoa(os.Getpid())).CombinedOutput()
		if err != nil {
			return fmt.Errorf("taskset -a -p -c %s: %v: %s", c, err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := set(cpus); err != nil {
		return nil, err
	}
	return func() { set(all) }, nil
}

// gatewayGoroutines reads a gateway's goroutine count from its profiler
// (EDGEBOX_PPROF, loopback only).
func gatewayGoroutines(addr string) (int, error) {
	c := http.Client{Timeout: 5 * time.Second}
	res, err := c.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	var n int
	_, err = fmt.Fscanf(res.Body, "goroutine profile: total %d", &n)
	return n, err
}
