// Package bench runs the gateway under load on loopback and prints one
// table of figures: a SIPp UAS that echoes RTP plays the PBX, the gateway
// runs as its own process (cmd/gateway) so its CPU and memory are read
// from /proc apart from the load generator's (package calldial), and Go
// benchmarks of the hot paths complete the table.
package bench

import (
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"edgebox/devtools/calldial"
	"edgebox/gateway"
	"edgebox/internal/config"
)

//go:embed testdata/uas_load.xml
var uasScenario []byte

// APIKey is the portal key of the benchmark's gateway.
const APIKey = "bench-portal-key-0123456789abcdef"

// goTool is the go command: from PATH, else where the Makefile puts it.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if p := "/usr/local/go/bin/go"; fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// OverlayEnv names a go build -overlay file for the gateway binary: a way
// to measure a proposed change of the gateway's files without editing them.
const OverlayEnv = "EDGEBOX_BENCH_GATEWAY_OVERLAY"

// BinEnv names a gateway binary built beforehand, run instead of one built
// from this tree: the same calldial then drives two builds (an old commit's
// gateway against HEAD's, in alternating runs). An old build must accept
// this tree's config file.
const BinEnv = "EDGEBOX_BENCH_GATEWAY_BIN"

// StackEnv sets gateway.media.stack ("lean", "pion") of calldial bench's
// gateways; unset, the default.
const StackEnv = "EDGEBOX_BENCH_STACK"

// BuildGateway builds cmd/gateway into dir and returns the binary's path
// ($EDGEBOX_BENCH_GATEWAY_BIN instead, when set). It must run inside the
// edgebox module.
func BuildGateway(dir string) (string, error) {
	if bin := os.Getenv(BinEnv); bin != "" {
		if !fileExists(bin) {
			return "", fmt.Errorf("$%s: %s does not exist", BinEnv, bin)
		}
		return bin, nil
	}
	bin := filepath.Join(dir, "gateway")
	args := []string{"build", "-o", bin}
	if ov := os.Getenv(OverlayEnv); ov != "" {
		args = append(args, "-overlay", ov)
	}
	cmd := exec.Command(goTool(), append(args, "edgebox/cmd/gateway")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build cmd/gateway: %v\n%s", err, out)
	}
	return bin, nil
}

// Proc is a process the benchmark started.
type Proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  string
}

