package netctl_test

// Namespace tests: the box runs the real cmd/netctl binary in a network
// namespace made by the test, with veth pairs to an "internet" namespace
// (playing the wired ISP, the LTE carrier and a server on the internet)
// and to a LAN client namespace. Debian's dnsmasq serves DHCP.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"edgebox/internal/testenv"
	"edgebox/netctl"
)

// builds holds one build of each command per test binary.
var builds sync.Map // "netctl", "modemsim" -> func() (string, error)

// builtCmd builds edgebox/cmd/NAME once per test binary and returns its path.
func builtCmd(t testing.TB, name string) string {
	f, _ := builds.LoadOrStore(name, sync.OnceValues(func() (string, error) {
		dir, err := os.MkdirTemp("", name+"-bin")
		if err != nil {
			return "", err
		}
		bin := filepath.Join(dir, name)
		if out, err := exec.Command("go", "build", "-o", bin, "edgebox/cmd/"+name).CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build %s: %v\n%s", name, err, out)
		}
		return bin, nil
	}))
	bin, err := f.(func() (string, error))()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// netctlBinary builds cmd/netctl once per test binary.
func netctlBinary(t testing.TB) string { return builtCmd(t, "netctl") }

func run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// rig is one set of namespaces.
type rig struct {
	t              testing.TB
	box, inet, lan string // namespace names
	dir            string
	sock           string
	resolv         string
	cfgPath        string
	proc           *exec.Cmd
	procDone       chan struct{}
	log            *testenv.LogBuffer
	dnsmasq        map[string]*testenv.Proc
	dnsmasqLogs    map[string]*testenv.LogBuffer
	client         netctl.Client
	boxNS, inetNS  netns.NsHandle
	lanNS          netns.NsHandle
	boxH           *netlink.Handle
	netctlArgs     []string // extra flags for startNetctl
}

// Addresses in the rig (inside the test's namespaces only).
const (
	wanNet      = "10.1.0"
	lteNet      = "10.2.0"
	internetIP  = "10.9.0.9"
	lanBoxAddr  = "192.168.50.1"
	lanHostAddr = "192.168.50.2"
)

// newRig makes namespaces box, inet and lan with veths:
//
//	box wan0 <-> inet wanp 10.1.0.1/24   (wired ISP)
//	box lte0 <-> inet ltep 10.2.0.1/24   (LTE carrier: the modem's CDC Ethernet)
//	box lan0 <-> lan lanc 192.168.50.2/24 (LAN client, default via the box)
//	inet lo 10.9.0.9/32                  (a server on the internet)
func newRig(t testing.TB, tag string) *rig {
	testenv.RequireRoot(t, "ip", "/usr/sbin/dnsmasq")
	bin := netctlBinary(t)
	// tag, this process and a sequence number: two parallel tests that
	// chose one tag must not share (and delete) each other's namespaces
	id := testenv.UniqueName(tag)
	r := &rig{t: t, box: "nb" + id, inet: "ni" + id, lan: "nl" + id, dir: t.TempDir(),
		dnsmasq: map[string]*testenv.Proc{}, dnsmasqLogs: map[string]*testenv.LogBuffer{}, log: &testenv.LogBuffer{}}
	_ = bin
	boxNS, inetNS, lanNS := testenv.NewNetns(t, r.box), testenv.NewNetns(t, r.inet), testenv.NewNetns(t, r.lan)
	run(t, "ip", "link", "add", "wan0", "netns", r.box, "type", "veth", "peer", "name", "wanp", "netns", r.inet)
	run(t, "ip", "link", "add", "lte0", "netns", r.box, "type", "veth", "peer", "name", "ltep", "netns", r.inet)
	run(t, "ip", "link", "add", "lan0", "netns", r.box, "type", "veth", "peer", "name", "lanc", "netns", r.lan)
	run(t, "ip", "-n", r.inet, "addr", "add", wanNet+".1/24", "dev", "wanp")
	run(t, "ip", "-n", r.inet, "addr", "add", lteNet+".1/24", "dev", "ltep")
	run(t, "ip", "-n", r.inet, "addr", "add", internetIP+"/32", "dev", "lo")
	run(t, "ip", "-n", r.inet, "link", "set", "wanp", "up")
	run(t, "ip", "-n", r.inet, "link", "set", "ltep", "up")
	run(t, "ip", "-n", r.lan, "addr", "add", lanHostAddr+"/24", "dev", "lanc")
	run(t, "ip", "-n", r.lan, "link", "set", "lanc", "up")
	run(t, "ip", "-n", r.lan, "route", "add", "default", "via", lanBoxAddr)
	r.boxNS, r.inetNS, r.lanNS = boxNS.Handle(), inetNS.Handle(), lanNS.Handle()
	var err error
	if r.boxH, err = netlink.NewHandleAt(r.boxNS); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.boxH.Close)
	r.sock = filepath.Join(r.dir, "netctl.sock")
	r.resolv = filepath.Join(r.dir, "resolv.conf")
	r.cfgPath = filepath.Join(r.dir, "config.json")
	r.client = netctl.NewClientPath(r.sock)
	return r
}

