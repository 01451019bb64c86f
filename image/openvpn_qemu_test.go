package image

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// TestQEMUOpenVPN proves that the image's own openvpn, run by the image's
// netctl, connects: the box gets online over the simulated LTE modem, the
// installer uploads a plain inline profile through the web API, and a real
// openvpn 2.6 server accepts the box. The server runs in a network
// namespace the test made, on its 127.0.0.1; QEMU's LTE network
// (user-mode, restrict=on) forwards only 10.64.64.9:1194 (guestfwd) to nc
// run inside that namespace, which connects to the server. The
// server's side then fetches the box's /healthz through the tunnel. A
// second, 2.0-era profile (user nobody, cipher BF-CBC) is converted on
// upload and connects with BF-CBC, which needs OpenSSL's legacy provider
// module in the image.
//
// The server pushes the company's DNS (dhcp-option DNS and DOMAIN
// corp.example), a dnsmasq on its tunnel address: the box's own lookups
// (the admin's DNS diagnostic) resolve the company's names through the
// tunnel and never ask it for other names (ovqSplitDNS).
//
// On the image before the fix every profile was refused: "failed to find
// UID for user root ... Exiting due to fatal error".
func TestQEMUOpenVPN(t *testing.T) {
	parallelQEMU(t)
	img := builtImage(t)
	testenv.RequireRoot(t, "ip") // a network namespace
	netns := testenv.NewNetns(t, fmt.Sprintf("edgebox-qemuovpn-%d", os.Getpid()))
	ns := netns.Name

	pki := newOVQPKI(t)
	server := startOVQServer(t, ns, pki)
	corpDNS := startOVQCorpDNS(t, netns)
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Fatalf("busybox (for nc; scripts/deps.sh installs it) is missing: %v", err)
	}
	// A "cmd:" guestfwd runs one nc per connection of the box; a "tcp:"
	// one would splice every connection onto a single stream to the
	// server, which then takes a new openvpn for the old one renegotiating.
	fwd := "tcp:10.64.64.9:1194-cmd:ip netns exec " + ns + " busybox nc 127.0.0.1 1194"

	disk := diskCopy(t, img, "")
	api := ovqBoot(t, disk, startTestModemsim(t, "huawei-me909s"), fwd)
	api.waitHealthy(t, 4*time.Minute)
	tok := ovqAdmin(t, api)

	// Online over LTE first: netctl runs openvpn only while an uplink is up.
	if _, err := api.call("POST", "/api/v1/config/set", tok, map[string]any{
		"settings": map[string]any{"network.modem.apn": "internet"}}, nil); err != nil {
		t.Fatal(err)
	}
	var netSt struct {
		Active string `json:"active"`
	}
	if err := testenv.UntilEvery(3*time.Minute, time.Second, "LTE up through the simulated modem", func() (bool, error) {
		api.call("GET", "/api/v1/local/netctl/v1/status", tok, nil, &netSt)
		return netSt.Active == "modem", fmt.Errorf("network status %+v", netSt)
	}); err != nil {
		t.Fatal(err)
	}

	if code, body := ovqUpload(t, api, tok, "field.ovpn", pki.profile()); code != http.StatusOK {
		t.Fatalf("profile upload: %d %s", code, body)
	}
	addr := ovqWaitConnected(t, api, tok, server, 1)
	t.Logf("VPN connected, tunnel address %s", addr)
	ovqHealthzThroughTunnel(t, ns, addr)
	ovqSplitDNS(t, api, tok, corpDNS, addr)

	// A 2.0-era profile: no user database for "user nobody", and BF-CBC,
	// which needs OpenSSL's legacy provider module in the image. The
	// server prefers BF-CBC when the client offers it.
	code, body := ovqUpload(t, api, tok, "tg200.ovpn", pki.legacyProfile())
	if code != http.StatusOK {
		t.Fatalf("legacy profile upload: %d %s", code, body)
	}
	if !strings.Contains(body, "converted for openvpn 2.6") || !strings.Contains(body, "user nobody") {
		t.Errorf("upload result does not show the conversions: %s", body)
	}
	addr = ovqWaitConnected(t, api, tok, server, 2)
	// The server names the data cipher just after the box saw the push.
	testenv.WaitFor(t, 30*time.Second, "the second connection using BF-CBC", func() (bool, error) {
		log := server.String()
		second := log[strings.Index(log, "Peer Connection Initiated")+1:]
		return strings.Contains(second, "Data Channel: cipher 'BF-CBC'"), fmt.Errorf("server:\n%s", log)
	})
	t.Logf("VPN connected with BF-CBC, tunnel address %s", addr)
	ovqHealthzThroughTunnel(t, ns, addr)
}