func start(cmd *exec.Cmd, logPath string) (*Proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	// the benchmark's children die with it
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &Proc{cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// PID of the process.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop ends the process: SIGTERM, then SIGKILL after grace.
func (p *Proc) Stop(grace time.Duration) {
	if p.Exited() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// LogTail is the end of the process's output, for error messages.
func (p *Proc) LogTail() string {
	data, _ := os.ReadFile(p.log)
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

// UAS is SIPp answering every INVITE and echoing RTP on loopback.
type UAS struct {
	*Proc
	Addr    string // SIP host:port
	RTPPort int    // where it echoes RTP
}

// StartUAS runs SIPp with the load scenario in dir.
func StartUAS(dir string) (*UAS, error) {
	port, err := freeUDPTCPPort()
	if err != nil {
		return nil, err
	}
	mport, err := freeEvenUDPPort()
	if err != nil {
		return nil, err
	}
	return startUAS(dir, "", loopback, port, mport, "")
}

var loopback = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// startUAS runs SIPp with the load scenario in dir, in network namespace
// ns ("": this one), SIP on ip:port, RTP echo on ip:mport.
func startUAS(dir, ns string, ip netip.Addr, port, mport int, cpu string) (*UAS, error) {
	bin, err := exec.LookPath("sipp")
	if err != nil {
		return nil, fmt.Errorf("sipp not installed (Debian package sip-tester, listed in scripts/deps.sh): %w", err)
	}
	scen := filepath.Join(dir, "uas_load.xml")
	if err := os.WriteFile(scen, uasScenario, 0o644); err != nil {
		return nil, err
	}
	args := []string{"-sf", scen, "-i", ip.String(), "-p", strconv.Itoa(port),
		"-mi", ip.String(), "-mp", strconv.Itoa(mport), "-rtp_echo", "-nostdin", "-trace_err"}
	cmd := exec.Command(bin, args...)
	if ns != "" {
		// ip netns exec execs SIPp itself: the PID is SIPp's
		cmd = exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	}
	if cpu != "" {
		cmd = onCPU(cpu, cmd)
	}
	cmd.Dir = dir
	p, err := start(cmd, filepath.Join(dir, "sipp.log"))
	if err != nil {
		return nil, err
	}
	u := &UAS{Proc: p, Addr: netip.AddrPortFrom(ip, uint16(port)).String(), RTPPort: mport}
	// listening once its port can no longer be bound (bounded wait)
	for i := 0; ; i++ {
		err := calldial.InNetns(ns, func() error {
			c, err := net.ListenPacket("udp", u.Addr)
			if err == nil {
				c.Close()
			}
			return err
		})
		if err != nil {
			break
		}
		if p.Exited() || i == 500 {
			p.Stop(time.Second)
			return nil, fmt.Errorf("sipp did not start listening on %s: %v\n%s", u.Addr, p.err, p.LogTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// RTP echo on -mp (audio) and -mp+2 (video), and SIP: at 800 set-ups
	// a second SIPp's SIP socket overflowed too, and SIPp aborts a call
	// on the INVITE retransmission that follows
	if os.Geteuid() == 0 {
		if err := forceUDPBuffers(p.PID(), uasSockBuf, ip, port, mport, mport+2); err != nil {
			p.Stop(time.Second)
			return nil, fmt.Errorf("sipp socket buffers: %w", err)
		}
	}
	return u, nil
}

// Gateway is cmd/gateway running on loopback toward a UAS.
type Gateway struct {
	*Proc
	Portal string // portal base URL
	Socket string // API socket
	Config config.Gateway
}

// GatewayConfig is the benchmark's gateway section: everything on
// loopback, plain HTTP portal, a rate limit and a call limit above any
// load point and an RTP port range for maxCalls calls.
func GatewayConfig(pbx string, maxCalls int) (config.Gateway, error) {
	c := config.DefaultGateway()
	c.Enabled = true
	c.PBX.Address = pbx
	sip, err := freeUDPTCPPort()
	if err != nil {
		return c, err
	}
	portal, err := freeTCPPort()
	if err != nil {
		return c, err
	}
	ice, err := freeEvenUDPPort()
	if err != nil {
		return c, err
	}
	c.SIP.Listen = []config.GatewaySIPListen{{Transport: "udp", Address: fmt.Sprintf("127.0.0.1:%d", sip)}}
	c.Portal.Listen = fmt.Sprintf("127.0.0.1:%d", portal)
	c.Portal.PlainHTTP = true
	c.Portal.APIKeys = []config.GatewayAPIKey{{Name: "bench", SHA256: gateway.HashAPIKey(APIKey), Destinations: []string{"*", "sip:*"}, FromDomains: []string{"*"}}}
	c.Portal.RatePerMinute = 100000
	c.Media.ICEPort = ice
	c.Media.ICEAddress = "127.0.0.1"
	c.Media.PublicAddress = "127.0.0.1"
	c.Media.RTPAddress = "127.0.0.1"
	// below the ephemeral range (32768..): ports the pool cannot bind are skipped
	c.Media.RTPPortMin, c.Media.RTPPortMax = freeRTPRange(4*maxCalls + 64)
	// the box's call limit above the point's calls, with room for calls
	// still hanging up while the next start
	c.MaxCalls = min(maxCalls+64, 10000)
	if st := os.Getenv(StackEnv); st != "" {
		c.Media.Stack = st
	}
	return c, nil
}

// StartGateway writes cfg into dir and runs the gateway binary on it.
func StartGateway(bin, dir string, cfg config.Gateway) (*Gateway, error) {
	return startGateway(bin, dir, cfg, gatewayRun{})
}

// gatewayRun is how the benchmark runs a gateway beyond its config.
type gatewayRun struct {
	cpu   string // CPU list to pin it to (taskset -c), "" for all
	pprof string // EDGEBOX_PPROF: its profiler on this loopback host:port
}

func startGateway(bin, dir string, cfg config.Gateway, run gatewayRun) (*Gateway, error) {
	full := config.Default()
	full.Gateway = cfg
	cfgPath := filepath.Join(dir, "config.json")
	if err := config.Save(cfgPath, full); err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "gateway.sock")
	cmd := exec.Command(bin, "--config", cfgPath, "--socket", sock)
	cmd.Env = append(os.Environ(), "EDGEBOX_RUN_DIR="+dir, "EDGEBOX_PERM_DIR="+dir)
	if run.pprof != "" {
		cmd.Env = append(cmd.Env, "EDGEBOX_PPROF="+run.pprof)
	}
	if run.cpu != "" {
		cmd = onCPU(run.cpu, cmd)
	}
	p, err := start(cmd, filepath.Join(dir, "gateway.log"))
	if err != nil {
		return nil, err
	}
	g := &Gateway{Proc: p, Portal: "http://" + cfg.Portal.Listen, Socket: sock, Config: cfg}
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", cfg.Portal.Listen, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if p.Exited() || i == 250 {
			p.Stop(time.Second)
			return nil, fmt.Errorf("gateway portal not up on %s: %v\n%s", cfg.Portal.Listen, p.err, p.LogTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return g, nil
}

// freeRTPRange is a range of n ports below the ephemeral range (32768..)
// whose first ports are free: another benchmark's gateway on this
// machine may hold a range (ports the pool cannot bind are skipped, so a
// range taken whole would fail every call with "no media port").
func freeRTPRange(n int) (lo, hi int) {
	n = min(n, 32767-20000)
	for start := 20000; start+n <= 32767; start += 512 {
		free := true
		for p := start; p < start+16 && free; p++ {
			c, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				free = false
				break
			}
			c.Close()
		}
		if free {
			return start, start + n
		}
	}
	return 20000, 20000 + n
}

func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func freeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// freeUDPTCPPort is free for both (SIP listens on both).
func freeUDPTCPPort() (int, error) {
	for i := 0; i < 50; i++ {
		p, err := freeUDPPort()
		if err != nil {
			return 0, err
		}
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
			l.Close()
			return p, nil
		}
	}
	return 0, errors.New("no port free for both UDP and TCP on 127.0.0.1")
}

// freeEvenUDPPort is an even UDP port whose odd neighbour is free too
// (SIPp echoes RTP on -mp and -mp+2; RTP/RTCP pairs).
func freeEvenUDPPort() (int, error) {
	for i := 0; i < 100; i++ {
		p, err := freeUDPPort()
		if err != nil {
			return 0, err
		}
		p &^= 1
		var held []net.PacketConn
		ok := true
		for q := p; q < p+4; q++ {
			c, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(q))
			if err != nil {
				ok = false
				break
			}
			held = append(held, c)
		}
		for _, c := range held {
			c.Close()
		}
		if ok {
			return p, nil
		}
	}
	return 0, errors.New("no free even UDP port pair on 127.0.0.1")
}

// Rig is a UAS and a gateway in front of it, on loopback.
type Rig struct {
	UAS     *UAS
	Gateway *Gateway
}

// StartRig starts SIPp and the gateway binary bin, sized for maxCalls.
func StartRig(bin, dir string, maxCalls int) (*Rig, error) {
	uas, err := StartUAS(dir)
	if err != nil {
		return nil, err
	}
	cfg, err := GatewayConfig(uas.Addr, maxCalls)
	if err != nil {
		uas.Stop(time.Second)
		return nil, err
	}
	gw, err := StartGateway(bin, dir, cfg)
	if err != nil {
		uas.Stop(time.Second)
		return nil, err
	}
	return &Rig{UAS: uas, Gateway: gw}, nil
}

// WatchUDP are the rig's shared sockets, where overload shows as drops.
func (r *Rig) WatchUDP() map[string]int {
	w := map[string]int{"gateway_ice": r.Gateway.Config.Media.ICEPort, "uas_rtp": r.UAS.RTPPort}
	// SIP too: a lost response leaves a call unanswered until retransmission
	if len(r.Gateway.Config.SIP.Listen) > 0 {
		if _, p, err := net.SplitHostPort(r.Gateway.Config.SIP.Listen[0].Address); err == nil {
			w["gateway_sip"], _ = strconv.Atoi(p)
		}
	}
	if _, p, err := net.SplitHostPort(r.UAS.Addr); err == nil {
		w["uas_sip"], _ = strconv.Atoi(p)
	}
	return w
}

// Close stops the gateway (it hangs up what is left) and then SIPp.
func (r *Rig) Close() {
	r.Gateway.Stop(15 * time.Second)
	r.UAS.Stop(5 * time.Second)
}

// WorkDir is where a run keeps the gateway's and SIPp's config and logs:
// keep if given (created, and left for reading), else a temporary
// directory that done removes.
func WorkDir(keep string) (dir string, done func(), err error) {
	if keep != "" {
		return keep, func() {}, os.MkdirAll(keep, 0o755)
	}
	dir, err = os.MkdirTemp("", "edgebox-bench-")
	if err != nil {
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}
