package image

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"

	"edgebox/internal/testenv"
)

// The field day's networks. Every address lives only inside the
// namespaces the rig makes (named with the test's pid); the box's three
// NICs are taps in the "box" namespace, each bridged to a veth whose other
// end is the peer network:
//
//	box eth0 (LAN)  ── lan ns:     the installer's laptop 192.168.1.50
//	box eth1 (WAN)  ── inet ns:    the ISP router 10.77.0.1 (dnsmasq DHCP),
//	                               "the internet" 203.0.113.10 (openvpn
//	                               server, the portal, the customer's Chromium)
//	box usb0 (LTE)  ── carrier ns: the carrier's gateway 10.64.64.1 (dnsmasq
//	                               DHCP), routed to inet over 172.30.0.0/30
//	inet ── pbx ns 172.31.0.2:     Kamailio :5060 and the SIPp agent :5070
const (
	fdLANClient  = "192.168.1.50"
	fdBoxLAN     = "192.168.1.1"
	fdWANNet     = "10.77.0"
	fdLTENet     = "10.64.64"
	fdInternet   = "203.0.113.10"
	fdPBX        = "172.31.0.2"
	fdPBXPort    = 5060
	fdAgentPort  = 5070
	fdTunnelNet  = "10.8.0"
	fdTrunkUser  = "trunkuser"
	fdTrunkPass  = "trunk-secret-7"
	fdAdminPass  = "installer-secret-1"
	fdPortalName = "portal"
)

// fieldRig is the field day's world around the box.
type fieldRig struct {
	t                        testing.TB
	dir                      string
	box, lan, inet, lte, pbx string // namespace names
	agentLogs                string
	agent                    *testenv.Proc
	nets                     map[string]*testenv.Netns
	mu                       sync.Mutex
	logs                     map[string]*testenv.LogBuffer
}