// ovqWaitConnected waits until the box's VPN is up and the server has
// seen it connect n times, and returns its tunnel address.
func ovqWaitConnected(t *testing.T, api *ovqAPI, tok string, server *ovqServer, n int) string {
	t.Helper()
	var vpn struct {
		State         string `json:"state"`
		TunnelAddress string `json:"tunnel_address"`
		LastError     string `json:"last_error"`
	}
	if err := testenv.UntilEvery(3*time.Minute, time.Second, "VPN connected", func() (bool, error) {
		api.call("GET", "/api/v1/local/netctl/v1/vpn/status", tok, nil, &vpn)
		if strings.Contains(vpn.LastError, "failed to find UID") {
			return false, testenv.Final(fmt.Errorf("openvpn cannot run in the image: %s", vpn.LastError))
		}
		return vpn.State == "CONNECTED" && vpn.TunnelAddress != "" && strings.Count(server.String(), "Peer Connection Initiated") >= n,
			fmt.Errorf("%+v\nserver:\n%s", vpn, server.String())
	}); err != nil {
		t.Fatal(err)
	}
	return vpn.TunnelAddress
}

// ovqHealthzThroughTunnel is the admins' side: from the server's
// namespace, the box answers /healthz on its tunnel address.
func ovqHealthzThroughTunnel(t *testing.T, ns, addr string) {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: testenv.DialIn(ns)}}
	defer hc.CloseIdleConnections()
	var lastErr error
	for range 30 {
		resp, err := hc.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		lastErr = err
		time.Sleep(2 * time.Second)
	}
	t.Fatalf("box's /healthz not reachable through the tunnel: %v", lastErr)
}

// ovqAPI is the box's web API over HTTPS through QEMU's host forward
// (plain HTTP serves only /healthz and the start page).
type ovqAPI struct {
	vm   *VM
	base string
	c    *http.Client
}

func (a *ovqAPI) do(req *http.Request) (int, string, error) {
	resp, err := a.c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), nil
}

func (a *ovqAPI) call(method, path, tok string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, a.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	code, data, err := a.do(req)
	if err != nil {
		return 0, err
	}
	if code >= 300 {
		return code, fmt.Errorf("%s %s: %d %s", method, path, code, data)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(data), out); err != nil {
			return code, fmt.Errorf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return code, nil
}

// waitHealthy polls /healthz until every service of the box runs.
func (a *ovqAPI) waitHealthy(t *testing.T, timeout time.Duration) {
	t.Helper()
	if err := testenv.UntilEvery(timeout, 500*time.Millisecond, "box healthy", func() (bool, error) {
		var h struct {
			OK       bool              `json:"ok"`
			Services []json.RawMessage `json:"services"`
		}
		_, err := a.call("GET", "/healthz", "", nil, &h)
		if err == nil && h.OK && len(h.Services) > 0 {
			return true, nil
		}
		if a.vm.Exited() {
			return false, testenv.Final(fmt.Errorf("the VM exited; last answer: %v %v", err, h.OK))
		}
		return false, fmt.Errorf("last answer: %v %v", err, h.OK)
	}); err != nil {
		t.Fatal(err)
	}
}

// ovqBoot boots the disk with the simulated modem and the web UI's HTTPS
// port forwarded.
func ovqBoot(t *testing.T, disk, modemSock, lteGuestFwd string) *ovqAPI {
	t.Helper()
	sport, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	vm, err := StartVM(VMOptions{Disk: disk, HTTPSPort: sport, ModemSocket: modemSock, LTEGuestFwd: lteGuestFwd,
		ConsoleLog: filepath.Join(t.TempDir(), "console.log")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !vm.Exited() {
			vm.Kill()
		}
		if t.Failed() {
			t.Logf("serial console:\n%s", vm.Console())
		}
	})
	// The box's certificate is its own, made on first boot; the test
	// talks to its own VM over loopback.
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	t.Cleanup(tr.CloseIdleConnections)
	return &ovqAPI{vm: vm, base: fmt.Sprintf("https://127.0.0.1:%d", sport), c: &http.Client{Timeout: 90 * time.Second, Transport: tr}}
}

// ovqAdmin sets the admin password on the blank box and returns an API token.
func ovqAdmin(t *testing.T, api *ovqAPI) string {
	t.Helper()
	if _, err := api.call("POST", "/api/v1/setup", "", map[string]string{"password": "installer-secret-1"}, nil); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", api.base+"/api/v1/tokens", strings.NewReader(`{"name":"openvpn-test","scope":"admin"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("admin", "installer-secret-1")
	code, data, err := api.do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Token string `json:"token"`
	}
	json.Unmarshal([]byte(data), &tok)
	if tok.Token == "" {
		t.Fatalf("no API token: %d %s", code, data)
	}
	return tok.Token
}

