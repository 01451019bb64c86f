package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"edgebox/devtools/calldial"
)

// Janus (Debian package janus, its SIP plugin) is the closest existing
// product to the gateway: a browser-facing API in front of a SIP user
// agent. The benchmark runs it at the gateway's load points, toward the
// same SIPp scenario, so both are measured in one run on the same
// loaded machine.
//
// Janus's ICE (libnice) gathers no candidates on loopback, so Janus and
// its SIPp run in a network namespace of the benchmark's own, the calls'
// sockets in a second one, joined by a veth pair with 198.18.0.x
// addresses (the benchmarking range, RFC 2544): nothing touches the
// host's interfaces. (One namespace holding both veth ends does not do:
// a packet Janus sends out of its veth arrives with a local source
// address on the other end, and the kernel drops it as martian.)

var (
	janusIP  = netip.AddrFrom4([4]byte{198, 18, 0, 1})
	callerIP = netip.AddrFrom4([4]byte{198, 18, 0, 2})
)

const (
	janusWSPort = 8188
	janusSIP    = 5060 // SIPp's SIP port in the namespace
	janusRTP    = 6000 // SIPp's RTP echo port in the namespace
	janusIface  = "jn0"
)

// JanusNet is the benchmark's pair of namespaces for Janus: Name holds
// Janus and SIPp, Callers the calls' sockets.
type JanusNet struct {
	Name, Callers string
}

