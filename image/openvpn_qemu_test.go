package image

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestQEMUOpenVPN proves that the image's own openvpn, run by the image's
// netctl, connects: the box gets online over the simulated LTE modem, the
// installer uploads a plain inline profile through the web API, and a real
// openvpn 2.6 server accepts the box. The server runs in a network
// namespace the test made, on its 127.0.0.1; QEMU's LTE network
// (user-mode, restrict=on) forwards only 10.64.64.9:1194 (guestfwd) to a
// relay on the host's 127.0.0.1, which dials into that namespace. Finally
// the server's side fetches the box's /healthz through the tunnel.
//
// On the image before the fix every profile was refused: "failed to find
// UID for user root ... Exiting due to fatal error".
func TestQEMUOpenVPN(t *testing.T) {
	img := builtImage(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	ns := fmt.Sprintf("edgebox-qemuovpn-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() {
		killNetnsProcs(ns)
		exec.Command("ip", "netns", "del", ns).Run()
	})
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v %s", err, out)
	}

	pki := newOVQPKI(t)
	server := startOVQServer(t, ns, pki)
	relay := ovqRelay(t, ns, "127.0.0.1:1194")
	ovqGuestFwd(t, fmt.Sprintf("tcp:10.64.64.9:1194-tcp:%s", relay))

	disk := diskCopy(t, img, "")
	b := bootBoxWithModem(t, disk, false, startTestModemsim(t, "huawei-me909s"))
	b.waitHealthy(4 * time.Minute)
	tok := ovqAdmin(t, b)

	// Online over LTE first: netctl runs openvpn only while an uplink is up.
	if _, err := b.call("POST", "/api/v1/config/set", tok, map[string]any{
		"settings": map[string]any{"network.modem.apn": "internet"}}, nil); err != nil {
		t.Fatal(err)
	}
	var netSt struct {
		Active string `json:"active"`
	}
	deadline := time.Now().Add(3 * time.Minute)
	for netSt.Active != "modem" {
		if time.Now().After(deadline) {
			t.Fatalf("LTE not up through the simulated modem: %+v", netSt)
		}
		time.Sleep(time.Second)
		b.call("GET", "/api/v1/local/netctl/v1/status", tok, nil, &netSt)
	}

	if code, body := ovqUpload(t, b, tok, "field.ovpn", pki.profile()); code != http.StatusOK {
		t.Fatalf("profile upload: %d %s", code, body)
	}
	var vpn struct {
		State         string `json:"state"`
		TunnelAddress string `json:"tunnel_address"`
		LastError     string `json:"last_error"`
	}
	deadline = time.Now().Add(3 * time.Minute)
	for vpn.State != "CONNECTED" || vpn.TunnelAddress == "" {
		if time.Now().After(deadline) {
			t.Fatalf("VPN not connected: %+v\nserver:\n%s", vpn, server.String())
		}
		if strings.Contains(vpn.LastError, "failed to find UID") {
			t.Fatalf("openvpn cannot run in the image: %s", vpn.LastError)
		}
		time.Sleep(time.Second)
		b.call("GET", "/api/v1/local/netctl/v1/vpn/status", tok, nil, &vpn)
	}
	t.Logf("VPN connected, tunnel address %s", vpn.TunnelAddress)

	// The admins' side: the box answers through the tunnel.
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return ovqDialInNetns(ns, addr)
		}}}
	var lastErr error
	for range 30 {
		resp, err := hc.Get("http://" + vpn.TunnelAddress + "/healthz")
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

// ovqAdmin sets the admin password on the blank box and returns an API token.
func ovqAdmin(t *testing.T, b *box) string {
	t.Helper()
	if _, err := b.call("POST", "/api/v1/setup", "", map[string]string{"password": "installer-secret-1"}, nil); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", b.http+"/api/v1/tokens", nil)
	req.SetBasicAuth("admin", "installer-secret-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		Token string `json:"token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	if tok.Token == "" {
		t.Fatalf("no API token: %s", resp.Status)
	}
	return tok.Token
}

// ovqUpload sends a profile as the setup page does.
func ovqUpload(t *testing.T, b *box, tok, name, profile string) (int, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("profile", name)
	io.WriteString(fw, profile)
	mw.Close()
	req, _ := http.NewRequest("POST", b.http+"/api/v1/vpn/profile", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := (&http.Client{Timeout: 90 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("profile upload: %v", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// ovqGuestFwd makes the QEMU the test starts forward one address of the
// LTE user-mode network: a qemu-system-x86_64 first in PATH appends the
// guestfwd rule to that network's -netdev and runs the real QEMU.
func ovqGuestFwd(t *testing.T, rule string) {
	t.Helper()
	real, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := "#!/bin/sh\n" +
		"for a in \"$@\"; do\n" +
		"  shift\n" +
		"  case \"$a\" in user,id=lte,*) a=\"$a,guestfwd=" + rule + "\";; esac\n" +
		"  set -- \"$@\" \"$a\"\n" +
		"done\n" +
		"exec " + real + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "qemu-system-x86_64"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
}

// ovqRelay listens on the host's 127.0.0.1 and joins each connection to
// target inside ns. It returns the listening address.
func ovqRelay(t *testing.T, ns, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := ovqDialInNetns(ns, target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, s)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(s, c); s.Close() }()
			go func() { defer wg.Done(); io.Copy(c, s); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// ovqDialInNetns connects to addr from inside ns: a locked thread enters
// the namespace, dials, and is thrown away with its goroutine.
func ovqDialInNetns(ns, addr string) (net.Conn, error) {
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			ch <- res{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- res{err: fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		ch <- res{c, err}
	}()
	r := <-ch
	return r.c, r.err
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

// ovqServer is Debian's openvpn as the admins' server, inside ns.
type ovqServer struct {
	mu  sync.Mutex
	out bytes.Buffer
}

func (s *ovqServer) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(b)
}

func (s *ovqServer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

func startOVQServer(t *testing.T, ns string, p *ovqPKI) *ovqServer {
	t.Helper()
	conf := strings.Join([]string{
		"dev tun", "proto tcp-server", "local 127.0.0.1", "port 1194",
		"server 10.8.77.0 255.255.255.0", "topology subnet",
		"ca " + filepath.Join(p.dir, "ca.crt"), "cert " + p.srvCertFile, "key " + p.srvKeyF,
		"dh none", "keepalive 5 30", "data-ciphers AES-256-GCM", "verb 3",
	}, "\n") + "\n"
	cfg := filepath.Join(p.dir, "server.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &ovqServer{}
	cmd := exec.Command("ip", "netns", "exec", ns, "/usr/sbin/openvpn", "--config", cfg)
	cmd.Stdout, cmd.Stderr = s, s
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("openvpn server:\n%s", s.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.String(), "Initialization Sequence Completed") {
		select {
		case <-done:
			t.Fatalf("openvpn server exited:\n%s", s.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("openvpn server did not come up:\n%s", s.String())
		}
	}
	return s
}