// ovqUpload sends a profile as the setup page does.
func ovqUpload(t *testing.T, api *ovqAPI, tok, name, profile string) (int, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("profile", name)
	io.WriteString(fw, profile)
	mw.Close()
	req, _ := http.NewRequest("POST", api.base+"/api/v1/vpn/profile", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+tok)
	code, data, err := api.do(req)
	if err != nil {
		t.Fatalf("profile upload: %v", err)
	}
	return code, data
}

// ovqPKI is a throwaway CA, server and client certificate.
type ovqPKI struct {
	dir                  string
	ca, cliCert, cliKey  string
	srvCertFile, srvKeyF string
}

func newOVQPKI(t *testing.T) *ovqPKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "qemu openvpn test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	issue := func(cn string, serial int64, eku x509.ExtKeyUsage) (string, string) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement, ExtKeyUsage: []x509.ExtKeyUsage{eku}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kd, _ := x509.MarshalPKCS8PrivateKey(k)
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
			string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}))
	}
	p := &ovqPKI{dir: t.TempDir(), ca: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))}
	srvCert, srvKey := issue("server", 2, x509.ExtKeyUsageServerAuth)
	p.cliCert, p.cliKey = issue("edgebox-qemu", 3, x509.ExtKeyUsageClientAuth)
	p.srvCertFile, p.srvKeyF = filepath.Join(p.dir, "server.crt"), filepath.Join(p.dir, "server.key")
	for name, data := range map[string]string{"ca.crt": p.ca, "server.crt": srvCert, "server.key": srvKey} {
		if err := os.WriteFile(filepath.Join(p.dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// profile is the plain inline .ovpn an admin exports for the box.
func (p *ovqPKI) profile() string {
	return strings.Join([]string{
		"client", "dev tun", "proto tcp-client", "remote 10.64.64.9 1194", "nobind",
		"remote-cert-tls server", "data-ciphers AES-256-GCM", "verb 3",
		"<ca>", strings.TrimSpace(p.ca), "</ca>",
		"<cert>", strings.TrimSpace(p.cliCert), "</cert>",
		"<key>", strings.TrimSpace(p.cliKey), "</key>",
	}, "\n") + "\n"
}

// legacyProfile is the same box's profile as an OpenVPN 2.0-era client
// config wrote it: CRLF, user/group and a BF-CBC cipher.
func (p *ovqPKI) legacyProfile() string {
	return strings.Join([]string{
		"client", "dev tun", "proto tcp-client", "remote 10.64.64.9 1194", "nobind",
		"user nobody", "group nogroup", "persist-key", "persist-tun",
		"remote-cert-tls server", "cipher BF-CBC", "verb 3",
		"<ca>", strings.TrimSpace(p.ca), "</ca>",
		"<cert>", strings.TrimSpace(p.cliCert), "</cert>",
		"<key>", strings.TrimSpace(p.cliKey), "</key>",
	}, "\r\n") + "\r\n"
}

// ovqServer is Debian's openvpn as the admins' server, inside ns: its
// output, collected as the field day's peers' logs are.
type ovqServer struct{ testenv.LogBuffer }

func startOVQServer(t *testing.T, ns string, p *ovqPKI) *ovqServer {
	t.Helper()
	conf := strings.Join([]string{
		"dev tun", "proto tcp-server", "local 127.0.0.1", "port 1194",
		"server 10.8.77.0 255.255.255.0", "topology subnet",
		"ca " + filepath.Join(p.dir, "ca.crt"), "cert " + p.srvCertFile, "key " + p.srvKeyF,
		"dh none", "keepalive 5 30", "verb 3",
		// The company's DNS: a dnsmasq on the server's tunnel address.
		`push "dhcp-option DNS ` + ovqCorpDNSAddr + `"`, `push "dhcp-option DOMAIN corp.example"`,
		// BF-CBC first: chosen whenever the client offers it.
		"providers legacy default", "data-ciphers BF-CBC:AES-256-GCM",
	}, "\n") + "\n"
	cfg := filepath.Join(p.dir, "server.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &ovqServer{}
	proc := testenv.Command(t, "ip", "netns", "exec", ns, "/usr/sbin/openvpn", "--config", cfg)
	proc.Cmd.Stdout, proc.Cmd.Stderr = s, s
	proc.Start() // killed when the test ends
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("openvpn server:\n%s", s.String())
		}
	})
	testenv.WaitFor(t, 20*time.Second, "openvpn server up", func() (bool, error) {
		select {
		case <-proc.Done():
			return false, testenv.Final(fmt.Errorf("openvpn server exited:\n%s", s.String()))
		default:
		}
		return s.Contains("Initialization Sequence Completed"), fmt.Errorf("its output:\n%s", s.String())
	})
	return s
}

// The company's DNS server (on the openvpn server's own tunnel address)
// and what it answers: the PBX, and a public name with an address only it
// gives, so a query that went to it instead of the uplink's DNS shows.
const (
	ovqCorpDNSAddr = "10.8.77.1"
	ovqPBXAddr     = "10.8.77.50"
	ovqPublicName  = "www.example.org"
	ovqCorpPublic  = "10.66.66.66"
)

// startOVQCorpDNS runs Debian's dnsmasq in the server's namespace on
// its tunnel address (listening once openvpn has made tun0), logging
// every query it gets.
func startOVQCorpDNS(t *testing.T, ns *testenv.Netns) *testenv.Proc {
	t.Helper()
	p := ns.Command("/usr/sbin/dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
		"--bind-dynamic", "--listen-address="+ovqCorpDNSAddr, "--except-interface=lo",
		"--address=/pbx.corp.example/"+ovqPBXAddr, "--address=/"+ovqPublicName+"/"+ovqCorpPublic,
		"--pid-file="+filepath.Join(t.TempDir(), "dnsmasq.pid"), "--log-facility=-", "--log-queries").Start()
	testenv.WaitFor(t, 10*time.Second, "dnsmasq in the server's namespace", func() (bool, error) {
		return p.Log.Contains("started"), fmt.Errorf("its output:\n%s", p.Log.String())
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("company DNS (dnsmasq):\n%s", p.Log.String())
		}
	})
	return p
}