// NewJanusNet makes the namespaces (named after this process) and the
// veth pair between them. Close removes them.
func NewJanusNet() (*JanusNet, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("janus runs in network namespaces of its own: run the benchmark as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("ip (Debian package iproute2) not installed: %w", err)
	}
	n := &JanusNet{Name: fmt.Sprintf("ebjanus-%d", os.Getpid()), Callers: fmt.Sprintf("ebjcall-%d", os.Getpid())}
	steps := [][]string{
		{"netns", "add", n.Name},
		{"netns", "add", n.Callers},
		{"-n", n.Name, "link", "set", "lo", "up"},
		{"-n", n.Callers, "link", "set", "lo", "up"},
		{"link", "add", janusIface, "netns", n.Name, "type", "veth", "peer", "name", "jc0", "netns", n.Callers},
		{"-n", n.Name, "addr", "add", janusIP.String() + "/24", "dev", janusIface},
		{"-n", n.Callers, "addr", "add", callerIP.String() + "/24", "dev", "jc0"},
		{"-n", n.Name, "link", "set", janusIface, "up"},
		{"-n", n.Callers, "link", "set", "jc0", "up"},
	}
	for i, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			if i > 0 {
				n.Close()
			}
			return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(s, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return n, nil
}

// Close stops whatever still runs in the namespaces (only the benchmark's
// processes can: the namespaces are its own) and removes them.
func (n *JanusNet) Close() {
	for _, ns := range []string{n.Name, n.Callers} {
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		for _, f := range strings.Fields(string(out)) {
			// not this process: a thread of it that entered the namespace
			// and was parked for good (the main thread can be) lists it
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		exec.Command("ip", "netns", "del", ns).Run()
	}
}

// janusLibDir is where Debian puts Janus's plugins and transports.
func janusLibDir() (string, error) {
	m, _ := filepath.Glob("/usr/lib/*/janus/plugins/libjanus_sip.so")
	if len(m) == 0 {
		return "", errors.New("the SIP plugin of janus not found (Debian package janus, listed in scripts/deps.sh)")
	}
	return filepath.Dir(filepath.Dir(m[0])), nil
}

// janusConfig writes Janus's configuration into dir: only the SIP plugin
// and the WebSocket transport are loaded (folders holding just those two),
// ICE on the namespace's Janus address only.
func janusConfig(dir string) error {
	lib, err := janusLibDir()
	if err != nil {
		return err
	}
	for sub, so := range map[string]string{"plugins": "libjanus_sip.so", "transports": "libjanus_websockets.so", "events": "", "loggers": ""} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
		if so != "" {
			if err := os.Symlink(filepath.Join(lib, sub, so), filepath.Join(dir, sub, so)); err != nil && !os.IsExist(err) {
				return err
			}
		}
	}
	files := map[string]string{
		"janus.jcfg": fmt.Sprintf(`general: {
	configs_folder = "%[1]s"
	plugins_folder = "%[1]s/plugins"
	transports_folder = "%[1]s/transports"
	events_folder = "%[1]s/events"
	loggers_folder = "%[1]s/loggers"
	debug_level = 3
	# its own address: the namespace has no default route to find it by
	interface = "%[4]s"
	# Janus's advice for many handles: a fixed set of event loops instead
	# of a thread per handle
	event_loops = %[2]d
}
certificates: {
}
media: {
	rtp_port_range = "20000-39999"
}
nat: {
	ice_enforce_list = "%[3]s"
	ignore_mdns = true
}
plugins: {
}
transports: {
}
events: {
}
`, dir, runtime.NumCPU(), janusIface, janusIP),
		"janus.transport.websockets.jcfg": fmt.Sprintf(`general: {
	json = "compact"
	ws = true
	ws_port = %d
	ws_ip = "%s"
	wss = false
}
admin: {
	admin_ws = false
	admin_wss = false
}
`, janusWSPort, janusIP),
		"janus.plugin.sip.jcfg": fmt.Sprintf(`general: {
	local_ip = "%s"
	keepalive_interval = 0
	behind_nat = false
	register_ttl = 3600
	rtp_port_range = "40000-60000"
	sip_timer_t1x64 = 32000
	events = false
}
`, janusIP),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// startJanus runs Janus in the namespace with a configuration in dir and
// waits until its WebSocket API accepts connections.
func startJanus(n *JanusNet, dir string) (*Proc, error) {
	bin, err := exec.LookPath("janus")
	if err != nil {
		return nil, fmt.Errorf("janus not installed (Debian package janus, listed in scripts/deps.sh): %w", err)
	}
	if err := janusConfig(dir); err != nil {
		return nil, err
	}
	cmd := exec.Command("ip", "netns", "exec", n.Name, bin, "-C", filepath.Join(dir, "janus.jcfg"), "-F", dir, "-o")
	cmd.Dir = dir
	p, err := start(cmd, filepath.Join(dir, "janus.log"))
	if err != nil {
		return nil, err
	}
	addr := netip.AddrPortFrom(janusIP, janusWSPort).String()
	// bounded: Janus makes its DTLS certificate at start, slow on a busy machine
	for i := 0; ; i++ {
		err := calldial.InNetns(n.Callers, func() error {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
		if err == nil {
			return p, nil
		}
		if p.Exited() || i == 600 {
			p.Stop(time.Second)
			return nil, fmt.Errorf("janus did not open its WebSocket API on %s: %v\n%s", addr, p.err, p.LogTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runJanusPoint measures Janus at point p: a fresh SIPp and Janus in the
// namespace, calldial's calls through Janus's API, then both stopped.
func runJanusPoint(ctx context.Context, n *JanusNet, dir string, p Point, lean bool, progress io.Writer) *Result {
	res := &Result{Point: p}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		res.Error = err.Error()
		return res
	}
	uas, err := startUAS(dir, n.Name, janusIP, janusSIP, janusRTP, "")
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer uas.Stop(5 * time.Second)
	janus, err := startJanus(n, dir)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer janus.Stop(15 * time.Second)
	time.Sleep(300 * time.Millisecond) // as for the gateway: settle before the baseline
	rep, err := calldial.Run(ctx, calldial.Options{
		Janus:       "ws://" + netip.AddrPortFrom(janusIP, janusWSPort).String(),
		Destination: "sip:agent@" + uas.Addr,
		Netns:       n.Callers, LocalIP: callerIP, Codec: p.Codec,
		Rate: p.Rate, Concurrency: p.Concurrency, Total: p.Total, Hold: p.Hold,
		GatewayPID: janus.PID(), UASPID: uas.PID(), Progress: progress,
		// at the concurrency points the pages are loaded (registered)
		// before the calls, or Janus, which registers about 10 sessions
		// a second, would never hold the point's calls at once; the set-up
		// points time and measure the whole: register, then call
		JanusRegisterFirst: !p.Ramp,
		// the lean caller works with Janus too: one nominating check
		// and answers to libnice's, calldial the DTLS server (Janus
		// answers setup:active)
		Lean: lean,
	})
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.Report = rep
	if janus.Exited() {
		res.Error = "janus exited during the run:\n" + janus.LogTail()
	}
	return res
}