// dialFrom connects to addr from namespace ns and returns the first line
// the server sends.
func dialFrom(ns netns.NsHandle, addr string, timeout time.Duration) (string, error) {
	return dialFromSource(ns, "", addr, timeout)
}

// serve listens on addr in ns and answers every connection with the
// client's address.
func serve(t testing.TB, ns netns.NsHandle, addr string) {
	var l net.Listener
	if err := testenv.DoInHandle(ns, func() error {
		var err error
		l, err = net.Listen("tcp4", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s\n", c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	}()
}

// startDNSMasq serves DHCP on iface in the inet namespace.
func (r *rig) startDNSMasq(iface, subnet string, extra ...string) {
	r.t.Helper()
	logb := r.dnsmasqLogs[iface]
	if logb == nil {
		logb = &testenv.LogBuffer{}
		r.dnsmasqLogs[iface] = logb
	}
	args := []string{"netns", "exec", r.inet, "/usr/sbin/dnsmasq", "--no-daemon", "--conf-file=/dev/null",
		"--port=0", "--no-resolv", "--no-hosts", "--bind-interfaces", "--interface=" + iface, "--except-interface=lo",
		"--dhcp-range=" + subnet + ".100," + subnet + ".150,255.255.255.0,2m",
		"--dhcp-option=option:router," + subnet + ".1",
		"--dhcp-option=option:dns-server," + subnet + ".53",
		"--dhcp-leasefile=" + filepath.Join(r.dir, iface+".leases"),
		"--pid-file=" + filepath.Join(r.dir, iface+".pid"),
		"--log-dhcp", "--log-facility=-", "--dhcp-authoritative"}
	args = append(args, extra...)
	p := testenv.Command(r.t, "ip", args...)
	p.Cmd.Stdout, p.Cmd.Stderr = logb, logb // kept across restarts
	r.dnsmasq[iface] = p.Start()            // killed when the test ends
}

// stopDNSMasq kills the DHCP server on iface, as a dead ISP box would.
func (r *rig) stopDNSMasq(iface string) {
	if p := r.dnsmasq[iface]; p != nil {
		p.Kill()
		delete(r.dnsmasq, iface)
	}
}

// writeConfig stores a config document.
func (r *rig) writeConfig(doc map[string]any) {
	r.t.Helper()
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(r.cfgPath, b, 0o600); err != nil {
		r.t.Fatal(err)
	}
}

// startNetctl runs cmd/netctl in the box namespace.
func (r *rig) startNetctl() {
	r.t.Helper()
	cmd := exec.Command("ip", "netns", "exec", r.box, netctlBinary(r.t), "--debug",
		"--config", r.cfgPath, "--socket", r.sock, "--resolv-conf", r.resolv,
		"--sms-dir", filepath.Join(r.dir, "sms"),
		"--iface", "wan=wan0", "--iface", "lan1=lan0")
	cmd.Args = append(cmd.Args, r.netctlArgs...)
	cmd.Env = append(os.Environ(), "EDGEBOX_RUN_DIR="+r.dir, "EDGEBOX_PERM_DIR="+r.dir)
	cmd.Stdout, cmd.Stderr = r.log, r.log
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.proc = cmd
	r.procDone = make(chan struct{})
	go func() { cmd.Wait(); close(r.procDone) }()
	r.t.Cleanup(func() {
		r.stopNetctl()
		if r.t.Failed() {
			r.t.Logf("netctl log:\n%s", r.log.String())
			for k, v := range r.dnsmasqLogs {
				r.t.Logf("dnsmasq %s log (tail):\n%s", k, testenv.Tail(v.String(), 3000))
			}
		}
	})
	r.waitFor("API socket", 20*time.Second, func() (bool, string) {
		_, err := r.client.Status(context.Background())
		return err == nil, fmt.Sprint(err)
	})
}

// stopNetctl sends SIGTERM and waits for a clean exit.
func (r *rig) stopNetctl() {
	if r.proc == nil {
		return
	}
	r.proc.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.procDone:
	case <-time.After(20 * time.Second):
		r.proc.Process.Kill()
		<-r.procDone
		r.t.Errorf("netctl did not stop on SIGTERM")
	}
	r.proc = nil
}

// waitFor fails the test unless cond holds within timeout.
func (r *rig) waitFor(what string, timeout time.Duration, cond func() (bool, string)) {
	r.t.Helper()
	testenv.WaitFor(r.t, timeout, what, testenv.Why(cond))
}

func (r *rig) status() netctl.Status {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := r.client.Status(ctx)
	if err != nil {
		r.t.Fatalf("status: %v", err)
	}
	return st
}

func uplink(st netctl.Status, name string) netctl.UplinkStatus {
	for _, u := range st.Uplinks {
		if u.Name == name {
			return u
		}
	}
	return netctl.UplinkStatus{}
}

// defaultRoute returns the device of the box's preferred route to the
// internet server.
func (r *rig) defaultRoute() string {
	routes, err := r.boxH.RouteGet(net.ParseIP(internetIP))
	if err != nil || len(routes) == 0 {
		return fmt.Sprint("none: ", err)
	}
	l, err := r.boxH.LinkByIndex(routes[0].LinkIndex)
	if err != nil {
		return "?"
	}
	return l.Attrs().Name
}

// setCarrier raises or lowers the carrier the box sees on a veth by
// switching its peer in the inet namespace.
func (r *rig) setCarrier(peer string, up bool) {
	state := "down"
	if up {
		state = "up"
	}
	run(r.t, "ip", "-n", r.inet, "link", "set", peer, state)
}

// baseConfig: WAN by DHCP preferred, LTE on lte0 by DHCP as backup, one
// LAN port, fast timers.
func baseConfig() map[string]any {
	return map[string]any{
		"version": 1,
		"network": map[string]any{
			"lan":     []any{map[string]any{"role": "lan1", "address": lanBoxAddr + "/24"}},
			"wan":     map[string]any{"enabled": true, "method": "dhcp"},
			"modem":   map[string]any{"enabled": true, "port": "/dev/null-no-modem", "interface": "lte0", "method": "dhcp", "reset_after_sec": 0},
			"uplinks": []any{"wan", "modem"},
			"health":  map[string]any{"targets": []any{"icmp:" + internetIP}, "interval_sec": 1, "timeout_sec": 1, "fail_after_sec": 3, "failback_after_sec": 2},
			"firewall": map[string]any{"open_udp": []any{"1194", "5060", "10000-10010"}, "open_tcp": []any{"5061"},
				"management_tcp": []any{"22", "80", "443"}, "vpn_interfaces": []any{"tun*"}},
			"router": true,
		},
	}
}

var sighup = syscall.SIGHUP

// TestMain runs more namespace tests at once than go test's default
// (-parallel GOMAXPROCS) and removes the binaries they built.
//
// A namespace test spends its time waiting on the box's timers (DHCP
// T1/T2 and lease expiry, health probes, modem reset and redial delays),
// not on the CPU: two at a time left the cores idle most of the suite.
// Each rig has its own namespaces, sockets and directory, so they do not
// meet. A -parallel given on the command line wins.
func TestMain(m *testing.M) {
	testenv.DefaultParallel(4 * runtime.GOMAXPROCS(0))
	code := m.Run()
	builds.Range(func(_, f any) bool {
		if p, err := f.(func() (string, error))(); err == nil {
			os.RemoveAll(filepath.Dir(p))
		}
		return true
	})
	os.Exit(code)
}