// ovqSplitDNS checks the pushed DNS on the box: the VPN status shows it
// as split DNS for corp.example; the admin's DNS diagnostic (the box's own
// resolver, through resolv.conf) resolves pbx.corp.example with the
// company's server, which got the query from the box's tunnel address;
// a public name is never asked of the company's server.
func ovqSplitDNS(t *testing.T, api *ovqAPI, tok string, corpDNS *testenv.Proc, tunnelAddr string) {
	t.Helper()
	// The dashboard's status (GET /api/v1/status, its VPN card's DNS line).
	var st struct {
		VPN struct {
			DNS *struct {
				Servers []string `json:"servers"`
				Domains []string `json:"domains"`
				Use     string   `json:"use"`
				Note    string   `json:"note"`
			} `json:"dns"`
		} `json:"vpn"`
	}
	if _, err := api.call("GET", "/api/v1/status", tok, nil, &st); err != nil {
		t.Fatal(err)
	}
	if d := st.VPN.DNS; d == nil || !slices.Equal(d.Servers, []string{ovqCorpDNSAddr}) || !slices.Equal(d.Domains, []string{"corp.example"}) || d.Use != "split" {
		t.Fatalf("VPN status does not show the pushed DNS as split DNS for corp.example: %+v", d)
	}
	diagDNS := func(name string) ([]string, error) {
		var res struct {
			Lines []string `json:"lines"`
		}
		_, err := api.call("POST", "/api/v1/diag", tok, map[string]string{"tool": "dns", "target": name}, &res)
		return res.Lines, err
	}
	// Go's resolver rereads resolv.conf at most every 5 s.
	if err := testenv.UntilEvery(30*time.Second, 2*time.Second, "the box resolving pbx.corp.example through the VPN", func() (bool, error) {
		lines, err := diagDNS("pbx.corp.example")
		return err == nil && slices.Contains(lines, "  "+ovqPBXAddr), fmt.Errorf("diagnostic: %q %v", lines, err)
	}); err != nil {
		t.Fatal(err)
	}
	if !corpDNS.Log.Contains("pbx.corp.example from " + tunnelAddr) {
		t.Errorf("the company's DNS did not get the query from the box's tunnel address %s:\n%s", tunnelAddr, corpDNS.Log.String())
	}
	// The pushed DOMAIN is a search domain of the box's own lookups: a
	// config naming the PBX "pbx", as the office's PCs do, resolves.
	if lines, err := diagDNS("pbx"); err != nil || !slices.Contains(lines, "  "+ovqPBXAddr) {
		t.Errorf("the short name pbx on the box: %q %v, want pbx.corp.example's %s", lines, err, ovqPBXAddr)
	}

	// QEMU's restricted LTE network gives the box no DNS server (its DHCP
	// offers none), so the uplink's side answers nothing here: the
	// forwarder asking it is TestOwnLookupsSplitForVPN's, on the host.
	lines, err := diagDNS(ovqPublicName)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(lines, "\n"), ovqCorpPublic) || corpDNS.Log.Contains(ovqPublicName) {
		t.Errorf("%s went to the company's DNS: %q\ncompany DNS:\n%s", ovqPublicName, lines, corpDNS.Log.String())
	}
	t.Logf("%s on the box without an uplink DNS server: %q", ovqPublicName, lines)
}