func fdRun(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// newFieldRig makes the namespaces, links and routes (no servers yet).
func newFieldRig(t testing.TB) *fieldRig {
	t.Helper()
	testenv.RequireRoot(t, "ip", "/usr/sbin/dnsmasq", "/usr/sbin/openvpn", "/usr/sbin/kamailio", "sipp", "/usr/bin/chromium")
	tag := fmt.Sprintf("fd%d-%d", os.Getpid()%100000, fdRuns.Add(1))
	r := &fieldRig{t: t, dir: t.TempDir(), logs: map[string]*testenv.LogBuffer{}, nets: map[string]*testenv.Netns{},
		box: tag + "-box", lan: tag + "-lan", inet: tag + "-inet", lte: tag + "-lte", pbx: tag + "-pbx"}
	for _, ns := range []string{r.box, r.lan, r.inet, r.lte, r.pbx} {
		// deleted with the test, its processes killed first
		r.nets[ns] = testenv.NewNetns(t, ns)
	}
	// The box's three cables: tap <-> bridge <-> veth into the peer.
	for _, c := range []struct{ name, peerNS, peerIf, addr string }{
		{"lan", r.lan, "lan0", ""}, // the laptop asks the box for an address
		{"wan", r.inet, "wan0", fdWANNet + ".1/24"},
		{"lte", r.lte, "lte0", fdLTENet + ".1/24"},
	} {
		tap, br, veth := "tap"+c.name, "br"+c.name, "v"+c.name
		fdRun(t, "ip", "-n", r.box, "tuntap", "add", "dev", tap, "mode", "tap")
		fdRun(t, "ip", "-n", r.box, "link", "add", br, "type", "bridge")
		fdRun(t, "ip", "-n", r.box, "link", "add", veth, "type", "veth", "peer", "name", c.peerIf, "netns", c.peerNS)
		for _, dev := range []string{tap, veth} {
			fdRun(t, "ip", "-n", r.box, "link", "set", dev, "master", br)
			fdRun(t, "ip", "-n", r.box, "link", "set", dev, "up")
		}
		fdRun(t, "ip", "-n", r.box, "link", "set", br, "up")
		if c.addr != "" {
			fdRun(t, "ip", "-n", c.peerNS, "addr", "add", c.addr, "dev", c.peerIf)
		}
		fdRun(t, "ip", "-n", c.peerNS, "link", "set", c.peerIf, "up")
	}
	// The internet: a server address, the carrier's and the PBX's links.
	fdRun(t, "ip", "-n", r.inet, "addr", "add", fdInternet+"/32", "dev", "lo")
	fdRun(t, "ip", "-n", r.inet, "link", "add", "carrier0", "type", "veth", "peer", "name", "up0", "netns", r.lte)
	fdRun(t, "ip", "-n", r.inet, "addr", "add", "172.30.0.1/30", "dev", "carrier0")
	fdRun(t, "ip", "-n", r.lte, "addr", "add", "172.30.0.2/30", "dev", "up0")
	fdRun(t, "ip", "-n", r.inet, "link", "add", "pbxlink0", "type", "veth", "peer", "name", "pbx0", "netns", r.pbx)
	fdRun(t, "ip", "-n", r.inet, "addr", "add", "172.31.0.1/24", "dev", "pbxlink0")
	fdRun(t, "ip", "-n", r.pbx, "addr", "add", fdPBX+"/24", "dev", "pbx0")
	for _, l := range [][2]string{{r.inet, "carrier0"}, {r.lte, "up0"}, {r.inet, "pbxlink0"}, {r.pbx, "pbx0"}} {
		fdRun(t, "ip", "-n", l[0], "link", "set", l[1], "up")
	}
	for _, ns := range []string{r.inet, r.lte} {
		fdRun(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	}
	fdRun(t, "ip", "-n", r.inet, "route", "add", fdLTENet+".0/24", "via", "172.30.0.2")
	fdRun(t, "ip", "-n", r.lte, "route", "add", "default", "via", "172.30.0.1")
	fdRun(t, "ip", "-n", r.pbx, "route", "add", "default", "via", "172.31.0.1")
	return r
}

// start runs a process in namespace ns; it is killed (with its process
// group) when the test ends. Its output is kept under name.
func (r *fieldRig) start(name, ns string, args ...string) *testenv.Proc {
	r.t.Helper()
	p := r.nets[ns].Command(args[0], args[1:]...)
	p.Cmd.Dir = r.dir
	p.Start()
	r.mu.Lock()
	r.logs[name] = p.Log
	r.mu.Unlock()
	return p
}

func (r *fieldRig) log(name string) string {
	r.mu.Lock()
	b := r.logs[name]
	r.mu.Unlock()
	if b == nil {
		return ""
	}
	return b.String()
}

// startDHCP runs dnsmasq as the ISP's or the carrier's DHCP server.
func (r *fieldRig) startDHCP(name, ns, iface, subnet string) {
	r.start(name, ns, "/usr/sbin/dnsmasq", "--no-daemon", "--conf-file=/dev/null",
		"--port=0", "--no-resolv", "--no-hosts", "--bind-interfaces", "--interface="+iface, "--except-interface=lo",
		"--dhcp-range="+subnet+".100,"+subnet+".150,255.255.255.0,10m",
		"--dhcp-option=option:router,"+subnet+".1",
		"--dhcp-leasefile="+filepath.Join(r.dir, name+".leases"),
		"--pid-file="+filepath.Join(r.dir, name+".pid"),
		"--log-dhcp", "--log-facility=-", "--dhcp-authoritative")
}

// startPBX runs Kamailio in the pbx namespace: registrar for the box's
// trunk and authenticating proxy; the agent (SIPp, no REGISTER of its
// own) is reached at a fixed address.
func (r *fieldRig) startPBX() {
	r.t.Helper()
	k := testenv.Kamailio(r.t, r.nets[r.pbx], testenv.KamailioOptions{
		Host: fdPBX, Port: fdPBXPort, Realm: "edgebox-fieldday",
		Users:  map[string]string{fdTrunkUser: fdTrunkPass},
		Static: map[string]string{"agent": fmt.Sprintf("%s:%d", fdPBX, fdAgentPort)},
	})
	r.mu.Lock()
	r.logs["kamailio"] = k.Proc.Log
	r.mu.Unlock()
}

// startAgent runs the SIPp agent for one echoed call behind Kamailio.
func (r *fieldRig) startAgent() {
	r.t.Helper()
	scen, _ := filepath.Abs(filepath.Join("testdata", "fieldday_agent.xml"))
	r.agentLogs = filepath.Join(r.dir, "sipp")
	os.MkdirAll(r.agentLogs, 0o755)
	sippBin, _ := exec.LookPath("sipp")
	r.agent = r.start("sipp", r.pbx, "sh", "-c", fmt.Sprintf("cd %s && exec %s -sf %s -i %s -p %d -mi %s -mp 16000 -rtp_echo -m 1 -trace_err -trace_msg -nostdin -timeout 180s -timeout_error",
		r.agentLogs, sippBin, scen, fdPBX, fdAgentPort, fdPBX))
}

// waitAgent waits for SIPp's one call to end and wants it successful
// (exit status 0: every step of the scenario passed).
func (r *fieldRig) waitAgent(timeout time.Duration) error {
	select {
	case <-r.agent.Done():
		if err := r.agent.Err(); err != nil {
			return fmt.Errorf("the SIPp agent: %v (a scenario step failed)\n%s", err, r.agentTraces())
		}
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("the SIPp agent did not finish its call within %v\n%s", timeout, r.agentTraces())
	}
}

func execOut(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// agentTraces is SIPp's message and error traces, for failures.
func (r *fieldRig) agentTraces() string {
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(r.agentLogs, "*"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		fmt.Fprintf(&b, "--- %s\n%s\n", filepath.Base(f), testenv.Tail(string(data), 4000))
	}
	return b.String()
}

// fdPKI is a throwaway CA for the VPN.
type fdPKI struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	CA     string
	serial int64
}

func newFDPKI(t testing.TB) *fdPKI {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "field day VPN CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &fdPKI{cert: cert, key: key, CA: fdPEM("CERTIFICATE", der), serial: 1}
}

func (p *fdPKI) issue(t testing.TB, cn string, server bool) (cert, key string) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p.serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &k.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(k)
	return fdPEM("CERTIFICATE", der), fdPEM("PRIVATE KEY", kder)
}

func fdPEM(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func fdStaticKey() string {
	b := make([]byte, 256)
	rand.Read(b)
	h := hex.EncodeToString(b)
	var s strings.Builder
	s.WriteString("-----BEGIN OpenVPN Static key V1-----\n")
	for i := 0; i < len(h); i += 32 {
		s.WriteString(h[i:i+32] + "\n")
	}
	s.WriteString("-----END OpenVPN Static key V1-----\n")
	return s.String()
}

// startVPN runs the company's openvpn server on the internet address and
// returns the .ovpn profile the installer uploads.
func (r *fieldRig) startVPN() string {
	r.t.Helper()
	profile, _ := r.startVPNWith(fdVPNOptions{})
	return profile
}

// fdVPNOptions vary the VPN server and profile from the field day's.
type fdVPNOptions struct {
	remote      string // the profile's remote host; default the internet address
	noKeepalive bool   // a server that pushes no ping-restart (many old setups)
}

// startVPNWith is startVPN with options; it also returns the server.
func (r *fieldRig) startVPNWith(o fdVPNOptions) (string, *testenv.Proc) {
	r.t.Helper()
	if o.remote == "" {
		o.remote = fdInternet
	}
	keepalive := "keepalive 2 10"
	if o.noKeepalive {
		keepalive = "# no keepalive"
	}
	pki := newFDPKI(r.t)
	scert, skey := pki.issue(r.t, "vpn.fieldday.test", true)
	ccert, ckey := pki.issue(r.t, "edgebox-fieldday", false)
	tc := fdStaticKey()
	dir := filepath.Join(r.dir, "vpn")
	os.MkdirAll(dir, 0o700)
	for name, data := range map[string]string{"ca.crt": pki.CA, "server.crt": scert, "server.key": skey, "tc.key": tc} {
		os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600)
	}
	conf := strings.Join([]string{
		"dev tun", "proto udp4", "local " + fdInternet, "port 1194",
		"server " + fdTunnelNet + ".0 255.255.255.0", "topology subnet",
		"ca " + dir + "/ca.crt", "cert " + dir + "/server.crt", "key " + dir + "/server.key",
		"dh none", "tls-crypt " + dir + "/tc.key",
		// Short keepalive so that the box notices a moved uplink soon.
		keepalive, "data-ciphers AES-256-GCM:CHACHA20-POLY1305", "verb 3",
	}, "\n") + "\n"
	os.WriteFile(filepath.Join(dir, "server.conf"), []byte(conf), 0o600)
	vpn := r.start("openvpn", r.inet, "/usr/sbin/openvpn", "--config", filepath.Join(dir, "server.conf"))
	vpn.Log.WaitFor(r.t, 30*time.Second, "Initialization Sequence Completed")
	return strings.Join([]string{
		"client", "dev tun", "proto udp4", "remote " + o.remote + " 1194", "nobind",
		"remote-cert-tls server", "data-ciphers AES-256-GCM:CHACHA20-POLY1305", "verb 3",
		"<ca>", strings.TrimSpace(pki.CA), "</ca>",
		"<cert>", strings.TrimSpace(ccert), "</cert>",
		"<key>", strings.TrimSpace(ckey), "</key>",
		"<tls-crypt>", strings.TrimSpace(tc), "</tls-crypt>",
	}, "\n") + "\n", vpn
}

// lanDHCP is the installer's laptop asking for an address on the LAN: a
// real DHCP exchange (nclient4's raw socket is opened inside the lan
// namespace); the address it gets is put on lan0.
func (r *fieldRig) lanDHCP(timeout time.Duration) (string, error) {
	var c *nclient4.Client
	err := testenv.DoIn(r.lan, func() error {
		var err error
		c, err = nclient4.New("lan0", nclient4.WithTimeout(5*time.Second), nclient4.WithRetry(2))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("DHCP client on the LAN: %v", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var lease *nclient4.Lease
	for {
		if lease, err = c.Request(ctx); err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("no address from the box's DHCP server on the LAN within %v: %v", timeout, err)
	}
	ones, _ := lease.ACK.SubnetMask().Size()
	addr := fmt.Sprintf("%s/%d", lease.ACK.YourIPAddr, ones)
	if out, err := execOut("ip", "-n", r.lan, "addr", "replace", addr, "dev", "lan0"); err != nil {
		return "", fmt.Errorf("ip addr %s: %v %s", addr, err, out)
	}
	return addr, nil
}

// staticLAN gives the laptop a fixed address, as an installer does when
// the LAN has no DHCP.
func (r *fieldRig) staticLAN() {
	execOut("ip", "-n", r.lan, "addr", "replace", fdLANClient+"/24", "dev", "lan0")
}

// nsBrowser starts headless Chromium inside namespace ns (chromedp talks
// to it over its pipe, which `ip netns exec` passes on).
func (r *fieldRig) nsBrowser(ns string, timeout time.Duration) context.Context {
	r.t.Helper()
	wrapper := filepath.Join(r.dir, "chromium-"+ns+".sh")
	os.WriteFile(wrapper, []byte("#!/bin/sh\nexec ip netns exec "+ns+" /usr/bin/chromium \"$@\"\n"), 0o755)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(wrapper),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.NoFirstRun,
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(r.t.TempDir()),
		chromedp.WindowSize(1200, 900),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	r.t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	r.t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, timeout)
	r.t.Cleanup(cancel3)
	if err := chromedp.Do(ctx); err != nil {
		r.t.Fatalf("start chromium in %s: %v", ns, err)
	}
	return ctx
}

// drain reads a body fully (so errors in it show) and closes it.
func drain(rc io.ReadCloser) []byte {
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
	return b
}
